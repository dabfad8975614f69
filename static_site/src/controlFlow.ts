// The control channel on the page (control.ts holds the pure parts; docs/api.md "Control channel" the contract).
//
// One listener per user per browser: the tab that renews for the user's tabs (tabs.ts's leader, or a tab on its own)
// keeps one subscription to each of the token's control topics (3 for a user, 2 for a guest), hidden or shown; the
// user's other tabs keep none. They run on a RoomHub of their own, so a new token moves them as it moves the rooms
// (the old stream closes once its replacement is live, and the new one resumes after the last item seen: nothing
// published meanwhile is missed), and a broken stream is retried with backoff. A message obeyed here (control.ts's
// parseControlMessage: an empty publisher id, a known event) goes to every tab of the user through tabs.ts's channel
// (`cutoff`), and each drops its token at once. The chat's rooms give way to these streams in the browser's
// connection budget (roomList.ts's roomBudget).

import {controlAction, type ControlChannel, parseControlMessage} from './control';
import {RoomHub, type HubDeps, type ReceivedItem, type TopicsPort} from './rooms';
import type {CutOff} from './tabs';
import type {VendedToken} from './tvm';

export interface ControlEvents {
  /** An operator's cut-off this page must obey (already checked: it came with an empty publisher id). */
  onCutOff(event: CutOff): void;
  /** Momento refused the token on a control stream: get a new one (the streams move to it). */
  onAuthError(): void;
  /** A control stream's state changed (the page's counters show it). */
  onChange(): void;
}

export class ControlListener {
  private readonly hub: RoomHub;
  private channel: ControlChannel | null = null;
  private listening = false;

  constructor(
    private readonly events: ControlEvents,
    deps: HubDeps,
  ) {
    this.hub = new RoomHub(
      {
        onMessage: item => this.onItem(item),
        onRoomStatus: () => this.events.onChange(), // shown nowhere but in the test hook; the hub retries by itself
        onAuthError: () => this.events.onAuthError(),
      },
      deps,
    );
  }

  /** A new token and its Momento client: the control streams move to it (its topics, which a rotated key renames). */
  setClient(port: TopicsPort, token: VendedToken): void {
    const channel = token.control;
    this.channel = channel;
    if (channel !== null) {
      this.hub.setClient(port, channel.cache, topic => channel.topics.includes(topic));
    }
    this.apply();
  }

  /** Listen (this tab renews for the user's tabs, or is on its own) or not (another tab of the user listens). */
  listen(on: boolean): void {
    this.listening = on;
    this.apply();
  }

  /** The hub's watchdog (silent or ended streams are replaced): called with the page's tick. */
  tick(): void {
    this.hub.tick();
  }

  /** Control streams open now in this tab (for the test hook). */
  get streams(): number {
    return this.hub.snapshot().reduce((sum, topic) => sum + topic.subscriptions, 0);
  }

  close(): void {
    this.listening = false;
    this.hub.close();
  }

  private apply(): void {
    this.hub.setRooms(this.listening && this.channel !== null ? this.channel.topics : []);
  }

  private onItem(item: ReceivedItem): void {
    const event = parseControlMessage(item.value, item.tokenId);
    const action = event === null ? null : controlAction(event);
    if (action !== null && this.listening) {
      this.events.onCutOff(action);
    }
  }
}

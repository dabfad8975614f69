// The chat: entering it with the first token, the rooms (join, select, leave, which ones are subscribed), what the
// hub and the tab report, and the page's listeners. Sending and "Why can't I send?" are in sendFlow.ts.
//
// Connection budget: browsers open about six HTTP/1.1 connections per host, for every tab of the browser together,
// and each subscription holds one. The visible tab keeps the open room and up to three recent ones (LIVE_ROOM_BUDGET);
// a hidden tab keeps none: its rooms' marks stay, and when it is shown again each room resumes right after the last
// message it showed (rooms.ts), so nothing is lost or repeated. Renewal goes on while hidden (it needs no stream).

import * as C from './chatState';
import {ControlListener} from './controlFlow';
import {decodeChatMessage} from './messages';
import {REVOKED_NOTICE, SIGNED_OUT_TEXT, signedOutText} from './notices';
import {TICK_MS} from './renewal';
import {DEFAULT_ROOM, normalizeRoomName, topicsForToken} from './roomList';
import {RoomHub, type ReceivedItem, type RoomStatus} from './rooms';
import type {Context} from './runtime';
import type {ActiveToken, SessionCredentials, SessionError, SessionStatus} from './session';
import type {CutOff, TabSession, TabSessionEvents} from './tabs';
import {canSubscribe, isPauseRefusal} from './tvm';
import {liveRooms} from './viewModel';

export const RECENT_ROOMS_KEY = 'momento-chat.recent-rooms';

/** What the chat needs of the sign-in flow: the status of token requests, and the way out. */
export interface SignOutPort {
  onStatus(status: SessionStatus): void;
  logout(notice: string | null): void;
  /** Paused by the operator: drop the token, keep `credentials`, and come back when the service is served again. */
  pause(credentials: SessionCredentials | null): void;
}

export class ChatFlow {
  /** Set once both flows exist (they refer to each other: sign-in enters the chat, the chat signs out). */
  signIn: SignOutPort | null = null;

  constructor(private readonly ctx: Context) {}

  private get store(): Context['store'] {
    return this.ctx.store;
  }

  /** The first token is here (signed in, or continued as another tab): the chat screen, the hub, the listeners. */
  enter(tab: TabSession, first: ActiveToken): void {
    const {handles, deps, renewal} = this.ctx;
    handles.tab = tab;
    const hub = new RoomHub(
      {
        onMessage: item => this.onMessage(item),
        onRoomStatus: (room, status, detail) => this.onRoomStatus(room, status, detail),
        onAuthError: () => renewal.rejected(),
      },
      deps.scheduler,
    );
    handles.hub = hub;
    handles.control = new ControlListener(
      {onCutOff: event => this.ctx.handles.tab?.cutOff(event), onAuthError: () => renewal.rejected(), onChange: () => this.render()},
      deps.scheduler,
    );
    this.installClient(first);
    tab.setShown(!deps.hidden());
    this.store.update(s => C.enterChat(s, first, s.recent[0] ?? DEFAULT_ROOM));
    this.afterOpen();
    handles.onStop(deps.scheduler.every(() => this.tick(), TICK_MS));
    const events = deps.events;
    if (events !== null) {
      this.listen(events.window, 'online', () => {
        hub.retryNow();
        renewal.wake(); // back online after a sleep, maybe
        this.render();
      });
      this.listen(events.window, 'offline', () => this.render());
      this.listen(events.document, 'visibilitychange', () => {
        if (!deps.hidden()) {
          renewal.wake(); // background tabs' timers are throttled, and a laptop may have slept
        }
        handles.tab?.setShown(!deps.hidden()); // the user's other tabs share the connections with the shown ones
        this.syncRooms(); // hidden: no subscription; shown: every room resumes where it stopped
        this.tick();
      });
      this.listen(events.window, 'pagehide', () => handles.tab?.bye());
    }
    this.tick();
  }

  private listen(target: EventTarget, type: string, listener: () => void): void {
    target.addEventListener(type, listener);
    this.ctx.handles.onStop(() => target.removeEventListener(type, listener));
  }

  /** Every TICK_MS: renewal's checks (renewal.ts), the hub's health, and the countdowns and states shown. */
  tick(): void {
    const state = this.store.state;
    this.ctx.renewal.tick(state.phase.kind === 'chat' ? state.phase.token : null);
    this.ctx.handles.hub?.tick();
    this.ctx.handles.control?.tick();
    this.render();
  }

  /** Renders what the hub, the tab and the browser say now (the store observes them at every update). */
  render(): void {
    this.store.update(s => s);
  }

  tabEvents(): TabSessionEvents {
    return {
      onToken: active => this.onToken(active),
      onStatus: status => this.signIn?.onStatus(status),
      onFatal: error => this.onFatal(error),
      onSignedOutElsewhere: () => this.signIn?.logout(SIGNED_OUT_TEXT),
      onCutOff: event => this.onCutOff(event),
      onShownTabs: () => this.syncRooms(),
      onRole: () => {
        this.listenForCutOff();
        this.render();
      },
    };
  }

  /** The tab that renews for the user's tabs (or one on its own) holds the control streams; the others none. */
  private listenForCutOff(): void {
    const tab = this.ctx.handles.tab;
    this.ctx.handles.control?.listen(tab !== null && tab.listensForCutOff);
  }

  /**
   * The operator cut this user off (heard by this tab, or by the one listening for the user's tabs): the token goes
   * at once, with every subscription. Revoked: signed out, with why. Paused: the credentials stay in memory, and the
   * page asks now and then whether the service is back (signInFlow.ts's pause).
   */
  onCutOff(event: CutOff): void {
    if (this.store.state.phase.kind !== 'chat') {
      return;
    }
    if (event === 'revoked') {
      this.signIn?.logout(REVOKED_NOTICE);
    } else {
      this.signIn?.pause(this.ctx.handles.tab?.sessionCredentials ?? null);
    }
  }

  onToken(active: ActiveToken): void {
    if (this.store.state.phase.kind !== 'chat' || this.ctx.handles.hub === null) {
      return;
    }
    this.installClient(active);
    this.store.update(s => C.renewed(s, active, this.ctx.deps.scheduler.wallNow()));
    this.syncRooms();
    this.ctx.waiters.settle(true);
  }

  onFatal(error: SessionError): void {
    if (isPauseRefusal(error) && this.store.state.phase.kind === 'chat') {
      // A renewal refused by a pause (its control message was missed): the same as hearing it.
      this.signIn?.pause(this.ctx.handles.tab?.sessionCredentials ?? null);
      return;
    }
    this.signIn?.logout(signedOutText(error, this.ctx.config.authMethod));
  }

  private installClient(active: ActiveToken): void {
    const hub = this.ctx.handles.hub;
    if (hub === null) {
      return;
    }
    const token = active.token;
    const cache = token.scope.topics?.cache ?? token.scope.cache;
    const port = this.ctx.deps.topics(token);
    hub.setClient(port, cache, room => canSubscribe(token, room));
    this.ctx.handles.control?.setClient(port, token);
    this.listenForCutOff();
  }

  private onMessage(item: ReceivedItem): void {
    const decoded = decodeChatMessage(item.value);
    const time = decoded.kind === 'chat' ? decoded.time : null;
    // item.receivedAtMs is on the session clock, not a date: a message without a time is dated by the wall clock.
    this.store.update(s => C.received(s, item, {text: decoded.text, raw: decoded.kind === 'raw', time}, this.ctx.deps.scheduler.wallNow()));
  }

  private onRoomStatus(room: string, status: RoomStatus, detail: string | null): void {
    this.store.update(s => C.roomStatus(s, room, status, detail));
  }

  join(input: string): void {
    const result = normalizeRoomName(input);
    if (!result.ok) {
      this.store.update(s => C.joinError(s, result.reason));
      return;
    }
    this.store.update(s => C.joinError(s, null));
    this.ctx.actions?.clearJoin();
    this.select(result.room);
  }

  select(room: string): void {
    this.store.update(s => C.selectRoom(s, room));
    this.afterOpen();
  }

  leave(room: string): void {
    this.ctx.handles.hub?.forget(room);
    this.store.update(s => C.leaveRoom(s, room));
    this.afterOpen();
  }

  /** A room was opened or left: remember the list, subscribe what is in budget, put the focus in the composer. */
  private afterOpen(): void {
    this.writeRecent();
    this.syncRooms();
    this.ctx.actions?.focusComposer();
  }

  /** Subscribes the rooms within budget that the token covers, and asks the session for a token covering the rest. */
  syncRooms(): void {
    this.render(); // what the browser says now (the tab hidden or shown) before the rooms are chosen from it
    const state = this.store.state;
    if (state.phase.kind !== 'chat') {
      return;
    }
    const live = liveRooms(state);
    const token = state.phase.token.token;
    this.ctx.handles.hub?.setRooms(live.filter(room => canSubscribe(token, room)));
    this.ctx.handles.tab?.setTopics(topicsForToken(state.phase.active, state.recent));
    this.store.update(s => C.keepRoomStatus(s, live));
  }

  /** Recent room NAMES only, never credentials or tokens. */
  private writeRecent(): void {
    try {
      this.ctx.deps.storage?.setItem(RECENT_ROOMS_KEY, JSON.stringify(this.store.state.recent));
    } catch {
      // storage full or disabled: the list just isn't remembered
    }
  }
}


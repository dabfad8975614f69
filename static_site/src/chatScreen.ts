// The chat screen: the regions (layout and drawer, room list, message log, composer, account), each updated from
// the view model; and the one-shot actions the flows ask for (the focus, a form emptied).

import {AccountView} from './accountView';
import {ComposerView} from './composerView';
import {el} from './dom';
import {LayoutView} from './layoutView';
import {MessageLogView} from './messageLogView';
import {RoomListView} from './roomListView';
import type {ChatActions} from './runtime';
import type {ChatVm} from './viewModel';

/** What the person does in the chat (chatFlow.ts, sendFlow.ts and signInFlow.ts answer). */
export interface ChatIntents {
  join(input: string): void;
  select(room: string): void;
  leave(room: string): void;
  send(text: string): void;
  typing(): void;
  logout(): void;
  /** "Why can't I send?": ask the TVM what a token for the open room would grant. */
  explain(): void;
}

export class ChatScreen implements ChatActions {
  private readonly layout: LayoutView;
  private readonly rooms: RoomListView;
  private readonly log: MessageLogView;
  private readonly composer: ComposerView;
  private readonly account: AccountView;

  constructor(root: HTMLElement, me: ChatVm['me'], intents: ChatIntents) {
    this.account = new AccountView(me, intents);
    this.rooms = new RoomListView(intents);
    this.log = new MessageLogView(room => intents.leave(room));
    this.composer = new ComposerView(intents);
    const main = el('main', {class: 'room', attrs: {id: 'room', 'aria-labelledby': 'room-title'}}, ...this.log.elements, this.composer.element);
    this.layout = new LayoutView(root, {nav: this.rooms.element, account: this.account.element, main}, () => this.rooms.focusTarget());
  }

  update(vm: ChatVm): void {
    this.layout.update(vm.connection, vm.rooms.reduce((sum, entry) => sum + (entry.active ? 0 : entry.unread), 0));
    this.account.update(vm);
    this.rooms.update(vm.rooms, vm.joinError);
    const opened = this.log.update(vm);
    this.composer.update(vm.composer, vm.room);
    if (opened) {
      this.layout.setDrawer(false, false); // a room was picked (or left): back to the conversation
    }
  }

  focusComposer(): void {
    this.composer.focus();
  }

  clearComposer(): void {
    this.composer.clear();
  }

  clearJoin(): void {
    this.rooms.clearJoin();
  }
}

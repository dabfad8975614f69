// The open room: its title, state and "Leave room", and the message log (a scrolling region, role=log, that
// announces the messages that arrive while it is shown, never the history swapped in when a room opens).

import type {StoredMessage} from './appState';
import {el, replaceChildren, setText} from './dom';
import {formatClock, senderDescription} from './messages';
import type {ChatVm} from './viewModel';

const AVATAR_COLOURS = 8;

function avatarClass(tokenId: string): string {
  let hash = 0;
  for (let i = 0; i < tokenId.length; i++) {
    hash = (hash * 31 + tokenId.charCodeAt(i)) >>> 0;
  }
  return `avatar--c${hash % AVATAR_COLOURS}`;
}

export class MessageLogView {
  /** The room header and the log, in this order (the composer follows them in the room's main region). */
  readonly elements: readonly HTMLElement[];
  private readonly roomTitle: HTMLElement;
  private readonly roomState: HTMLElement;
  private readonly leaveButton: HTMLButtonElement;
  private readonly scroller: HTMLElement;
  private readonly log: HTMLOListElement;
  private readonly emptyNote: HTMLElement;
  private activeRoom: string | null = null;
  private opened: number | null = null;
  /** The newest message id shown: later ones are appended. */
  private lastId = -1;
  private shownState = '';
  /** Whether the newest message was in view before the last resize: a shrinking viewport keeps it there. */
  private stickToEnd = true;

  constructor(onLeave: (room: string) => void) {
    this.roomTitle = el('h1', {class: 'room__title', attrs: {id: 'room-title'}, text: ''});
    this.roomState = el('span', {class: 'room__state', text: ''});
    this.leaveButton = el('button', {class: 'button button--quiet', attrs: {type: 'button'}, text: 'Leave room'});
    this.leaveButton.addEventListener('click', () => {
      if (this.activeRoom !== null) {
        onLeave(this.activeRoom);
      }
    });
    // The log is the scrolling region (focusable, so a keyboard can scroll it); its list holds one item per message.
    this.log = el('ol', {class: 'messages'});
    this.emptyNote = el('p', {class: 'messages__empty', text: ''});
    this.scroller = el(
      'div',
      {
        class: 'messages__scroller',
        attrs: {role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-labelledby': 'room-title', tabindex: 0},
      },
      this.emptyNote,
      this.log,
    );
    this.scroller.addEventListener('scroll', () => {
      this.stickToEnd = this.isNearEnd();
    });
    const header = el(
      'div',
      {class: 'room__header'},
      el('div', {class: 'room__heading'}, this.roomTitle, this.roomState),
      this.leaveButton,
    );
    this.elements = [header, this.scroller];
    // A viewport that shrinks (an on-screen keyboard opening) keeps the newest message in view.
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => {
        if (this.stickToEnd) {
          this.scrollToEnd();
        }
      }).observe(this.scroller);
    }
  }

  /** True when a room was opened (or left) by this update: the layout closes the drawer. */
  update(vm: Pick<ChatVm, 'room' | 'opened' | 'roomState' | 'messages'>): boolean {
    const opening = vm.opened !== this.opened;
    if (opening) {
      this.opened = vm.opened;
      this.openRoom(vm.room, vm.messages);
    } else {
      for (const message of vm.messages) {
        if (message.id > this.lastId) {
          this.appendMessage(message);
        }
      }
    }
    this.lastId = vm.messages.at(-1)?.id ?? this.lastId;
    const state = JSON.stringify(vm.roomState);
    if (vm.room !== null && state !== this.shownState) {
      this.shownState = state;
      setText(this.roomState, vm.roomState.text ?? '');
      this.roomState.className = `room__state room__state--${vm.roomState.status}`;
    }
    this.roomState.hidden = vm.room === null;
    return opening;
  }

  /** Shows a room (its messages so far) as the open one. */
  private openRoom(room: string | null, messages: readonly StoredMessage[]): void {
    this.activeRoom = room;
    setText(this.roomTitle, room === null ? 'No room open' : room);
    this.roomTitle.classList.toggle('room__title--none', room === null);
    if (room === null) {
      setText(this.roomState, ''); // no room: no room state ("live" was the last room's)
      this.shownState = '';
    }
    this.leaveButton.hidden = room === null;
    // Swap the whole list without announcing history: the log only announces messages that arrive while shown.
    this.scroller.setAttribute('aria-live', 'off');
    replaceChildren(this.log, ...messages.map(m => this.messageItem(m)));
    setText(
      this.emptyNote,
      room === null
        ? 'No room open. Join one, or pick a recent one, under Rooms.'
        : 'No messages yet. Messages sent while you are in the room appear here; earlier ones are not kept.',
    );
    this.emptyNote.hidden = messages.length > 0;
    this.scroller.setAttribute('aria-live', 'polite');
    this.stickToEnd = true;
    this.scrollToEnd();
  }

  private appendMessage(message: StoredMessage): void {
    const nearEnd = this.isNearEnd();
    this.log.append(this.messageItem(message));
    this.emptyNote.hidden = true;
    if (nearEnd || message.sender.own) {
      this.stickToEnd = true;
      this.scrollToEnd();
    }
  }

  private messageItem(message: StoredMessage): HTMLLIElement {
    const {sender} = message;
    const badges: HTMLElement[] = [];
    if (sender.kind === 'guest') {
      badges.push(el('span', {class: ['badge', 'badge--guest'], attrs: {title: 'Unverified display name'}, text: 'guest'}));
    } else if (sender.kind === 'user') {
      badges.push(
        el(
          'span',
          {class: ['badge', 'badge--verified'], attrs: {title: 'Verified by the token service'}},
          el('span', {class: 'badge__check', attrs: {'aria-hidden': 'true'}, text: '✓'}),
          ' verified',
        ),
      );
    }
    if (sender.own) {
      badges.push(el('span', {class: ['badge', 'badge--you'], text: 'you'}));
    }
    const iso = message.time.toISOString();
    return el(
      'li',
      {class: ['msg', `msg--${sender.kind}`, sender.own && 'msg--own', message.raw && 'msg--raw']},
      el('span', {
        class: ['avatar', avatarClass(sender.tokenId), `avatar--${sender.kind}`],
        attrs: {'aria-hidden': 'true'},
        text: (sender.label.trim()[0] ?? '?').toUpperCase(),
      }),
      el(
        'div',
        {class: 'msg__body'},
        el(
          'p',
          {class: 'msg__meta'},
          el('span', {class: 'msg__sender', attrs: {'aria-hidden': 'true'}, text: sender.label}),
          el('span', {class: 'sr-only', text: senderDescription(sender)}),
          el('span', {class: 'msg__badges', attrs: {'aria-hidden': 'true'}}, ...badges),
          el('time', {class: 'msg__time', attrs: {datetime: iso, title: message.time.toLocaleString()}, text: formatClock(message.time)}),
        ),
        el('p', {class: 'msg__text', text: message.text}),
      ),
    );
  }

  private isNearEnd(): boolean {
    const scroller = this.scroller;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  private scrollToEnd(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}

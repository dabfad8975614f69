// The rooms: the join form and the recent list (each room's state and unread count).

import {el, replaceChildren, setText} from './dom';
import type {FormError} from './appState';
import {DEFAULT_ROOM} from './roomList';
import {roomStatusLabel, type RoomEntry} from './viewModel';

export class RoomListView {
  readonly element: HTMLElement;
  private readonly roomList: HTMLUListElement;
  private readonly joinInput: HTMLInputElement;
  private readonly joinError: HTMLElement;
  private shownEntries = '';
  private shownError: number | null = null;

  constructor(intents: {join(input: string): void; select(room: string): void}) {
    this.joinInput = el('input', {
      attrs: {
        id: 'join-room',
        name: 'room',
        type: 'text',
        autocomplete: 'off',
        autocapitalize: 'none',
        spellcheck: 'false',
        maxlength: 64,
        placeholder: DEFAULT_ROOM,
        'aria-describedby': 'join-help join-error',
      },
    });
    this.joinError = el('p', {class: 'form-error', attrs: {id: 'join-error', role: 'alert'}});
    const joinForm = el(
      'form',
      {class: 'join', attrs: {'aria-label': 'Join a room'}},
      el('label', {attrs: {for: 'join-room'}, text: 'Join a room'}),
      el(
        'div',
        {class: 'join__row'},
        this.joinInput,
        el('button', {class: 'button button--primary', attrs: {type: 'submit'}, text: 'Join'}),
      ),
      el('p', {class: 'help', attrs: {id: 'join-help'}, text: 'Names start with room- or chat- (added for you).'}),
      this.joinError,
    );
    joinForm.addEventListener('submit', event => {
      event.preventDefault();
      intents.join(this.joinInput.value);
    });
    this.roomList = el('ul', {class: 'rooms__list', attrs: {'aria-labelledby': 'rooms-title'}});
    this.roomList.addEventListener('click', event => {
      const target = event.target instanceof Element ? event.target.closest('button[data-room]') : null;
      const room = target?.getAttribute('data-room');
      if (room) {
        intents.select(room);
      }
    });
    this.element = el(
      'nav',
      {class: 'rooms', attrs: {'aria-label': 'Rooms'}},
      joinForm,
      el('h2', {class: 'rooms__title', attrs: {id: 'rooms-title'}, text: 'Recent rooms'}),
      this.roomList,
    );
  }

  /** Where the focus goes when the drawer opens: the open room's button, else the first room, else the join field. */
  focusTarget(): HTMLElement {
    return (
      this.roomList.querySelector<HTMLButtonElement>('button[aria-current="true"]') ??
      this.roomList.querySelector<HTMLButtonElement>('button[data-room]') ??
      this.joinInput
    );
  }

  update(entries: readonly RoomEntry[], joinError: FormError | null): void {
    const key = JSON.stringify(entries);
    if (key !== this.shownEntries) {
      this.shownEntries = key;
      this.setRooms(entries);
    }
    if ((joinError?.serial ?? null) !== this.shownError) {
      this.shownError = joinError?.serial ?? null;
      this.showJoinError(joinError?.text ?? '');
    }
  }

  /** A room was joined: the field is emptied. */
  clearJoin(): void {
    this.joinInput.value = '';
  }

  private showJoinError(message: string): void {
    setText(this.joinError, message);
    this.joinInput.setAttribute('aria-invalid', message === '' ? 'false' : 'true');
    if (message !== '') {
      this.joinInput.focus();
    }
  }

  private setRooms(entries: readonly RoomEntry[]): void {
    const items = entries.map(entry => {
      const button = el(
        'button',
        {
          class: ['room-link', entry.active && 'room-link--active'],
          attrs: {type: 'button', 'data-room': entry.room, 'aria-current': entry.active ? 'true' : null},
        },
        el('span', {class: ['dot', `dot--room-${entry.status}`], attrs: {'aria-hidden': 'true'}}),
        el('span', {class: 'room-link__name', text: entry.room}),
        el('span', {class: 'sr-only', text: `, ${roomStatusLabel(entry.status)}`}),
        entry.unread > 0 && !entry.active
          ? el(
              'span',
              {class: 'unread'},
              el('span', {attrs: {'aria-hidden': 'true'}, text: entry.unread > 99 ? '99+' : String(entry.unread)}),
              el('span', {class: 'sr-only', text: `, ${entry.unread} unread`}),
            )
          : null,
      );
      return el('li', {}, button);
    });
    // Keep keyboard focus on the same room button across re-renders.
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.getAttribute('data-room') : null;
    replaceChildren(this.roomList, ...items);
    if (focused !== null) {
      const again = this.roomList.querySelector<HTMLButtonElement>(`button[data-room="${CSS.escape(focused)}"]`);
      again?.focus();
    }
  }
}

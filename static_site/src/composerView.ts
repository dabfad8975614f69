// The composer: the message box, Send, the note saying why sending is not possible, and a send's error.

import {el, setText} from './dom';
import {MAX_MESSAGE_LENGTH} from './messages';
import type {ComposerVm} from './viewModel';

export class ComposerView {
  readonly element: HTMLFormElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly note: HTMLElement;
  private readonly error: HTMLElement;
  private readonly label: HTMLLabelElement;
  private allowed = false;
  private sending = false;
  private room: string | null | undefined = undefined;
  private shownNote: string | null = null;
  private shownError = '';

  /** `onTyping`: the person edits the message (a send's error no longer applies). */
  constructor(intents: {send(text: string): void; typing(): void}) {
    this.label = el('label', {class: 'sr-only', attrs: {for: 'composer-input'}, text: 'Message'});
    this.input = el('textarea', {
      attrs: {
        id: 'composer-input',
        name: 'message',
        rows: 1,
        maxlength: MAX_MESSAGE_LENGTH,
        placeholder: 'Write a message',
        'aria-describedby': 'composer-note composer-error',
      },
    });
    this.sendButton = el('button', {class: 'button button--primary', attrs: {type: 'submit'}, text: 'Send'});
    this.note = el('p', {class: 'composer__note', attrs: {id: 'composer-note'}});
    this.error = el('p', {class: 'composer__error', attrs: {id: 'composer-error', role: 'alert'}});
    this.element = el(
      'form',
      {class: 'composer', attrs: {'aria-label': 'Send a message'}},
      this.label,
      el('div', {class: 'composer__row'}, this.input, this.sendButton),
      this.note,
      this.error,
    );
    const trySend = (): void => {
      const text = this.input.value;
      if (this.allowed && !this.sending && text.trim() !== '') {
        intents.send(text);
      }
    };
    this.element.addEventListener('submit', event => {
      event.preventDefault();
      trySend();
    });
    this.input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        trySend();
      }
    });
    this.input.addEventListener('input', () => {
      this.autosize();
      if (this.error.textContent !== '') {
        intents.typing();
      }
    });
  }

  update(vm: ComposerVm, room: string | null): void {
    if (room !== this.room) {
      this.room = room;
      setText(this.label, room === null ? 'Message' : `Message to ${room}`);
      this.input.placeholder = room === null ? 'Join a room to chat' : `Message ${room}`;
    }
    this.allowed = vm.allowed;
    this.input.disabled = !vm.allowed;
    if (vm.sending !== this.sending) {
      setText(this.sendButton, vm.sending ? 'Sending…' : 'Send');
    }
    this.sending = vm.sending;
    this.sendButton.disabled = !vm.allowed || vm.sending;
    if (vm.note !== this.shownNote) {
      this.shownNote = vm.note;
      setText(this.note, vm.note);
      this.note.hidden = vm.note === '';
    }
    if (vm.error !== this.shownError) {
      this.shownError = vm.error;
      setText(this.error, vm.error);
    }
  }

  /** A sent message: clear the box and keep the focus there. */
  clear(): void {
    this.input.value = '';
    this.autosize();
    this.input.focus();
  }

  focus(): void {
    if (!this.input.disabled) {
      this.input.focus();
    }
  }

  private autosize(): void {
    // Grows with its content up to a limit (CSSOM, allowed under a strict CSP; no style attribute in markup).
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }
}

// The sign-in screens' shared parts: the brand, the card they sit on, the labelled fields, the inline error
// (role=alert), the progress line (role=status), "Continue as …", and the configuration-problems page.

import {el, replaceChildren, setText} from './dom';
import type {LiveUser} from './viewModel';

export function brand(): HTMLElement {
  return el(
    'div',
    {class: 'brand'},
    el('span', {class: 'brand__mark', attrs: {'aria-hidden': 'true'}}),
    el('span', {class: 'brand__name', text: 'Momento chat'}),
  );
}

// --- configuration problems ---------------------------------------------------------------------------------

export function renderConfigError(root: HTMLElement, problems: readonly string[]): void {
  replaceChildren(
    root,
    el(
      'main',
      {class: 'card-page'},
      el(
        'section',
        {class: 'card', attrs: {'aria-labelledby': 'config-title'}},
        brand(),
        el('h1', {attrs: {id: 'config-title'}, text: 'This site is not configured'}),
        el('p', {text: 'config.js must set window.TVM_CONFIG. Problems found:'}),
        el('ul', {class: 'problems'}, ...problems.map(p => el('li', {text: p}))),
      ),
    ),
  );
}

export function card(root: HTMLElement, notice: string | null, fineprint: readonly string[], ...body: HTMLElement[]): void {
  replaceChildren(
    root,
    el(
      'main',
      {class: 'card-page'},
      el(
        'section',
        {class: 'card', attrs: {'aria-labelledby': 'login-title'}},
        brand(),
        notice === null ? null : el('p', {class: 'notice', attrs: {id: 'login-notice', role: 'status'}, text: notice}),
        ...body,
        ...fineprint.map(text => el('p', {class: 'fineprint', text})),
      ),
    ),
  );
}


const DESCRIBED_BY = 'login-error login-progress login-help';

/**
 * "Continue as alice" (one button per user signed in in another tab of this browser), hidden until there is one.
 * Choosing one takes that tab's access over the browser's own channel: no password, no new token.
 */
export class ContinueBox {
  readonly element: HTMLElement;
  private buttons: HTMLButtonElement[] = [];
  private busy = false;

  constructor() {
    this.element = el('div', {class: 'continue', attrs: {role: 'group', 'aria-labelledby': 'continue-help', hidden: true}});
  }

  show(users: readonly LiveUser[], onChoose: (user: string) => void): void {
    this.buttons = users.map(({user, label}) => {
      const button = el('button', {class: 'button button--primary', attrs: {type: 'button'}, text: `Continue as ${label}`});
      button.addEventListener('click', () => onChoose(user));
      button.disabled = this.busy;
      return button;
    });
    replaceChildren(
      this.element,
      el('p', {
        class: 'continue__help',
        attrs: {id: 'continue-help'},
        text:
          users.length === 1
            ? `${users[0]?.label ?? ''} is signed in in another tab of this browser. Continue with that access, or sign in below.`
            : 'Signed in in other tabs of this browser. Continue with one of them, or sign in below.',
      }),
      ...this.buttons,
    );
    this.element.hidden = users.length === 0;
  }

  setBusy(busy: boolean): void {
    this.busy = busy;
    for (const button of this.buttons) {
      button.disabled = busy;
    }
  }

  get focusTarget(): HTMLButtonElement | null {
    return this.buttons[0] ?? null;
  }
}

export function textInput(id: string, name: string, type: string, autocomplete: string, extra: Record<string, string | number> = {}): HTMLInputElement {
  return el('input', {
    attrs: {id, name, type, autocomplete, required: true, 'aria-describedby': DESCRIBED_BY, ...extra},
  });
}

/**
 * A sign-in form's shared parts and behaviour: labelled fields, the inline error (role=alert), the progress line
 * (role=status: "Signing in…", or why it is retrying and when), and Submit / Try now / Cancel.
 */
export class FormState {
  readonly form: HTMLFormElement;
  private readonly submit: HTMLButtonElement;
  private readonly cancel: HTMLButtonElement;
  private readonly retryNow: HTMLButtonElement;
  private readonly error: HTMLElement;
  private readonly progress: HTMLElement;

  constructor(
    readonly fields: readonly HTMLInputElement[],
    labels: readonly string[],
    submitText: string,
    callbacks: {onSubmit(): void; onCancel(): void; onRetryNow(): void},
    /** Buttons shown only while the form is idle (e.g. "Back to sign-in"). */
    private readonly whileIdle: readonly HTMLButtonElement[] = [],
  ) {
    this.error = el('p', {class: 'form-error', attrs: {id: 'login-error', role: 'alert'}});
    this.progress = el('p', {class: 'form-progress', attrs: {id: 'login-progress', role: 'status'}});
    const quiet = {class: 'button button--quiet', attrs: {type: 'button', hidden: true}};
    this.cancel = el('button', {...quiet, text: 'Cancel'});
    this.cancel.addEventListener('click', () => callbacks.onCancel());
    this.retryNow = el('button', {...quiet, text: 'Try now'});
    this.retryNow.addEventListener('click', () => callbacks.onRetryNow());
    this.submit = el('button', {class: 'button button--primary', attrs: {type: 'submit'}, text: submitText});
    this.form = el(
      'form',
      {class: 'login-form', attrs: {novalidate: true, 'aria-labelledby': 'login-title'}},
      ...fields.map((input, i) =>
        el('div', {class: 'field'}, el('label', {attrs: {for: input.id}, text: labels[i] ?? ''}), input),
      ),
      this.error,
      this.progress,
      el('div', {class: 'form-actions'}, this.submit, this.retryNow, this.cancel, ...whileIdle),
    );
    this.form.addEventListener('submit', event => {
      event.preventDefault();
      callbacks.onSubmit();
    });
  }

  /** Disables the form while signing in; `canRetryNow` shows "Try now" (a retry is waiting for its time). */
  setBusy(busy: boolean, progress = '', canRetryNow = false): void {
    for (const input of this.fields) {
      input.disabled = busy;
    }
    this.submit.disabled = busy;
    for (const button of this.whileIdle) {
      button.hidden = busy;
    }
    this.cancel.hidden = !busy;
    const hideRetry = !(busy && canRetryNow);
    if (hideRetry && document.activeElement === this.retryNow) {
      this.cancel.focus(); // the focused button is going away: keep the focus in the form
    }
    this.retryNow.hidden = hideRetry;
    setText(this.progress, progress);
    if (busy) {
      setText(this.error, '');
    }
  }

  /** Shows an inline error, marks the fields invalid and puts the focus back in the form. */
  showError(message: string, field: 'first' | 'password' = 'first'): void {
    this.setBusy(false);
    setText(this.error, message);
    for (const input of this.fields) {
      input.setAttribute('aria-invalid', 'true');
    }
    const target = field === 'password' ? (this.fields[1] ?? this.fields[0]) : this.fields[0];
    target?.focus();
    target?.select();
  }
}


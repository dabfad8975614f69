// The sign-in screens, one per form (appState.ts SignInForm): the auth mode's login form, Cognito's new password,
// and Session mode's screen. Each is built once per form serial and then follows the view model (`update`): busy or
// not, the progress line, an error (focus back in the form), "Continue as …".

import type {AuthMode} from './authModes';
import {el, setText} from './dom';
import {card, ContinueBox, FormState, textInput} from './signInForms';
import type {LiveUser, SignInVm} from './viewModel';

/** What the person does on a sign-in screen (signInFlow.ts answers). */
export interface SignInIntents {
  submit(values: readonly string[]): void;
  submitNewPassword(password: string, confirmation: string): void;
  cancel(): void;
  /** Try the waiting sign-in again now instead of at the next retry. */
  retryNow(): void;
  /** Session mode: ask the host again whether someone is signed in. */
  check(): void;
  /** Give up on the new password and show the login form again. */
  back(): void;
  continueAs(user: string): void;
}

interface Shown {
  busy: boolean;
  progress: string;
  canRetryNow: boolean;
  errorSerial: number | null;
  users: string;
}

/** The parts of the view model a screen has applied, so `update` changes only what changed. */
abstract class SignInScreen {
  private shown: Shown = {busy: false, progress: '', canRetryNow: false, errorSerial: null, users: '[]'};

  protected abstract setBusy(busy: boolean, progress: string, canRetryNow: boolean): void;
  protected abstract showError(message: string, field: 'first' | 'password'): void;
  protected abstract showContinue(users: readonly LiveUser[]): void;

  update(vm: SignInVm): void {
    const users = JSON.stringify(vm.continueUsers);
    const error = vm.error;
    if (error !== null && error.serial !== this.shown.errorSerial) {
      this.showError(error.text, error.field);
    } else if (vm.busy !== this.shown.busy || vm.progress !== this.shown.progress || vm.canRetryNow !== this.shown.canRetryNow) {
      this.setBusy(vm.busy, vm.progress, vm.canRetryNow);
    }
    if (users !== this.shown.users) {
      this.showContinue(vm.continueUsers);
    }
    this.shown = {busy: vm.busy, progress: vm.progress, canRetryNow: vm.canRetryNow, errorSerial: error?.serial ?? null, users};
  }
}

/** The auth mode's form: a display name (Open), or a username and password. */
export class LoginScreen extends SignInScreen {
  private readonly state: FormState;
  private readonly continueBox = new ContinueBox();

  /** `signInHost`: Amazon Cognito's host in AmazonCognito mode (named on the form), else null. */
  constructor(root: HTMLElement, mode: AuthMode, apiHost: string, notice: string | null, signInHost: string | null, private readonly intents: SignInIntents) {
    super();
    const fields = mode.fields.map(f => textInput(f.id, f.name, f.type, f.autocomplete, {...f.extra}));
    this.state = new FormState(
      fields,
      mode.fields.map(f => f.label),
      mode.submitText,
      {
        onSubmit: () => intents.submit(fields.map(input => input.value)),
        onCancel: () => intents.cancel(),
        onRetryNow: () => intents.retryNow(),
      },
    );
    card(
      root,
      notice,
      signInHost === null ? [`Tokens from ${apiHost}`] : [`Sign-in by Amazon Cognito (${signInHost})`, `Tokens from ${apiHost}`],
      el('h1', {attrs: {id: 'login-title'}, text: mode.title}),
      this.continueBox.element,
      this.state.form,
      el('p', {class: 'help', attrs: {id: 'login-help'}, text: mode.help}),
    );
    fields[0]?.focus();
  }

  protected setBusy(busy: boolean, progress: string, canRetryNow: boolean): void {
    this.state.setBusy(busy, progress, canRetryNow);
    this.continueBox.setBusy(busy);
  }

  protected showError(message: string, field: 'first' | 'password'): void {
    this.continueBox.setBusy(false);
    this.state.showError(message, field);
  }

  protected showContinue(users: readonly LiveUser[]): void {
    const focusFirst = document.activeElement === this.state.fields[0] && this.state.fields[0]?.value === '';
    this.continueBox.show(users, user => this.intents.continueAs(user));
    if (focusFirst) {
      this.continueBox.focusTarget?.focus(); // nothing typed yet: the likeliest next step
    }
  }
}

/** A Cognito user signed in with a temporary password: choose a new one (NEW_PASSWORD_REQUIRED). */
export class NewPasswordScreen extends SignInScreen {
  private readonly state: FormState;

  constructor(root: HTMLElement, username: string, signInHost: string, intents: SignInIntents) {
    super();
    const fields = [
      textInput('new-password', 'new-password', 'password', 'new-password'),
      textInput('new-password-confirm', 'new-password-confirm', 'password', 'new-password'),
    ];
    const back = el('button', {class: 'button button--quiet', attrs: {type: 'button'}, text: 'Back to sign-in'});
    back.addEventListener('click', () => intents.back());
    this.state = new FormState(
      fields,
      ['New password', 'New password again'],
      'Set password and sign in',
      {
        onSubmit: () => intents.submitNewPassword(fields[0]?.value ?? '', fields[1]?.value ?? ''),
        onCancel: () => intents.cancel(),
        onRetryNow: () => intents.retryNow(),
      },
      [back],
    );
    card(
      root,
      null,
      [`Sign-in by Amazon Cognito (${signInHost})`],
      el('h1', {attrs: {id: 'login-title'}, text: 'Choose a new password'}),
      el('p', {text: `${username}, you signed in with a temporary password. Choose your own to continue.`}),
      this.state.form,
      el('p', {
        class: 'help',
        attrs: {id: 'login-help'},
        text: 'The user pool’s password policy applies; if the new password does not meet it, this form says why.',
      }),
    );
    fields[0]?.focus();
  }

  protected setBusy(busy: boolean, progress: string, canRetryNow: boolean): void {
    this.state.setBusy(busy, progress, canRetryNow);
  }

  protected showError(message: string, field: 'first' | 'password'): void {
    this.state.showError(message, field);
  }

  protected showContinue(): void {
    // choosing a new password: another tab's access is not offered here
  }
}

/**
 * Session mode's sign-in screen. The host app signs people in on its own page; this screen checks (the first token
 * request, with the cookie: "Checking your sign-in…", retries said as on the other forms) and, when nobody is signed
 * in, is the signed-out screen: a notice (why), the "Sign in" link to the host's login page, and "Try again".
 */
export class HostScreen extends SignInScreen {
  private readonly signIn: HTMLAnchorElement;
  private readonly check: HTMLButtonElement;
  private readonly cancel: HTMLButtonElement;
  private readonly retryNow: HTMLButtonElement;
  private readonly error: HTMLElement;
  private readonly progress: HTMLElement;
  private readonly continueBox = new ContinueBox();
  private busy = false;

  /** `signInHref`: `{loginUrl}?next=<this page>` (hostLogin.ts). */
  constructor(root: HTMLElement, mode: AuthMode, signInHref: string, apiHost: string, notice: string | null, private readonly intents: SignInIntents) {
    super();
    this.error = el('p', {class: 'form-error', attrs: {id: 'login-error', role: 'alert'}});
    this.progress = el('p', {class: 'form-progress', attrs: {id: 'login-progress', role: 'status'}});
    this.signIn = el('a', {
      class: 'button button--primary',
      attrs: {id: 'session-sign-in', href: signInHref, 'aria-describedby': 'login-help'},
      text: mode.submitText,
    });
    const quiet = {class: 'button button--quiet', attrs: {type: 'button'}};
    this.check = el('button', {...quiet, text: 'Try again'});
    this.check.addEventListener('click', () => intents.check());
    this.cancel = el('button', {...quiet, attrs: {type: 'button', hidden: true}, text: 'Cancel'});
    this.cancel.addEventListener('click', () => intents.cancel());
    this.retryNow = el('button', {...quiet, attrs: {type: 'button', hidden: true}, text: 'Try now'});
    this.retryNow.addEventListener('click', () => intents.retryNow());
    card(
      root,
      notice,
      [`Tokens from ${apiHost}`],
      el('h1', {attrs: {id: 'login-title'}, text: mode.title}),
      this.continueBox.element,
      this.error,
      this.progress,
      el('div', {class: 'form-actions'}, this.signIn, this.check, this.retryNow, this.cancel),
      el('p', {class: 'help', attrs: {id: 'login-help'}, text: mode.help}),
    );
    this.signIn.focus();
  }

  /** Checking the sign-in: the link and "Try again" give way to the progress line, "Try now" and "Cancel". */
  protected setBusy(busy: boolean, progress: string, canRetryNow: boolean): void {
    const wasBusy = this.busy;
    this.busy = busy;
    const hideRetry = !(busy && canRetryNow);
    const focused = document.activeElement;
    const losingFocus =
      (busy && (focused === this.signIn || focused === this.check)) || (hideRetry && focused === this.retryNow);
    this.signIn.hidden = busy;
    this.check.hidden = busy;
    this.cancel.hidden = !busy;
    this.continueBox.setBusy(busy);
    this.retryNow.hidden = hideRetry;
    setText(this.progress, progress);
    if (busy) {
      setText(this.error, '');
    }
    if (!busy && (wasBusy || losingFocus)) {
      this.signIn.focus(); // the check is over: the next step is signing in
    } else if (losingFocus) {
      this.cancel.focus(); // the focused control is going away: keep the focus on the screen
    }
  }

  /** A check refused for a reason other than "not signed in": said inline, with the link to sign in (again). */
  protected showError(message: string): void {
    this.setBusy(false, '', false);
    setText(this.error, message);
    this.signIn.focus();
  }

  protected showContinue(users: readonly LiveUser[]): void {
    const focused = document.activeElement === this.signIn;
    this.continueBox.show(users, user => this.intents.continueAs(user));
    if (focused) {
      this.continueBox.focusTarget?.focus();
    }
  }
}

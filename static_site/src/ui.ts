// The page's views. They render what app.ts tells them and report what the user does; they hold no session state.

import type {AuthMethod} from './config';
import {CONNECTION_LABELS, type ConnectionState} from './connection';
import {el, replaceChildren, setText} from './dom';
import {formatClock, MAX_MESSAGE_LENGTH, senderDescription, type Sender} from './messages';
import type {SessionStatusText} from './notices';
import {DEFAULT_ROOM} from './roomList';
import type {RoomStatus} from './rooms';

function brand(): HTMLElement {
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

// --- login ----------------------------------------------------------------------------------------------------

export type LoginInput = {kind: 'basic'; username: string; password: string} | {kind: 'open'; name: string};

export interface LoginCallbacks {
  onSubmit(input: LoginInput): void;
  onCancel(): void;
  /** Try the waiting sign-in again now instead of at the next retry. */
  onRetryNow(): void;
}

/** What the app tells a sign-in form (the login form, or the new-password form of a Cognito sign-in). */
export interface SignInForm {
  setBusy(busy: boolean, progress?: string, canRetryNow?: boolean): void;
  showError(message: string, field?: 'first' | 'password'): void;
  /** Offers "Continue as …" for users signed in in other tabs of this browser (none: hidden). */
  showContinue(users: readonly LiveUser[], onChoose: (user: string) => void): void;
}

function card(root: HTMLElement, notice: string | null, fineprint: readonly string[], ...body: HTMLElement[]): void {
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

/** A user another tab of this browser is signed in as: the button says `label`, choosing it passes `user`. */
export interface LiveUser {
  readonly user: string;
  readonly label: string;
}

/**
 * "Continue as alice" (one button per user signed in in another tab of this browser), hidden until there is one.
 * Choosing one takes that tab's access over the browser's own channel: no password, no new token.
 */
class ContinueBox {
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

function textInput(id: string, name: string, type: string, autocomplete: string, extra: Record<string, string | number> = {}): HTMLInputElement {
  return el('input', {
    attrs: {id, name, type, autocomplete, required: true, 'aria-describedby': DESCRIBED_BY, ...extra},
  });
}

/**
 * A sign-in form's shared parts and behaviour: labelled fields, the inline error (role=alert), the progress line
 * (role=status: "Signing in…", or why it is retrying and when), and Submit / Try now / Cancel.
 */
class FormState {
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

export class LoginView implements SignInForm {
  private readonly state: FormState;
  private readonly continueBox = new ContinueBox();

  /** `signInHost`: Amazon Cognito's host in AmazonCognito mode (named on the form), else null. */
  constructor(
    root: HTMLElement,
    method: AuthMethod,
    apiHost: string,
    callbacks: LoginCallbacks,
    notice: string | null,
    signInHost: string | null = null,
  ) {
    const isOpen = method === 'Open';
    const fields = isOpen
      ? [textInput('login-name', 'name', 'text', 'nickname', {maxlength: 32})]
      : [
          textInput('login-username', 'username', 'text', 'username', {autocapitalize: 'none', spellcheck: 'false'}),
          textInput('login-password', 'password', 'password', 'current-password'),
        ];
    this.state = new FormState(fields, isOpen ? ['Display name'] : ['Username', 'Password'], isOpen ? 'Join the chat' : 'Sign in', {
      onSubmit: () => {
        const [first, second] = fields;
        if (isOpen) {
          callbacks.onSubmit({kind: 'open', name: first?.value ?? ''});
        } else {
          callbacks.onSubmit({kind: 'basic', username: (first?.value ?? '').trim(), password: second?.value ?? ''});
        }
      },
      onCancel: () => callbacks.onCancel(),
      onRetryNow: () => callbacks.onRetryNow(),
    });
    const help = isOpen
      ? 'Anyone can pick any display name here, so your messages are marked as from a guest.'
      : method === 'AmazonCognito'
        ? 'Your password goes to Amazon Cognito only and is not kept. Your session stays in memory only (this tab and ' +
          'your other tabs in this browser), to renew your access; it is never stored.'
        : 'Your password stays in memory only (this tab and your other tabs in this browser), to renew your access; ' +
          'it is never stored.';
    card(
      root,
      notice,
      signInHost === null ? [`Tokens from ${apiHost}`] : [`Sign-in by Amazon Cognito (${signInHost})`, `Tokens from ${apiHost}`],
      el('h1', {attrs: {id: 'login-title'}, text: isOpen ? 'Join as a guest' : 'Sign in'}),
      this.continueBox.element,
      this.state.form,
      el('p', {class: 'help', attrs: {id: 'login-help'}, text: help}),
    );
    fields[0]?.focus();
  }

  setBusy(busy: boolean, progress = '', canRetryNow = false): void {
    this.state.setBusy(busy, progress, canRetryNow);
    this.continueBox.setBusy(busy);
  }

  showError(message: string, field: 'first' | 'password' = 'first'): void {
    this.continueBox.setBusy(false);
    this.state.showError(message, field);
  }

  showContinue(users: readonly LiveUser[], onChoose: (user: string) => void): void {
    const focusFirst = document.activeElement === this.state.fields[0] && this.state.fields[0]?.value === '';
    this.continueBox.show(users, onChoose);
    if (focusFirst) {
      this.continueBox.focusTarget?.focus(); // nothing typed yet: the likeliest next step
    }
  }

  get formElement(): HTMLFormElement {
    return this.state.form;
  }
}

export interface NewPasswordCallbacks {
  /** Both fields as typed (the app checks they match). */
  onSubmit(newPassword: string, confirmation: string): void;
  onCancel(): void;
  onRetryNow(): void;
  /** Give up on this sign-in and show the login form again. */
  onBack(): void;
}

/** A Cognito user signed in with a temporary password: choose a new one (NEW_PASSWORD_REQUIRED). */
export class NewPasswordView implements SignInForm {
  private readonly state: FormState;

  constructor(root: HTMLElement, username: string, signInHost: string, callbacks: NewPasswordCallbacks) {
    const fields = [
      textInput('new-password', 'new-password', 'password', 'new-password'),
      textInput('new-password-confirm', 'new-password-confirm', 'password', 'new-password'),
    ];
    const back = el('button', {class: 'button button--quiet', attrs: {type: 'button'}, text: 'Back to sign-in'});
    back.addEventListener('click', () => callbacks.onBack());
    this.state = new FormState(
      fields,
      ['New password', 'New password again'],
      'Set password and sign in',
      {
        onSubmit: () => callbacks.onSubmit(fields[0]?.value ?? '', fields[1]?.value ?? ''),
        onCancel: () => callbacks.onCancel(),
        onRetryNow: () => callbacks.onRetryNow(),
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

  setBusy(busy: boolean, progress = '', canRetryNow = false): void {
    this.state.setBusy(busy, progress, canRetryNow);
  }

  showError(message: string, field: 'first' | 'password' = 'first'): void {
    this.state.showError(message, field);
  }

  showContinue(): void {
    // choosing a new password: another tab's access is not offered here
  }
}

export interface HostSignInCallbacks {
  /** Ask the host again whether someone is signed in (after a refusal, or a cancelled check). */
  onCheck(): void;
  onCancel(): void;
  onRetryNow(): void;
}

/**
 * Session mode's sign-in screen. The host app signs people in on its own page; this screen checks (the first token
 * request, with the cookie: "Checking your sign-in…", retries said as on the other forms) and, when nobody is signed
 * in, is the signed-out screen: a notice (why), the "Sign in" link to the host's login page, and "Try again".
 */
export class HostSignInView implements SignInForm {
  private readonly signIn: HTMLAnchorElement;
  private readonly check: HTMLButtonElement;
  private readonly cancel: HTMLButtonElement;
  private readonly retryNow: HTMLButtonElement;
  private readonly error: HTMLElement;
  private readonly progress: HTMLElement;
  private readonly continueBox = new ContinueBox();
  private busy = false;

  /** `signInHref`: `{loginUrl}?next=<this page>` (hostLogin.ts). Starts signed out; the app calls setBusy to check. */
  constructor(root: HTMLElement, signInHref: string, apiHost: string, callbacks: HostSignInCallbacks, notice: string | null) {
    this.error = el('p', {class: 'form-error', attrs: {id: 'login-error', role: 'alert'}});
    this.progress = el('p', {class: 'form-progress', attrs: {id: 'login-progress', role: 'status'}});
    this.signIn = el('a', {
      class: 'button button--primary',
      attrs: {id: 'session-sign-in', href: signInHref, 'aria-describedby': 'login-help'},
      text: 'Sign in',
    });
    const quiet = {class: 'button button--quiet', attrs: {type: 'button'}};
    this.check = el('button', {...quiet, text: 'Try again'});
    this.check.addEventListener('click', () => callbacks.onCheck());
    this.cancel = el('button', {...quiet, attrs: {type: 'button', hidden: true}, text: 'Cancel'});
    this.cancel.addEventListener('click', () => callbacks.onCancel());
    this.retryNow = el('button', {...quiet, attrs: {type: 'button', hidden: true}, text: 'Try now'});
    this.retryNow.addEventListener('click', () => callbacks.onRetryNow());
    card(
      root,
      notice,
      [`Tokens from ${apiHost}`],
      el('h1', {attrs: {id: 'login-title'}, text: 'Sign in to chat'}),
      this.continueBox.element,
      this.error,
      this.progress,
      el('div', {class: 'form-actions'}, this.signIn, this.check, this.retryNow, this.cancel),
      el('p', {
        class: 'help',
        attrs: {id: 'login-help'},
        text:
          'You sign in on this site’s own login page, which brings you back here. Your chat access stays in memory ' +
          'only (this tab and your other tabs in this browser).',
      }),
    );
    this.signIn.focus();
  }

  /** Nobody is signed in (or the check was refused or cancelled): the signed-out screen, not a check under way. */
  get signedOut(): boolean {
    return !this.busy;
  }

  /** Checking the sign-in: the link and "Try again" give way to the progress line, "Try now" and "Cancel". */
  setBusy(busy: boolean, progress = '', canRetryNow = false): void {
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
  showError(message: string): void {
    this.setBusy(false);
    setText(this.error, message);
    this.signIn.focus();
  }

  showContinue(users: readonly LiveUser[], onChoose: (user: string) => void): void {
    const focused = document.activeElement === this.signIn;
    this.continueBox.show(users, onChoose);
    if (focused) {
      this.continueBox.focusTarget?.focus();
    }
  }
}

// --- chat -----------------------------------------------------------------------------------------------------

export interface ChatCallbacks {
  onJoin(input: string): void;
  onSelectRoom(room: string): void;
  onLeaveRoom(room: string): void;
  onSend(text: string): void;
  onLogout(): void;
  /** "Why can't I send?": ask the TVM what a token for the open room would grant. */
  onExplain(): void;
}

/** The session panel's lines (notices.ts words them). */
export interface SessionPanelInfo {
  readonly scope: string;
  readonly validity: string;
  readonly renewals: string;
  readonly lastError: string;
  readonly tab: string;
  /** This device's clock against the server's, when it is off; null: not shown. */
  readonly clock: string | null;
}

export interface RoomEntry {
  readonly room: string;
  readonly active: boolean;
  readonly status: RoomStatus | 'idle';
  readonly unread: number;
}

export interface ShownMessage {
  readonly sender: Sender;
  readonly text: string;
  readonly raw: boolean;
  /** When the sender says it was sent, else when we received it. */
  readonly time: Date;
}

const ROOM_STATUS_LABELS: Readonly<Record<RoomStatus | 'idle', string>> = {
  idle: 'not subscribed',
  waiting: 'waiting for a token',
  subscribing: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  denied: 'no access',
};

const AVATAR_COLOURS = 8;

function avatarClass(tokenId: string): string {
  let hash = 0;
  for (let i = 0; i < tokenId.length; i++) {
    hash = (hash * 31 + tokenId.charCodeAt(i)) >>> 0;
  }
  return `avatar--c${hash % AVATAR_COLOURS}`;
}

/** At this width and under, the rooms and the account are a drawer in the conversation's place (as in style.css). */
const NARROW_QUERY = '(max-width: 720px)';

export class ChatView {
  private readonly connection: HTMLElement;
  private readonly connectionDot: HTMLElement;
  private readonly sessionSummary: HTMLElement;
  private readonly sessionRenewal: HTMLElement;
  private readonly sessionValidity: HTMLElement;
  private readonly panelScope: HTMLElement;
  private readonly panelValidity: HTMLElement;
  private readonly panelRenewals: HTMLElement;
  private readonly panelError: HTMLElement;
  private readonly panelTab: HTMLElement;
  private readonly panelClock: HTMLElement;
  private readonly panelClockTerm: HTMLElement;
  private readonly explainButton: HTMLButtonElement;
  private readonly explainResult: HTMLElement;
  private readonly roomList: HTMLUListElement;
  private readonly joinInput: HTMLInputElement;
  private readonly joinError: HTMLElement;
  private readonly roomTitle: HTMLElement;
  private readonly roomState: HTMLElement;
  private readonly leaveButton: HTMLButtonElement;
  private readonly scroller: HTMLElement;
  private readonly log: HTMLOListElement;
  private readonly emptyNote: HTMLElement;
  private readonly composerInput: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly composerNote: HTMLElement;
  private readonly composerError: HTMLElement;
  private readonly composerLabel: HTMLLabelElement;
  private readonly tierBadge: HTMLElement;
  private readonly drawerToggle: HTMLButtonElement;
  private readonly drawerUnread: HTMLElement;
  private readonly layout: HTMLElement;
  private readonly main: HTMLElement;
  /** The phone layout's media query; null where matchMedia is missing (then the drawer is never modal-like). */
  private readonly narrow: MediaQueryList | null;
  private activeRoom: string | null = null;
  private composerAllowed = false;
  private sending = false;
  private drawerOpen = false;
  /** Whether the newest message was in view before the last resize: a shrinking viewport keeps it there. */
  private stickToEnd = true;

  constructor(root: HTMLElement, who: {label: string; kind: Sender['kind']; tier: string}, callbacks: ChatCallbacks) {
    // Header: on a phone the Rooms button (the drawer), the brand and the connection state (announced); on a wide
    // screen the button is not shown, the rooms and the account being always beside the conversation.
    this.connectionDot = el('span', {class: ['dot', 'dot--connecting'], attrs: {'aria-hidden': 'true'}});
    this.connection = el('span', {class: 'connection__label', text: CONNECTION_LABELS.connecting});
    this.drawerUnread = el('span', {class: 'unread', attrs: {hidden: true}});
    this.drawerToggle = el(
      'button',
      {
        class: 'button button--quiet drawer-toggle',
        attrs: {type: 'button', id: 'rooms-toggle', 'aria-expanded': 'false', 'aria-controls': 'rooms-drawer'},
      },
      el('span', {class: 'drawer-toggle__icon', attrs: {'aria-hidden': 'true'}}),
      'Rooms',
      this.drawerUnread,
    );
    this.drawerToggle.addEventListener('click', () => this.setDrawer(!this.drawerOpen, true));
    const header = el(
      'header',
      {class: 'topbar'},
      this.drawerToggle,
      brand(),
      el('span', {class: 'connection', attrs: {role: 'status', 'aria-live': 'polite'}}, this.connectionDot, this.connection),
    );

    // The account: who, the tier, the session's renewal (not announced every second), Log out.
    const logout = el('button', {class: 'button button--quiet', attrs: {type: 'button'}, text: 'Log out'});
    logout.addEventListener('click', () => callbacks.onLogout());
    this.tierBadge = el('span', {
      class: ['badge', who.kind === 'guest' ? 'badge--guest' : 'badge--tier'],
      text: who.kind === 'guest' ? 'guest' : who.tier,
    });
    this.sessionSummary = el('span', {class: 'session__summary', text: ''});
    this.sessionRenewal = el('span', {class: 'session__detail', text: ''});
    this.sessionValidity = el('span', {class: 'session__detail', text: ''});
    // The session panel: what the token allows, how long it is valid, its renewals and the last error (a disclosure,
    // so it costs one line until opened), and "Why can't I send?" (GET /token/explain), answered in a status line.
    const dd = (id: string): HTMLElement => el('dd', {attrs: {id}});
    this.panelScope = dd('session-scope');
    this.panelValidity = dd('session-validity');
    this.panelRenewals = dd('session-renewals');
    this.panelError = dd('session-last-error');
    this.panelTab = dd('session-tab');
    this.panelClock = dd('session-clock');
    this.panelClockTerm = el('dt', {text: 'Clock'});
    this.explainButton = el('button', {class: 'button button--quiet', attrs: {type: 'button'}, text: 'Why can’t I send?'});
    this.explainButton.addEventListener('click', () => callbacks.onExplain());
    this.explainResult = el('p', {class: 'session-panel__explain', attrs: {id: 'session-explain', role: 'status'}});
    const panel = el(
      'details',
      {class: 'session-panel', attrs: {id: 'session-panel'}},
      el('summary', {text: 'Session details'}),
      el(
        'dl',
        {class: 'session-panel__list'},
        el('dt', {text: 'Access'}),
        this.panelScope,
        el('dt', {text: 'Valid for'}),
        this.panelValidity,
        el('dt', {text: 'Renewals'}),
        this.panelRenewals,
        el('dt', {text: 'Last error'}),
        this.panelError,
        el('dt', {text: 'Tabs'}),
        this.panelTab,
        this.panelClockTerm,
        this.panelClock,
      ),
      this.explainButton,
      this.explainResult,
    );
    const account = el(
      'section',
      {class: 'account', attrs: {'aria-label': 'Your account'}},
      el(
        'p',
        {class: 'whoami'},
        el('span', {class: 'whoami__label', text: 'Signed in as '}),
        el('span', {class: 'whoami__name', text: who.label}),
        this.tierBadge,
      ),
      el('p', {class: 'session', attrs: {id: 'session-status'}}, this.sessionSummary, this.sessionRenewal, this.sessionValidity),
      panel,
      logout,
    );

    // Rooms: join form and the recent list.
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
      callbacks.onJoin(this.joinInput.value);
    });
    this.roomList = el('ul', {class: 'rooms__list', attrs: {'aria-labelledby': 'rooms-title'}});
    this.roomList.addEventListener('click', event => {
      const target = event.target instanceof Element ? event.target.closest('button[data-room]') : null;
      const room = target?.getAttribute('data-room');
      if (room) {
        callbacks.onSelectRoom(room);
      }
    });
    const nav = el(
      'nav',
      {class: 'rooms', attrs: {'aria-label': 'Rooms'}},
      joinForm,
      el('h2', {class: 'rooms__title', attrs: {id: 'rooms-title'}, text: 'Recent rooms'}),
      this.roomList,
    );
    const drawer = el('div', {class: 'drawer', attrs: {id: 'rooms-drawer'}}, nav, account);

    // The open room: title, state, messages, composer.
    this.roomTitle = el('h1', {class: 'room__title', attrs: {id: 'room-title'}, text: ''});
    this.roomState = el('span', {class: 'room__state', text: ''});
    this.leaveButton = el('button', {class: 'button button--quiet', attrs: {type: 'button'}, text: 'Leave room'});
    this.leaveButton.addEventListener('click', () => {
      if (this.activeRoom !== null) {
        callbacks.onLeaveRoom(this.activeRoom);
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

    this.composerLabel = el('label', {class: 'sr-only', attrs: {for: 'composer-input'}, text: 'Message'});
    this.composerInput = el('textarea', {
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
    this.composerNote = el('p', {class: 'composer__note', attrs: {id: 'composer-note'}});
    this.composerError = el('p', {class: 'composer__error', attrs: {id: 'composer-error', role: 'alert'}});
    const composer = el(
      'form',
      {class: 'composer', attrs: {'aria-label': 'Send a message'}},
      this.composerLabel,
      el('div', {class: 'composer__row'}, this.composerInput, this.sendButton),
      this.composerNote,
      this.composerError,
    );
    composer.addEventListener('submit', event => {
      event.preventDefault();
      this.trySend(callbacks);
    });
    this.composerInput.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.trySend(callbacks);
      }
    });
    this.composerInput.addEventListener('input', () => {
      this.autosize();
      if (this.composerError.textContent !== '') {
        setText(this.composerError, '');
      }
    });

    this.main = el(
      'main',
      {class: 'room', attrs: {id: 'room', 'aria-labelledby': 'room-title'}},
      el(
        'div',
        {class: 'room__header'},
        el('div', {class: 'room__heading'}, this.roomTitle, this.roomState),
        this.leaveButton,
      ),
      this.scroller,
      composer,
    );

    const skip = el('a', {class: 'skip-link', attrs: {href: '#composer-input'}, text: 'Skip to the message box'});
    this.layout = el('div', {class: 'layout'}, drawer, this.main);
    replaceChildren(root, skip, header, this.layout);

    // Escape closes the drawer and gives the focus back to its button.
    for (const part of [header, drawer]) {
      part.addEventListener('keydown', event => {
        if (event.key === 'Escape' && this.drawerOpen) {
          event.preventDefault();
          this.setDrawer(false, true);
        }
      });
    }
    this.narrow = typeof window.matchMedia === 'function' ? window.matchMedia(NARROW_QUERY) : null;
    const onWidth = (): void => {
      if (!this.layout.isConnected) {
        this.narrow?.removeEventListener('change', onWidth); // this view was replaced (signed out)
      } else if (this.narrow?.matches !== true && this.drawerOpen) {
        this.setDrawer(false, false); // wide again: the rooms are beside the conversation, nothing to close
      }
    };
    this.narrow?.addEventListener('change', onWidth);
    // A viewport that shrinks (an on-screen keyboard opening) keeps the newest message in view.
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => {
        if (this.stickToEnd) {
          this.scrollToEnd();
        }
      }).observe(this.scroller);
    }
  }

  /**
   * Opens or closes the rooms drawer (phone layout). Open: it takes the conversation's place (inert, hidden) and the focus
   * moves in (the open room's button, else the join field). Closed: the focus returns to the Rooms button when asked
   * (Escape, the button) or when it was inside the drawer.
   */
  setDrawer(open: boolean, returnFocus: boolean): void {
    const drawer = this.layout.querySelector<HTMLElement>('.drawer');
    const focusInside = drawer !== null && drawer.contains(document.activeElement);
    this.drawerOpen = open;
    this.drawerToggle.setAttribute('aria-expanded', String(open));
    this.layout.classList.toggle('layout--drawer-open', open);
    this.main.inert = open && this.narrow?.matches === true;
    if (open) {
      const target =
        this.roomList.querySelector<HTMLButtonElement>('button[aria-current="true"]') ??
        this.roomList.querySelector<HTMLButtonElement>('button[data-room]') ??
        this.joinInput;
      target.focus();
    } else if (this.narrow?.matches === true && (returnFocus || focusInside)) {
      this.drawerToggle.focus();
    }
  }

  private trySend(callbacks: ChatCallbacks): void {
    const text = this.composerInput.value;
    if (!this.composerAllowed || this.sending || text.trim() === '') {
      return;
    }
    callbacks.onSend(text);
  }

  private autosize(): void {
    // Grows with its content up to a limit (CSSOM, allowed under a strict CSP; no style attribute in markup).
    this.composerInput.style.height = 'auto';
    this.composerInput.style.height = `${Math.min(this.composerInput.scrollHeight, 160)}px`;
  }

  /** A renewed token may carry another tier (a Cognito group change): the badge follows it. */
  setTier(tier: string): void {
    if (!this.tierBadge.classList.contains('badge--guest')) {
      setText(this.tierBadge, tier);
    }
  }

  setConnection(state: ConnectionState): void {
    setText(this.connection, CONNECTION_LABELS[state]);
    this.connectionDot.className = `dot dot--${state}`;
  }

  /** The session's renewal: a summary ("Access renews automatically") and the times, for the curious; null: none. */
  setSessionStatus(text: SessionStatusText | null): void {
    setText(this.sessionSummary, text?.summary ?? '');
    setText(this.sessionRenewal, text?.renewal ?? '');
    setText(this.sessionValidity, text?.validity ?? '');
  }

  /** The session panel's lines (updated every second; the panel is not a live region, so nothing is announced). */
  setSessionPanel(info: SessionPanelInfo): void {
    setText(this.panelScope, info.scope);
    setText(this.panelValidity, info.validity);
    setText(this.panelRenewals, info.renewals);
    setText(this.panelError, info.lastError);
    setText(this.panelTab, info.tab);
    setText(this.panelClock, info.clock ?? '');
    this.panelClock.hidden = info.clock === null;
    this.panelClockTerm.hidden = info.clock === null;
  }

  /** "Why can't I send?": under way (null) or its answer, said in the panel's status line. */
  showExplanation(text: string | null): void {
    this.explainButton.disabled = text === null;
    setText(this.explainResult, text ?? 'Asking the token service…');
  }

  setRooms(entries: readonly RoomEntry[]): void {
    const items = entries.map(entry => {
      const button = el(
        'button',
        {
          class: ['room-link', entry.active && 'room-link--active'],
          attrs: {type: 'button', 'data-room': entry.room, 'aria-current': entry.active ? 'true' : null},
        },
        el('span', {class: ['dot', `dot--room-${entry.status}`], attrs: {'aria-hidden': 'true'}}),
        el('span', {class: 'room-link__name', text: entry.room}),
        el('span', {class: 'sr-only', text: `, ${ROOM_STATUS_LABELS[entry.status]}`}),
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
    // The Rooms button tells, while the drawer is closed, that other rooms have new messages.
    const unread = entries.reduce((sum, entry) => sum + (entry.active ? 0 : entry.unread), 0);
    replaceChildren(
      this.drawerUnread,
      el('span', {attrs: {'aria-hidden': 'true'}, text: unread > 99 ? '99+' : String(unread)}),
      el('span', {class: 'sr-only', text: `(${unread} unread)`}),
    );
    this.drawerUnread.hidden = unread === 0;
    // Keep keyboard focus on the same room button across re-renders.
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.getAttribute('data-room') : null;
    replaceChildren(this.roomList, ...items);
    if (focused !== null) {
      const again = this.roomList.querySelector<HTMLButtonElement>(`button[data-room="${CSS.escape(focused)}"]`);
      again?.focus();
    }
  }

  /** Shows a room (its messages so far) as the open one. */
  openRoom(room: string | null, messages: readonly ShownMessage[]): void {
    this.activeRoom = room;
    setText(this.roomTitle, room === null ? 'No room open' : room);
    this.roomTitle.classList.toggle('room__title--none', room === null);
    if (room === null) {
      setText(this.roomState, ''); // no room: no room state ("live" was the last room's)
    }
    this.roomState.hidden = room === null;
    this.leaveButton.hidden = room === null;
    setText(this.composerLabel, room === null ? 'Message' : `Message to ${room}`);
    this.composerInput.placeholder = room === null ? 'Join a room to chat' : `Message ${room}`;
    setText(this.composerError, '');
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
    this.setDrawer(false, false); // a room was picked (or left): back to the conversation
    this.stickToEnd = true;
    this.scrollToEnd();
  }

  setRoomState(status: RoomStatus | 'idle', detail: string | null): void {
    setText(this.roomState, detail ?? ROOM_STATUS_LABELS[status]);
    this.roomState.className = `room__state room__state--${status}`;
    this.roomState.hidden = this.activeRoom === null;
  }

  appendMessage(message: ShownMessage): void {
    const nearEnd = this.isNearEnd();
    this.log.append(this.messageItem(message));
    this.emptyNote.hidden = true;
    if (nearEnd || message.sender.own) {
      this.stickToEnd = true;
      this.scrollToEnd();
    }
  }

  /** Whether sending is possible and, if not, why (shown under the composer). */
  setComposer(allowed: boolean, note: string): void {
    this.composerAllowed = allowed;
    this.composerInput.disabled = !allowed;
    this.sendButton.disabled = !allowed || this.sending;
    setText(this.composerNote, note);
    this.composerNote.hidden = note === '';
  }

  setSending(sending: boolean): void {
    this.sending = sending;
    this.sendButton.disabled = !this.composerAllowed || sending;
    setText(this.sendButton, sending ? 'Sending…' : 'Send');
  }

  /** A sent message: clear the box and keep the focus there. */
  clearComposer(): void {
    this.composerInput.value = '';
    this.autosize();
    setText(this.composerError, '');
    this.composerInput.focus();
  }

  showComposerError(message: string): void {
    setText(this.composerError, message);
  }

  showJoinError(message: string): void {
    setText(this.joinError, message);
    this.joinInput.setAttribute('aria-invalid', message === '' ? 'false' : 'true');
    if (message !== '') {
      this.joinInput.focus();
    }
  }

  clearJoin(): void {
    this.joinInput.value = '';
    this.showJoinError('');
  }

  focusComposer(): void {
    if (!this.composerInput.disabled) {
      this.composerInput.focus();
    }
  }

  private messageItem(message: ShownMessage): HTMLLIElement {
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
      {
        class: [
          'msg',
          `msg--${sender.kind}`,
          sender.own && 'msg--own',
          message.raw && 'msg--raw',
        ],
      },
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

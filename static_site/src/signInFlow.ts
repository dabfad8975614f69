// Signing in and out: the auth mode's form (authModes.ts), Cognito's steps, Session mode's check of the host's
// cookie, "Continue as …" (another tab's access), and the signed-out screen. Each attempt is numbered
// (Handles.serial): an answer that comes after a cancel, a sign-out or a newer attempt is ignored.

import * as S from './appState';
import {AUTH_MODES, type AuthMode} from './authModes';
import {tokenStatus} from './chatState';
import {CognitoError, CognitoIdentity, type CognitoAuthStep, type CognitoPort} from './cognito';
import {ResumeWatch, type ExplainOutcome} from './control';
import {signOutOfHost} from './hostLogin';
import {
  PAUSED_NOTICE,
  PAUSED_PROGRESS,
  REVOKED_NOTICE,
  RESUMING_PROGRESS,
  SIGNED_OUT_TEXT,
  signInErrorText,
  signInProgressText,
  signOutFailedText,
} from './notices';
import {RetryingCall} from './retry';
import {DEFAULT_ROOM, topicsForToken} from './roomList';
import type {Context} from './runtime';
import {TVM_TIMEOUT_MS, type ActiveToken, type SessionCredentials, type SessionError, type SessionStatus} from './session';
import {explainWith, makeSession, tabDeps} from './sessionWiring';
import {liveUsers, TabSession, type TabSessionEvents} from './tabs';
import {isPauseRefusal, TvmError} from './tvm';
import {liveUserLabel} from './viewModel';

/** What the chat flow (chatFlow.ts) provides to a sign-in: where its first token goes, and its tab's events. */
export interface ChatEntry {
  enter(tab: TabSession, first: ActiveToken): void;
  tabEvents(): TabSessionEvents;
  onToken(active: ActiveToken): void;
  onFatal(error: SessionError): void;
}

export class SignInFlow {
  readonly mode: AuthMode;
  /** Cognito's challenge session for the new password (opaque; kept out of the state, which the hook reads). */
  private newPasswordSession = '';

  constructor(
    private readonly ctx: Context,
    private readonly chat: ChatEntry,
  ) {
    this.mode = AUTH_MODES[ctx.config.authMethod];
  }

  private get store(): Context['store'] {
    return this.ctx.store;
  }

  /** The first screen. Session mode first looks for a tab of this browser signed in already, then at the cookie. */
  start(): void {
    if (this.mode.form !== 'host') {
      this.offerContinue();
      return;
    }
    const form = this.formSerial();
    this.store.update(s => S.busy(s, 'Checking your sign-in…'));
    void liveUsers(this.ctx.deps.tabs.locks, this.ctx.deployment).then(users => {
      if (this.formSerial() !== form) {
        return;
      }
      if (users.length === 0) {
        this.checkHostSession();
      } else {
        this.store.update(s => S.continueUsers(S.idle(s), users));
      }
    });
  }

  /** "Continue as alice" when a tab of this browser is signed in (its lock is held): asked once per sign-in screen. */
  private offerContinue(): void {
    const locks = this.ctx.deps.tabs.locks;
    const form = this.formSerial();
    if (locks === null || form === null) {
      return;
    }
    void liveUsers(locks, this.ctx.deployment).then(users => {
      if (this.formSerial() === form && users.length > 0) {
        this.store.update(s => S.continueUsers(s, users));
      }
    });
  }

  private formSerial(): number | null {
    const phase = this.store.state.phase;
    return phase.kind === 'chat' ? null : phase.screen.formSerial;
  }

  /** A fresh sign-in screen (signed out, a renewal refused for good), with why; another tab's access is offered. */
  showLogin(notice: string | null): void {
    this.store.update(s => S.signedOut(s, this.mode.form, notice));
    this.offerContinue();
  }

  /** Continue as `user`: the leading tab of that user hands over its token and what renewal needs. No vend. */
  continueAs(user: string): void {
    const serial = ++this.ctx.handles.serial;
    const form = this.formSerial();
    const label = liveUserLabel(user);
    this.store.update(s => S.busy(s, `Continuing as ${label}…`));
    const recent = this.store.state.recent;
    void TabSession.continueAs(user, this.ctx.deployment, topicsForToken(recent[0] ?? DEFAULT_ROOM, recent), this.chat.tabEvents(), tabDeps(this.ctx)).then(
      tab => {
        if (serial !== this.ctx.handles.serial || this.formSerial() !== form) {
          tab?.stop();
          return;
        }
        const first = tab?.current ?? null;
        if (tab === null || first === null) {
          tab?.stop();
          this.store.update(s => S.formError(s, `No tab signed in as ${label} answered. Sign in instead.`));
          this.offerContinue();
          return;
        }
        this.chat.enter(tab, first);
      },
    );
  }

  /** The form's values, as typed. */
  submit(values: readonly string[]): void {
    const request = this.mode.request(values);
    if (request.kind === 'invalid') {
      this.store.update(s => S.formError(s, request.text, request.field));
    } else if (request.kind === 'cognito') {
      const {username, password} = request;
      this.cognitoSignIn(username, (port, signal) => port.signIn(username, password, signal));
    } else {
      this.startSession(request.credentials);
    }
  }

  /** NEW_PASSWORD_REQUIRED: both fields as typed; the pool's policy error is shown if Cognito refuses it. */
  submitNewPassword(password: string, confirmation: string): void {
    const phase = this.store.state.phase;
    if (phase.kind === 'chat') {
      return;
    }
    const {username, session} = {username: phase.screen.username, session: this.newPasswordSession};
    if (password === '') {
      this.store.update(s => S.formError(s, 'Enter a new password.'));
    } else if (password !== confirmation) {
      this.store.update(s => S.formError(s, 'The two passwords differ.', 'password'));
    } else {
      this.cognitoSignIn(username, (port, signal) => port.completeNewPassword(username, password, session, signal));
    }
  }

  backToLogin(): void {
    this.cancel();
    this.showLogin(null);
  }

  /**
   * A Cognito sign-in step (the password, or a new password), retried with backoff while Cognito is unavailable and
   * shown on the form as the TVM's retries are. Tokens start the session; a temporary password asks for a new one.
   */
  private cognitoSignIn(username: string, step: (port: CognitoPort, signal: AbortSignal) => Promise<CognitoAuthStep>): void {
    const port = this.ctx.deps.cognito;
    if (port === null) {
      this.store.update(s => S.formError(s, 'This site is not configured for Amazon Cognito (config.js has no cognito settings).'));
      return;
    }
    const handles = this.ctx.handles;
    const serial = ++handles.serial;
    const call = new RetryingCall<CognitoAuthStep>(signal => step(port, signal), status => this.onStatus(status), this.ctx.deps.scheduler);
    handles.signInCall = call;
    this.store.update(s => S.signInFailure(S.busy(s, 'Signing in…'), null));
    const current = (): boolean => serial === handles.serial && handles.signInCall === call;
    call.run().then(
      result => {
        if (!current()) {
          return;
        }
        handles.signInCall = null;
        if (result.kind === 'tokens') {
          handles.identity = new CognitoIdentity(username, result.tokens, port, {now: this.ctx.deps.scheduler.wallNow});
          this.startSession({kind: 'identity', source: handles.identity});
        } else if (result.kind === 'new_password') {
          this.newPasswordSession = result.session;
          this.store.update(s => S.newPasswordForm(s, result.username));
        } else {
          this.store.update(s => S.formError(s, `This account needs a sign-in step this site does not support (${result.challenge}).`));
        }
      },
      (error: SessionError) => {
        if (!current()) {
          return;
        }
        handles.signInCall = null;
        if (error.name === 'CognitoError' && error.kind === 'session_expired' && this.onNewPasswordForm()) {
          this.showLogin('The password change took too long. Sign in again with your temporary password.');
          return;
        }
        const field = error.kind === 'bad_credentials' || error.kind === 'password_rejected' ? 'password' : 'first';
        this.store.update(s => S.formError(s, signInErrorText(error, this.ctx.config.authMethod), field));
      },
    );
  }

  private onNewPasswordForm(): boolean {
    const phase = this.store.state.phase;
    return phase.kind !== 'chat' && phase.screen.form === 'new-password';
  }

  /** Session mode: ask for a token with the host's cookie; a 401 (nobody signed in) leaves the signed-out screen. */
  checkHostSession(): void {
    this.startSession({kind: 'cookie'});
  }

  /**
   * Paused by the operator (the control channel said so, or a renewal was refused for it): everything stops as at a
   * sign-out but the credentials (and a Cognito identity) stay in memory. A page without a token cannot hear the
   * resume, so it asks `GET /token/explain` (which mints nothing) with backoff; once served, it waits a random part
   * of half a minute, so that a tier's paused pages do not all ask for a token in the same second, and signs in again
   * with them. Cancel (or a revocation found meanwhile) ends it as a sign-out does.
   */
  pause(credentials: SessionCredentials | null): void {
    const handles = this.ctx.handles;
    const identity = handles.identity;
    handles.identity = null; // kept: stopAll would sign it out
    this.logout(PAUSED_NOTICE);
    if (credentials === null) {
      identity?.signOut();
      return; // nothing to come back with: the signed-out screen says why
    }
    handles.identity = identity;
    const serial = handles.serial;
    const {scheduler} = this.ctx.deps;
    const watch = new ResumeWatch(
      {explain: () => this.explainOutcome(credentials), setTimer: scheduler.setTimer, clearTimer: scheduler.clearTimer, random: scheduler.random},
      () => {
        if (serial === handles.serial) {
          handles.resumeWatch = null;
          this.startSession(credentials, true);
        }
      },
      () => {
        if (serial === handles.serial) {
          this.logout(REVOKED_NOTICE);
        }
      },
      () => {
        if (serial === handles.serial) {
          this.store.update(s => S.busy(s, RESUMING_PROGRESS));
        }
      },
    );
    handles.resumeWatch = watch;
    this.store.update(s => S.busy(s, PAUSED_PROGRESS));
    watch.start();
  }

  /** `GET /token/explain` with these credentials, as what a paused page needs to know. */
  private async explainOutcome(credentials: SessionCredentials): Promise<ExplainOutcome> {
    try {
      await explainWith(this.ctx, credentials, []);
      return 'served';
    } catch (error) {
      if (error instanceof TvmError && error.kind === 'blocked') {
        return error.code === 'revoked' ? 'revoked' : 'paused';
      }
      if (error instanceof CognitoError && error.kind !== 'unavailable') {
        return 'revoked'; // the Cognito session ended meanwhile: nothing to come back with
      }
      return 'unavailable';
    }
  }

  /**
   * Gets the first token for these credentials, then enters the chat (or says why not, on the form). `resuming`:
   * after a pause, a refusal for a pause again goes back to waiting.
   */
  private startSession(credentials: SessionCredentials, resuming = false): void {
    const handles = this.ctx.handles;
    const serial = ++handles.serial;
    const topics = (): string[] => {
      const recent = this.store.state.recent;
      return topicsForToken(recent[0] ?? DEFAULT_ROOM, recent);
    };
    const session = makeSession(this.ctx, credentials, topics(), {
      // Once signed in, the tab relays its session's events (and tells the user's other tabs).
      onToken: active => (handles.tab !== null ? handles.tab.sessionToken(active) : this.chat.onToken(active)),
      onStatus: status => (handles.tab !== null ? handles.tab.sessionStatus(status) : this.onStatus(status)),
      onFatal: error => (handles.tab !== null ? handles.tab.sessionFatal(error) : this.chat.onFatal(error)),
    });
    handles.session = session;
    this.store.update(s => S.signInFailure(S.busy(s, credentials.kind === 'cookie' ? 'Checking your sign-in…' : 'Signing in…'), null));
    const current = (): boolean => serial === handles.serial && handles.session === session;
    session.start().then(
      active => {
        if (current()) {
          handles.session = null;
          const tab = TabSession.afterSignIn(session, active, this.ctx.deployment, topics(), this.chat.tabEvents(), tabDeps(this.ctx));
          this.chat.enter(tab, active);
        }
      },
      (error: SessionError) => {
        if (!current()) {
          return;
        }
        handles.session = null;
        if (resuming && isPauseRefusal(error)) {
          this.pause(credentials); // paused again meanwhile
          return;
        }
        handles.endIdentity();
        if (credentials.kind === 'cookie' && error.name === 'TvmError' && error.kind === 'unauthenticated') {
          this.store.update(S.idle); // nobody is signed in on the host: the signed-out screen, no error
          return;
        }
        const text = signInErrorText(error, this.ctx.config.authMethod);
        if (this.onNewPasswordForm()) {
          this.showLogin(text); // the new password is set; what failed is the token: sign in with it again
          return;
        }
        this.store.update(s => S.formError(s, text, this.mode.errorField(error)));
      },
    );
  }

  /** A token request's status: while signing in, the progress line (a service that cannot check now is retried). */
  onStatus(status: SessionStatus): void {
    const state = this.store.state;
    if (state.phase.kind === 'chat') {
      this.store.update(s => tokenStatus(s, status));
      return;
    }
    if (state.phase.kind !== 'signing-in') {
      return;
    }
    const last = state.phase.lastError;
    const text = signInProgressText(status, this.ctx.deps.scheduler.now(), last);
    const nextError = status.kind === 'retrying' ? status.error : status.kind === 'ok' ? null : last;
    this.store.update(s => S.signInFailure(text === null ? s : S.busy(s, text, status.kind === 'retrying'), nextError));
  }

  cancel(): void {
    this.ctx.handles.cancelSignIn();
    this.store.update(S.idle);
  }

  retryNow(): void {
    this.ctx.handles.signInCall?.retryNow();
    this.ctx.handles.session?.retryNow();
  }

  /** Forget everything here at once and show the sign-in screen with `notice`. */
  logout(notice: string | null): void {
    this.ctx.handles.stopAll();
    this.ctx.waiters.settle(false);
    this.ctx.actions = null;
    this.showLogin(notice);
  }

  /**
   * The person signed out: every tab of this user signs out too; in Session mode also end the host's login
   * (`POST {logoutUrl}`), then the signed-out screen says whether the host confirmed it.
   */
  signOut(): void {
    this.ctx.handles.tab?.logout();
    const host = this.ctx.config.session;
    if (host === null) {
      this.logout(SIGNED_OUT_TEXT);
      return;
    }
    this.logout(null);
    this.store.update(s => S.busy(s, 'Signing out…'));
    const serial = this.ctx.handles.serial;
    void signOutOfHost(host, {fetchFn: this.ctx.deps.fetchFn, timeoutMs: TVM_TIMEOUT_MS}).then(result => {
      if (serial !== this.ctx.handles.serial) {
        return; // cancelled, or signed in again meanwhile
      }
      this.showLogin(result.ok ? SIGNED_OUT_TEXT : null);
      if (!result.ok) {
        this.store.update(s => S.formError(s, signOutFailedText(result.reason)));
      }
    });
  }
}

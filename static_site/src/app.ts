// The controller: login, the session's tokens, the rooms' subscriptions and the views, wired together.

import {CognitoIdentity, type CognitoAuthStep, type CognitoPort} from './cognito';
import {cognitoEndpoint, type AppConfig} from './config';
import {deriveConnectionState, type ConnectionState} from './connection';
import {
  decodeChatMessage,
  describeSender,
  encodeChatMessage,
  MAX_MESSAGE_LENGTH,
  validateDisplayName,
  type SenderKind,
} from './messages';
import {createTopicClient, topicsPort} from './momento';
import {signInHref, signOutOfHost} from './hostLogin';
import {
  sessionStatusText,
  SIGNED_OUT_TEXT,
  signedOutText,
  signInErrorText,
  signInProgressText,
  signOutFailedText,
  unreachableRoomText,
} from './notices';
import {RetryingCall} from './retry';
import {
  DEFAULT_ROOM,
  forgetRecent,
  normalizeRoomName,
  parseStoredRecent,
  selectLiveRooms,
  topicsForToken,
  touchRecent,
} from './roomList';
import {AUTHENTICATION_ERROR, PERMISSION_ERROR, RoomHub, TRANSPORT_ERRORS, type ReceivedItem, type RoomStatus} from './rooms';
import {
  Session,
  TVM_TIMEOUT_MS,
  type ActiveToken,
  type SessionCredentials,
  type SessionError,
  type SessionStatus,
} from './session';
import {canPublish, canSubscribe} from './tvm';
import {
  ChatView,
  HostSignInView,
  LoginView,
  NewPasswordView,
  type LoginInput,
  type RoomEntry,
  type ShownMessage,
  type SignInForm,
} from './ui';

const RECENT_ROOMS_KEY = 'momento-chat.recent-rooms';
/** Messages kept per room in memory (the page only shows what arrived while it was open). */
const MAX_MESSAGES_PER_ROOM = 500;
/** How long sending waits for a reconnecting room to be subscribed again before publishing anyway. */
const SEND_WAIT_FOR_LIVE_MS = 5_000;
/** How long a publish that hit an expired token waits for the renewed one before giving up. */
const AUTH_RETRY_WAIT_MS = 10_000;

export interface AppDeps {
  readonly fetchFn: typeof fetch;
  readonly now: () => number;
  readonly random: () => number;
  /** localStorage, for recent room NAMES only (never credentials or tokens); null when unavailable. */
  readonly storage: Storage | null;
  /** Amazon Cognito (cognitoClient.ts), in AmazonCognito mode; null otherwise. */
  readonly cognito: CognitoPort | null;
}

interface StoredMessage extends ShownMessage {
  readonly room: string;
  readonly sequenceNumber: number;
  readonly page: number | null;
  readonly receivedAt: Date;
}

/** What `window.__chat.state()` returns: read-only, JSON-serialisable, no secrets. */
export interface ChatTestState {
  /** 'signed-out': Session mode's signed-out screen (nobody signed in on the host); 'login' there while checking. */
  readonly view: 'login' | 'signed-out' | 'chat' | 'config-error';
  readonly connection: ConnectionState | null;
  readonly tokenExpiresAt: number | null;
  readonly tokenId: string | null;
  readonly tier: string | null;
  readonly role: string | null;
  readonly activeRoom: string | null;
  readonly rooms: readonly {room: string; status: RoomStatus | 'idle'; subscriptions: number; unread: number}[];
  readonly refreshCount: number;
  /** AmazonCognito: how many times the Cognito session was refreshed (REFRESH_TOKEN_AUTH) since sign-in; else 0. */
  readonly identityRefreshCount: number;
  readonly tokenStatus: SessionStatus['kind'] | null;
  readonly received: number;
  readonly duplicatesDropped: number;
  readonly canSend: boolean;
  /** Only when view is 'config-error': what is wrong with config.js. */
  readonly problems?: readonly string[];
}

export interface ChatTestMessage {
  readonly room: string;
  readonly sequenceNumber: number;
  readonly page: number | null;
  readonly sender: string;
  readonly senderKind: SenderKind;
  readonly tokenId: string;
  readonly own: boolean;
  readonly text: string;
  readonly raw: boolean;
  readonly time: string;
}

export class ChatApp {
  private login: SignInForm | null = null;
  private chat: ChatView | null = null;
  private session: Session | null = null;
  /** AmazonCognito: the sign-in step under way (InitiateAuth or RespondToAuthChallenge, retried while unavailable). */
  private signInCall: RetryingCall<CognitoAuthStep> | null = null;
  /** AmazonCognito: the signed-in user's tokens (in memory only), from sign-in to sign-out. */
  private identity: CognitoIdentity | null = null;
  private hub: RoomHub | null = null;
  private token: ActiveToken | null = null;
  private tokenStatus: SessionStatus | null = null;
  /** The last failure while signing in, for the progress line of the attempt that follows it. */
  private signInError: SessionError | null = null;
  private recent: string[];
  private active: string | null = null;
  private messages = new Map<string, StoredMessage[]>();
  private unread = new Map<string, number>();
  private roomStatus = new Map<string, {status: RoomStatus; detail: string | null}>();
  private connection: ConnectionState = 'connecting';
  private everLive = false;
  private refreshCount = 0;
  private ticker: number | null = null;
  private loginSerial = 0;
  private tokenWaiters: ((ok: boolean) => void)[] = [];
  private readonly listeners: [EventTarget, string, EventListener][] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly config: AppConfig,
    private readonly deps: AppDeps,
  ) {
    this.recent = parseStoredRecent(this.readStorage());
  }

  start(): void {
    this.showLogin(null);
    if (this.config.session !== null) {
      this.checkHostSession(); // Session mode: the host's cookie may already sign us in
    }
  }

  // --- login ----------------------------------------------------------------------------------------------------

  /** Amazon Cognito's host, named on the sign-in forms in AmazonCognito mode. */
  private get cognitoHost(): string | null {
    return this.config.cognito === null ? null : new URL(cognitoEndpoint(this.config.cognito)).host;
  }

  private showLogin(notice: string | null): void {
    this.chat = null;
    const host = this.config.session;
    if (host !== null) {
      this.login = new HostSignInView(
        this.root,
        signInHref(host, window.location),
        new URL(this.config.apiUrl).host,
        {
          onCheck: () => this.checkHostSession(),
          onCancel: () => this.cancelLogin(),
          onRetryNow: () => this.retrySignInNow(),
        },
        notice,
      );
      return;
    }
    this.login = new LoginView(
      this.root,
      this.config.authMethod,
      new URL(this.config.apiUrl).host,
      {
        onSubmit: input => this.submitLogin(input),
        onCancel: () => this.cancelLogin(),
        onRetryNow: () => this.retrySignInNow(),
      },
      notice,
      this.cognitoHost,
    );
  }

  private retrySignInNow(): void {
    this.signInCall?.retryNow();
    this.session?.retryNow();
  }

  private submitLogin(input: LoginInput): void {
    const login = this.login;
    if (login === null) {
      return;
    }
    let credentials: SessionCredentials;
    if (input.kind === 'open') {
      const name = validateDisplayName(input.name);
      if (!name.ok) {
        login.showError(name.reason);
        return;
      }
      credentials = {kind: 'open', name: name.name};
    } else {
      if (input.username === '' || input.password === '') {
        login.showError(input.username === '' ? 'Enter your username.' : 'Enter your password.', input.username === '' ? 'first' : 'password');
        return;
      }
      if (this.config.authMethod === 'AmazonCognito') {
        this.cognitoSignIn(input.username, (port, signal) => port.signIn(input.username, input.password, signal));
        return;
      }
      credentials = {kind: 'basic', username: input.username, password: input.password};
    }
    this.startSession(credentials);
  }

  /**
   * A Cognito sign-in step (the password, or a new password), retried with backoff while Cognito is unavailable and
   * shown on the form as the TVM's retries are. Tokens start the session; a temporary password asks for a new one.
   */
  private cognitoSignIn(username: string, step: (port: CognitoPort, signal: AbortSignal) => Promise<CognitoAuthStep>): void {
    const port = this.deps.cognito;
    const form = this.login;
    if (form === null) {
      return;
    }
    if (port === null) {
      form.showError('This site is not configured for Amazon Cognito (config.js has no cognito settings).');
      return;
    }
    const serial = ++this.loginSerial;
    this.signInError = null;
    const call = new RetryingCall<CognitoAuthStep>(
      signal => step(port, signal),
      status => this.onSessionStatus(status),
      this.timerDeps(),
    );
    this.signInCall = call;
    form.setBusy(true, 'Signing in…');
    call.run().then(
      result => {
        if (serial !== this.loginSerial || this.signInCall !== call) {
          return;
        }
        this.signInCall = null;
        this.tokenStatus = null;
        if (result.kind === 'tokens') {
          this.identity = new CognitoIdentity(username, result.tokens, port, {now: this.deps.now});
          this.startSession({kind: 'identity', source: this.identity});
        } else if (result.kind === 'new_password') {
          this.showNewPassword(result.username, result.session);
        } else {
          this.login?.showError(`This account needs a sign-in step this site does not support (${result.challenge}).`);
        }
      },
      (error: SessionError) => {
        if (serial !== this.loginSerial || this.signInCall !== call) {
          return;
        }
        this.signInCall = null;
        this.tokenStatus = null;
        if (error.name === 'CognitoError' && error.kind === 'session_expired' && this.login instanceof NewPasswordView) {
          this.showLogin('The password change took too long. Sign in again with your temporary password.');
          return;
        }
        const field = error.kind === 'bad_credentials' || error.kind === 'password_rejected' ? 'password' : 'first';
        this.login?.showError(signInErrorText(error, this.config.authMethod), field);
      },
    );
  }

  /** NEW_PASSWORD_REQUIRED: the form for the new password; the pool's policy error is shown if Cognito refuses it. */
  private showNewPassword(username: string, session: string): void {
    this.login = new NewPasswordView(this.root, username, this.cognitoHost ?? '', {
      onSubmit: (password, confirmation) => {
        if (password === '') {
          this.login?.showError('Enter a new password.');
        } else if (password !== confirmation) {
          this.login?.showError('The two passwords differ.', 'password');
        } else {
          this.cognitoSignIn(username, (port, signal) => port.completeNewPassword(username, password, session, signal));
        }
      },
      onCancel: () => this.cancelLogin(),
      onRetryNow: () => this.retrySignInNow(),
      onBack: () => {
        this.cancelLogin();
        this.showLogin(null);
      },
    });
  }

  private timerDeps(): {
    now: () => number;
    random: () => number;
    setTimer: (fn: () => void, ms: number) => number;
    clearTimer: (id: number) => void;
  } {
    return {
      now: this.deps.now,
      random: this.deps.random,
      setTimer: (fn, ms) => window.setTimeout(fn, ms),
      clearTimer: id => window.clearTimeout(id),
    };
  }

  /** Session mode: ask for a token with the host's cookie; a 401 (nobody signed in) leaves the signed-out screen. */
  private checkHostSession(): void {
    this.startSession({kind: 'cookie'});
  }

  /** Gets the first token for these credentials, then enters the chat (or says why not, on the form). */
  private startSession(credentials: SessionCredentials): void {
    const login = this.login;
    if (login === null) {
      return;
    }
    const serial = ++this.loginSerial;
    this.active = this.recent[0] ?? DEFAULT_ROOM;
    const session = new Session(
      this.config,
      credentials,
      topicsForToken(this.active, this.recent),
      {
        onToken: active => this.onToken(active),
        onStatus: status => this.onSessionStatus(status),
        onFatal: error => this.onFatal(error),
      },
      {fetchFn: this.deps.fetchFn, ...this.timerDeps()},
    );
    this.session = session;
    this.signInError = null;
    login.setBusy(true, credentials.kind === 'cookie' ? 'Checking your sign-in…' : 'Signing in…');
    session.start().then(
      active => {
        if (serial === this.loginSerial && this.session === session) {
          this.enterChat(active);
        }
      },
      (error: SessionError) => {
        if (serial === this.loginSerial && this.session === session) {
          this.session = null;
          this.endIdentity();
          if (credentials.kind === 'cookie' && error.name === 'TvmError' && error.kind === 'unauthenticated') {
            this.login?.setBusy(false); // nobody is signed in on the host: the signed-out screen, no error
            return;
          }
          const text = signInErrorText(error, this.config.authMethod);
          if (this.login instanceof NewPasswordView) {
            this.showLogin(text); // the new password is set; what failed is the token: sign in with it again
            return;
          }
          const field = error.kind === 'bad_credentials' || error.kind === 'unauthenticated' ? 'password' : 'first';
          this.login?.showError(text, field);
        }
      },
    );
  }

  /** AmazonCognito: forget the tokens and revoke the refresh token (best effort). */
  private endIdentity(): void {
    this.identity?.signOut();
    this.identity = null;
  }

  private cancelLogin(): void {
    this.loginSerial += 1;
    this.signInCall?.cancel();
    this.signInCall = null;
    this.session?.stop();
    this.session = null;
    this.endIdentity();
    this.tokenStatus = null;
    this.login?.setBusy(false);
  }

  private onSessionStatus(status: SessionStatus): void {
    this.tokenStatus = status;
    if (this.chat === null && this.login !== null) {
      // Signing in: a service that cannot check now is said to be unavailable (and retried), never a refusal.
      const text = signInProgressText(status, this.deps.now(), this.signInError);
      if (text !== null) {
        this.login.setBusy(true, text, status.kind === 'retrying');
      }
      this.signInError = status.kind === 'retrying' ? status.error : status.kind === 'ok' ? null : this.signInError;
    }
    if (this.chat !== null) {
      this.renderRooms();
      this.renderTimer();
    }
  }

  // --- chat -----------------------------------------------------------------------------------------------------

  private enterChat(active: ActiveToken): void {
    this.login = null;
    this.token = active;
    this.everLive = false;
    this.refreshCount = 0;
    this.connection = 'connecting';
    const me = describeSender(active.token.tokenId, active.token.tokenId);
    this.chat = new ChatView(this.root, {label: me.label, kind: me.kind, tier: active.token.scope.tier}, {
      onJoin: input => this.joinRoom(input),
      onSelectRoom: room => this.selectRoom(room),
      onLeaveRoom: room => this.leaveRoom(room),
      onSend: text => void this.send(text),
      onLogout: () => this.signOut(),
    });
    this.hub = new RoomHub(
      {
        onMessage: item => this.onMessage(item),
        onRoomStatus: (room, status, detail) => this.onRoomStatus(room, status, detail),
        onAuthError: () => this.session?.refreshNow('auth'),
      },
      this.timerDeps(),
    );
    this.installClient(active);
    const room = this.active ?? DEFAULT_ROOM;
    this.selectRoom(room);
    this.ticker = window.setInterval(() => this.tick(), 1000);
    this.listen(window, 'online', () => {
      this.hub?.retryNow();
      this.session?.refreshNow('overdue');
      this.updateConnection();
    });
    this.listen(window, 'offline', () => this.updateConnection());
    this.listen(document, 'visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        // Background tabs' timers are throttled: catch up on an overdue renewal at once.
        this.session?.refreshNow('overdue');
        this.tick();
      }
    });
    this.tick();
  }

  private installClient(active: ActiveToken): void {
    const hub = this.hub;
    if (hub === null) {
      return;
    }
    const token = active.token;
    const client = createTopicClient(token.authToken, this.config.momentoEndpointOverride);
    const cache = token.scope.topics?.cache ?? token.scope.cache;
    hub.setClient(topicsPort(client), cache, room => canSubscribe(token, room));
  }

  private onToken(active: ActiveToken): void {
    if (this.chat === null || this.hub === null) {
      return;
    }
    this.token = active;
    this.refreshCount += 1;
    this.chat.setTier(active.token.scope.tier);
    this.installClient(active);
    this.syncRooms();
    this.updateComposer();
    this.renderTimer();
    const waiters = this.tokenWaiters;
    this.tokenWaiters = [];
    for (const resolve of waiters) {
      resolve(true);
    }
  }

  private onFatal(error: SessionError): void {
    this.logout(signedOutText(error, this.config.authMethod));
  }

  /**
   * The person signed out: forget everything here at once; in Session mode also end the host's login
   * (`POST {logoutUrl}`), then the signed-out screen says whether the host confirmed it.
   */
  private signOut(): void {
    const host = this.config.session;
    if (host === null) {
      this.logout(SIGNED_OUT_TEXT);
      return;
    }
    this.logout(null);
    this.login?.setBusy(true, 'Signing out…');
    const serial = this.loginSerial;
    void signOutOfHost(host, {fetchFn: this.deps.fetchFn, timeoutMs: TVM_TIMEOUT_MS}).then(result => {
      if (serial !== this.loginSerial) {
        return; // cancelled, or signed in again meanwhile
      }
      this.showLogin(result.ok ? SIGNED_OUT_TEXT : null);
      if (!result.ok) {
        this.login?.showError(signOutFailedText(result.reason));
      }
    });
  }

  private logout(notice: string | null): void {
    this.loginSerial += 1;
    this.session?.stop();
    this.session = null;
    this.endIdentity();
    this.hub?.close();
    this.hub = null;
    this.token = null;
    this.tokenStatus = null;
    this.refreshCount = 0;
    this.messages = new Map();
    this.unread = new Map();
    this.roomStatus = new Map();
    if (this.ticker !== null) {
      window.clearInterval(this.ticker);
      this.ticker = null;
    }
    for (const [target, type, listener] of this.listeners.splice(0)) {
      target.removeEventListener(type, listener);
    }
    for (const resolve of this.tokenWaiters.splice(0)) {
      resolve(false);
    }
    this.showLogin(notice);
  }

  private listen(target: EventTarget, type: string, listener: EventListener): void {
    target.addEventListener(type, listener);
    this.listeners.push([target, type, listener]);
  }

  private joinRoom(input: string): void {
    const result = normalizeRoomName(input);
    if (!result.ok) {
      this.chat?.showJoinError(result.reason);
      return;
    }
    this.chat?.clearJoin();
    this.selectRoom(result.room);
  }

  private selectRoom(room: string): void {
    this.active = room;
    this.recent = touchRecent(this.recent, room);
    this.writeStorage();
    this.unread.set(room, 0);
    this.syncRooms();
    this.chat?.openRoom(room, this.messages.get(room) ?? []);
    this.renderRooms();
    this.updateComposer();
    this.chat?.focusComposer();
  }

  private leaveRoom(room: string): void {
    this.recent = forgetRecent(this.recent, room);
    this.writeStorage();
    this.messages.delete(room);
    this.unread.delete(room);
    const next = this.recent[0] ?? null;
    if (next !== null) {
      this.selectRoom(next);
      return;
    }
    this.active = null;
    this.syncRooms();
    this.chat?.openRoom(null, []);
    this.renderRooms();
    this.updateComposer();
  }

  /** Subscribes the rooms within budget that the token covers, and asks the session for a token covering the rest. */
  private syncRooms(): void {
    const live = selectLiveRooms(this.active, this.recent);
    const token = this.token?.token ?? null;
    this.hub?.setRooms(token === null ? [] : live.filter(room => canSubscribe(token, room)));
    this.session?.setTopics(topicsForToken(this.active, this.recent));
    for (const room of [...this.roomStatus.keys()]) {
      if (!live.includes(room)) {
        this.roomStatus.delete(room);
      }
    }
    this.renderRooms();
    this.updateConnection();
  }

  /** A room's state, including rooms the hub does not have (not covered by the token, or beyond the budget). */
  private statusOf(room: string): {status: RoomStatus | 'idle'; detail: string | null} {
    const token = this.token?.token ?? null;
    const live = selectLiveRooms(this.active, this.recent);
    if (!live.includes(room)) {
      return {status: 'idle', detail: null};
    }
    if (token === null || !canSubscribe(token, room)) {
      const renewing = this.tokenStatus !== null && this.tokenStatus.kind !== 'ok';
      return renewing
        ? {status: 'waiting', detail: null}
        : {status: 'denied', detail: `Your account (tier ${token?.scope.tier ?? '?'}) may not read this room.`};
    }
    return this.roomStatus.get(room) ?? {status: 'subscribing', detail: null};
  }

  private onRoomStatus(room: string, status: RoomStatus, detail: string | null): void {
    this.roomStatus.set(room, {status, detail});
    this.renderRooms();
    this.updateConnection();
  }

  private onMessage(item: ReceivedItem): void {
    const token = this.token?.token ?? null;
    const decoded = decodeChatMessage(item.value);
    const receivedAt = new Date(item.receivedAtMs);
    const message: StoredMessage = {
      room: item.room,
      sequenceNumber: item.sequenceNumber,
      page: item.page,
      sender: describeSender(item.tokenId, token?.tokenId ?? null),
      text: decoded.text,
      raw: decoded.kind === 'raw',
      time: decoded.kind === 'chat' && decoded.time !== null ? decoded.time : receivedAt,
      receivedAt,
    };
    const list = this.messages.get(item.room) ?? [];
    list.push(message);
    if (list.length > MAX_MESSAGES_PER_ROOM) {
      list.splice(0, list.length - MAX_MESSAGES_PER_ROOM);
    }
    this.messages.set(item.room, list);
    if (item.room === this.active) {
      this.chat?.appendMessage(message);
    } else {
      this.unread.set(item.room, (this.unread.get(item.room) ?? 0) + 1);
      this.renderRooms();
    }
  }

  private canSendNow(): boolean {
    const token = this.token?.token ?? null;
    return this.active !== null && token !== null && canPublish(token, this.active);
  }

  private updateComposer(): void {
    const chat = this.chat;
    const token = this.token?.token ?? null;
    if (chat === null) {
      return;
    }
    if (this.active === null) {
      chat.setComposer(false, 'Join a room to chat.');
    } else if (token !== null && token.scope.topics?.role === 'subscribe_only') {
      chat.setComposer(false, `Your account (tier ${token.scope.tier}) can read but not send.`);
    } else if (token !== null && !canPublish(token, this.active) && canSubscribe(token, this.active)) {
      chat.setComposer(false, `Your account (tier ${token.scope.tier}) may not send to this room.`);
    } else {
      chat.setComposer(true, '');
    }
  }

  private async send(text: string): Promise<void> {
    const chat = this.chat;
    const hub = this.hub;
    const room = this.active;
    if (chat === null || hub === null || room === null) {
      return;
    }
    const trimmed = text.trim();
    if (trimmed.length > MAX_MESSAGE_LENGTH) {
      chat.showComposerError(`Messages are at most ${MAX_MESSAGE_LENGTH} characters.`);
      return;
    }
    chat.setSending(true);
    if (!hub.isLive(room)) {
      // Reconnecting: resubscribe now and wait a little, so the message is not sent into a room we would not
      // see it come back from (a new subscription only gets what is published after it starts).
      hub.retryNow();
      await hub.whenLive(room, SEND_WAIT_FOR_LIVE_MS);
    }
    const payload = encodeChatMessage(trimmed, new Date(this.deps.now()));
    if (this.hub !== hub) {
      return; // logged out meanwhile
    }
    let result = await hub.publish(room, payload);
    if (!result.ok && result.code === AUTHENTICATION_ERROR) {
      // The token expired under us: the hub asked for a new one; send again once it is here.
      if (await this.nextToken()) {
        result = (await this.hub?.publish(room, payload)) ?? result;
      }
    }
    if (this.chat !== chat) {
      return; // logged out meanwhile
    }
    chat.setSending(false);
    if (result.ok) {
      chat.clearComposer();
      return;
    }
    const tier = this.token?.token.scope.tier ?? '?';
    if (result.code === PERMISSION_ERROR) {
      chat.showComposerError(`Not sent: your account (tier ${tier}) may not send to ${room}.`);
    } else if (result.code === 'NOT_CONNECTED') {
      chat.showComposerError('Not sent: still connecting. Try again in a moment.');
    } else if (TRANSPORT_ERRORS.has(result.code)) {
      chat.showComposerError(`Not sent: the chat service cannot be reached (${result.code}). Your message is still here; try again.`);
    } else {
      chat.showComposerError(`Not sent: the chat service refused it (${result.code}). Your message is still here; try again.`);
    }
    this.updateConnection();
    chat.focusComposer();
  }

  private nextToken(): Promise<boolean> {
    return new Promise(resolve => {
      const timer = window.setTimeout(() => {
        this.tokenWaiters = this.tokenWaiters.filter(w => w !== done);
        resolve(false);
      }, AUTH_RETRY_WAIT_MS);
      const done = (ok: boolean): void => {
        window.clearTimeout(timer);
        resolve(ok);
      };
      this.tokenWaiters.push(done);
    });
  }

  // --- rendering ------------------------------------------------------------------------------------------------

  private tick(): void {
    this.hub?.tick();
    const active = this.token;
    if (active !== null && this.deps.now() >= active.refreshAtMs + 2000) {
      this.session?.refreshNow('overdue');
    }
    this.renderTimer();
    this.updateConnection();
  }

  private renderTimer(): void {
    const chat = this.chat;
    if (chat === null) {
      return;
    }
    const active = this.token;
    if (active === null) {
      chat.setSessionStatus(null);
      return;
    }
    chat.setSessionStatus(sessionStatusText(active.expiryMs, active.refreshAtMs, this.tokenStatus, this.deps.now()));
  }

  private updateConnection(): void {
    const chat = this.chat;
    if (chat === null) {
      return;
    }
    const token = this.token;
    const live = selectLiveRooms(this.active, this.recent);
    const rooms = live
      .map(room => this.statusOf(room))
      .filter(s => s.status !== 'denied')
      .map(s => ({live: s.status === 'live'}));
    const state = deriveConnectionState({
      online: navigator.onLine,
      hasToken: token !== null && this.deps.now() < token.expiryMs,
      everLive: this.everLive,
      rooms,
      serviceUnreachable: this.hub?.unreachable ?? false,
    });
    if (state === 'live') {
      this.everLive = true;
    }
    this.connection = state;
    chat.setConnection(state);
    this.renderRoomState();
  }

  /** The open room's state; while Momento is unreachable, when the next attempt is. */
  private renderRoomState(): void {
    if (this.active === null) {
      return;
    }
    const s = this.statusOf(this.active);
    if (this.connection === 'unreachable' && s.status !== 'live' && s.status !== 'denied') {
      this.chat?.setRoomState(s.status, unreachableRoomText(this.hub?.nextRetryAtMs() ?? null, this.deps.now()));
    } else {
      this.chat?.setRoomState(s.status, s.detail);
    }
  }

  private renderRooms(): void {
    const entries: RoomEntry[] = this.recent.map(room => ({
      room,
      active: room === this.active,
      status: this.statusOf(room).status,
      unread: this.unread.get(room) ?? 0,
    }));
    this.chat?.setRooms(entries);
    this.renderRoomState();
  }

  // --- storage (recent room names only) -------------------------------------------------------------------------

  private readStorage(): string | null {
    try {
      return this.deps.storage?.getItem(RECENT_ROOMS_KEY) ?? null;
    } catch {
      return null;
    }
  }

  private writeStorage(): void {
    try {
      this.deps.storage?.setItem(RECENT_ROOMS_KEY, JSON.stringify(this.recent));
    } catch {
      // storage full or disabled: the list just isn't remembered
    }
  }

  // --- the test hook ---------------------------------------------------------------------------------------------

  testState(): ChatTestState {
    const token = this.token?.token ?? null;
    const hubRooms = new Map((this.hub?.snapshot() ?? []).map(r => [r.room, r]));
    return {
      view:
        this.chat !== null
          ? 'chat'
          : this.login instanceof HostSignInView && this.login.signedOut
            ? 'signed-out'
            : 'login',
      connection: this.chat !== null ? this.connection : null,
      tokenExpiresAt: token?.expiresAt ?? null,
      tokenId: token?.tokenId ?? null,
      tier: token?.scope.tier ?? null,
      role: token?.scope.topics?.role ?? null,
      activeRoom: this.chat !== null ? this.active : null,
      rooms:
        this.chat === null
          ? []
          : this.recent.map(room => ({
              room,
              status: this.statusOf(room).status,
              subscriptions: hubRooms.get(room)?.subscriptions ?? 0,
              unread: this.unread.get(room) ?? 0,
            })),
      refreshCount: this.refreshCount,
      identityRefreshCount: this.identity?.refreshCount ?? 0,
      tokenStatus: this.tokenStatus?.kind ?? null,
      received: this.hub?.received ?? 0,
      duplicatesDropped: this.hub?.duplicates ?? 0,
      canSend: this.chat !== null && this.canSendNow(),
    };
  }

  testMessages(room?: string): ChatTestMessage[] {
    const rooms = room === undefined ? [...this.messages.keys()] : [room];
    return rooms.flatMap(r =>
      (this.messages.get(r) ?? []).map(m => ({
        room: m.room,
        sequenceNumber: m.sequenceNumber,
        page: m.page,
        sender: m.sender.label,
        senderKind: m.sender.kind,
        tokenId: m.sender.tokenId,
        own: m.sender.own,
        text: m.text,
        raw: m.raw,
        time: m.time.toISOString(),
      })),
    );
  }
}

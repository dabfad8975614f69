// The controller: login, the session's tokens (shared by the tabs of one user: tabs.ts), the rooms' subscriptions
// and the views, wired together.
//
// Connection budget: browsers open about six HTTP/1.1 connections per host, for every tab of the browser together,
// and each subscription holds one. The visible tab keeps the open room and up to three recent ones (LIVE_ROOM_BUDGET);
// a hidden tab keeps none: its rooms' marks stay, and when it is shown again each room resumes right after the last
// message it showed (rooms.ts), so nothing is lost or repeated. Renewal goes on while hidden (it needs no stream).

import {SessionClock} from './clock';
import {CognitoError, CognitoIdentity, type CognitoAuthStep, type CognitoPort} from './cognito';
import {cognitoEndpoint, type AppConfig} from './config';
import {deriveConnectionState, type ConnectionState} from './connection';
import {
  decodeChatMessage,
  describeSender,
  encodeChatMessage,
  formatClock,
  formatRemaining,
  MAX_MESSAGE_LENGTH,
  validateDisplayName,
  type SenderKind,
} from './messages';
import {createTopicClient, topicsPort} from './momento';
import {signInHref, signOutOfHost} from './hostLogin';
import {
  clockOffsetText,
  explainText,
  lastErrorText,
  scopeText,
  sessionStatusText,
  SIGNED_OUT_TEXT,
  tabRoleText,
  signedOutText,
  signInErrorText,
  signInProgressText,
  tokenWaitText,
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
  type SessionDeps,
  type SessionStatus,
} from './session';
import {liveUsers, TabSession, type SharedCredentials, type TabSessionDeps, type TabSessionEvents, type TabsDeps} from './tabs';
import {canPublish, canSubscribe, requestExplanation, TvmError, type Credentials} from './tvm';
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
  /** The wall clock (epoch ms): message times, what is shown. Lifetimes use the session clock (clock.ts). */
  readonly now: () => number;
  /** A monotonic clock (performance.now). */
  readonly monotonicNow: () => number;
  /** Whether the page is hidden (document.visibilityState): a hidden tab keeps no subscription. */
  readonly hidden: () => boolean;
  /** Web Locks and BroadcastChannel, for the tabs of one user (tabs.ts); nulls where missing. */
  readonly tabs: TabsDeps;
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
  /** 'leader': this tab renews for the user's tabs; 'follower': another tab does; 'solo': alone; null: signed out. */
  readonly tabRole: 'solo' | 'leader' | 'follower' | null;
  /** Token replacements since the user's first token (every tab of the user counts the same ones). */
  readonly renewals: number;
  readonly scopeAll: boolean;
  readonly scopePrefixes: readonly string[];
  readonly scopeNames: readonly string[];
  /** The requests name the rooms (a deployment that grants exact names only). */
  readonly namesRooms: boolean;
  readonly hidden: boolean;
  /** Subscriptions open now, over every room. */
  readonly streams: number;
  /** Subscriptions that resumed after a mark (a tab shown again, a room back within the budget). */
  readonly resumedSubscriptions: number;
  /** Sleep detected (wall clock ahead of the monotonic one), ms. */
  readonly sleptMs: number;
  /** How long the token stays valid, on the session clock (ms), or null. */
  readonly tokenValidMs: number | null;
  /** Publishes that waited for a renewal because the token had expired (a tab resumed from sleep). */
  readonly renewalsBeforePublish: number;
  readonly lastError: string | null;
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
  /** The sign-in's session, until its first token; then `tab` holds it (or the leading tab's token). */
  private session: Session | null = null;
  /** This tab's token source once signed in: its own session, or the user's leading tab (tabs.ts). */
  private tab: TabSession | null = null;
  private readonly clock: SessionClock;
  private explainSerial = 0;
  private renewalsBeforePublish = 0;
  private lastRenewalWallMs: number | null = null;
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
    this.clock = new SessionClock({wall: deps.now, monotonic: deps.monotonicNow});
  }

  /** Tabs share tokens per user of one deployment (the lock and channel names include it). */
  private get deployment(): string {
    return `${this.config.authMethod} ${this.config.apiUrl}`;
  }

  start(): void {
    this.showLogin(null, this.config.session === null); // Session mode offers after its own look below
    if (this.config.session !== null) {
      // Session mode: the host's cookie may already sign us in; but when a tab of this browser is signed in already,
      // offer to continue with its token rather than vending another.
      const form = this.login;
      form?.setBusy(true, 'Checking your sign-in…');
      void liveUsers(this.deps.tabs.locks, this.deployment).then(users => {
        if (this.login !== form || this.chat !== null) {
          return;
        }
        if (users.length === 0) {
          this.checkHostSession();
        } else {
          form?.setBusy(false);
          this.showContinue(users);
        }
      });
    }
  }

  // --- login ----------------------------------------------------------------------------------------------------

  /** Amazon Cognito's host, named on the sign-in forms in AmazonCognito mode. */
  private get cognitoHost(): string | null {
    return this.config.cognito === null ? null : new URL(cognitoEndpoint(this.config.cognito)).host;
  }

  private showLogin(notice: string | null, offer = true): void {
    this.chat = null;
    this.buildLogin(notice);
    if (offer) {
      this.offerContinue();
    }
  }

  /** "Continue as alice" when a tab of this browser is signed in (its lock is held): asked once per sign-in screen. */
  private offerContinue(): void {
    const form = this.login;
    if (form === null || this.deps.tabs.locks === null) {
      return;
    }
    void liveUsers(this.deps.tabs.locks, this.deployment).then(users => {
      if (this.login === form && this.chat === null && users.length > 0) {
        this.showContinue(users);
      }
    });
  }

  private showContinue(users: readonly string[]): void {
    this.login?.showContinue(
      users.map(user => ({user, label: liveUserLabel(user)})),
      user => this.continueAs(user),
    );
  }

  /** Continue as `user`: the leading tab of that user hands over its token and what renewal needs. No vend. */
  private continueAs(user: string): void {
    const form = this.login;
    if (form === null) {
      return;
    }
    const serial = ++this.loginSerial;
    const label = liveUserLabel(user);
    form.setBusy(true, `Continuing as ${label}…`);
    this.active = this.recent[0] ?? DEFAULT_ROOM;
    void TabSession.continueAs(
      user,
      this.deployment,
      topicsForToken(this.active, this.recent),
      this.tabEvents(),
      this.tabDeps(),
    ).then(tab => {
      if (serial !== this.loginSerial || this.login !== form) {
        tab?.stop();
        return;
      }
      const first = tab?.current ?? null;
      if (tab === null || first === null) {
        tab?.stop();
        form.showError(`No tab signed in as ${label} answered. Sign in instead.`);
        this.offerContinue();
        return;
      }
      this.tab = tab;
      this.enterChat(first);
    });
  }

  private buildLogin(notice: string | null): void {
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
      now: this.clock.now,
      random: this.deps.random,
      setTimer: (fn, ms) => window.setTimeout(fn, ms),
      clearTimer: id => window.clearTimeout(id),
    };
  }

  private sessionDeps(): SessionDeps {
    return {fetchFn: this.deps.fetchFn, wallNow: this.deps.now, ...this.timerDeps()};
  }

  private tabEvents(): TabSessionEvents {
    return {
      onToken: active => this.onToken(active),
      onStatus: status => this.onSessionStatus(status),
      onFatal: error => this.onFatal(error),
      onSignedOutElsewhere: () => this.logout(SIGNED_OUT_TEXT),
      onRole: () => this.renderTimer(),
    };
  }

  private tabDeps(): TabSessionDeps {
    return {
      tabs: this.deps.tabs,
      now: this.clock.now,
      wallNow: this.deps.now,
      setTimer: (fn, ms) => window.setTimeout(fn, ms),
      clearTimer: id => window.clearTimeout(id),
      makeSession: (credentials, topics, events) => new Session(this.config, credentials, topics, events, this.sessionDeps()),
      exportCredentials: credentials => exportCredentials(credentials),
      importCredentials: shared => this.importCredentials(shared),
      beforePeerRequest: () => this.checkClock(),
    };
  }

  /** Credentials from the leading tab: a Cognito identity is rebuilt from its tokens (and signed out at logout). */
  private importCredentials(shared: SharedCredentials): SessionCredentials {
    if (shared.kind !== 'cognito') {
      return shared;
    }
    const port = this.deps.cognito;
    if (port === null) {
      return {kind: 'bearer', token: shared.tokens.idToken};
    }
    this.identity = new CognitoIdentity(shared.username, shared.tokens, port, {now: this.deps.now});
    return {kind: 'identity', source: this.identity};
  }

  /** A sleep since the last look (the wall clock ran ahead of the monotonic one): timers due meanwhile run now. */
  private checkClock(): void {
    if (this.clock.check() > 0) {
      this.tab?.resync();
      this.session?.resync();
    }
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
        // Once signed in, the tab relays its session's events (and tells the user's other tabs).
        onToken: active => (this.tab !== null ? this.tab.sessionToken(active) : this.onToken(active)),
        onStatus: status => (this.tab !== null ? this.tab.sessionStatus(status) : this.onSessionStatus(status)),
        onFatal: error => (this.tab !== null ? this.tab.sessionFatal(error) : this.onFatal(error)),
      },
      this.sessionDeps(),
    );
    this.session = session;
    this.signInError = null;
    login.setBusy(true, credentials.kind === 'cookie' ? 'Checking your sign-in…' : 'Signing in…');
    session.start().then(
      active => {
        if (serial === this.loginSerial && this.session === session) {
          this.session = null;
          this.tab = TabSession.afterSignIn(
            session,
            active,
            this.deployment,
            topicsForToken(this.active, this.recent),
            this.tabEvents(),
            this.tabDeps(),
          );
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
      const text = signInProgressText(status, this.clock.now(), this.signInError);
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
      onExplain: () => this.explain(),
    });
    this.hub = new RoomHub(
      {
        onMessage: item => this.onMessage(item),
        onRoomStatus: (room, status, detail) => this.onRoomStatus(room, status, detail),
        onAuthError: () => this.tab?.refreshNow('auth'),
      },
      this.timerDeps(),
    );
    this.installClient(active);
    const room = this.active ?? DEFAULT_ROOM;
    this.selectRoom(room);
    this.ticker = window.setInterval(() => this.tick(), 1000);
    this.listen(window, 'online', () => {
      this.checkClock(); // back online after a sleep, maybe
      this.hub?.retryNow();
      this.tab?.refreshNow('expired');
      this.tab?.refreshNow('overdue');
      this.updateConnection();
    });
    this.listen(window, 'offline', () => this.updateConnection());
    this.listen(document, 'visibilitychange', () => {
      if (!this.deps.hidden()) {
        // Background tabs' timers are throttled, and a laptop may have slept: catch up on a renewal at once.
        this.checkClock();
        this.tab?.refreshNow('expired');
        this.tab?.refreshNow('overdue');
      }
      this.syncRooms(); // hidden: no subscription; shown: every room resumes where it stopped
      this.tick();
    });
    this.listen(window, 'pagehide', () => this.tab?.bye());
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
    this.lastRenewalWallMs = this.deps.now();
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
    this.tab?.logout(); // every tab of this user signs out too
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
    this.tab?.stop();
    this.tab = null;
    this.endIdentity();
    this.hub?.close();
    this.hub = null;
    this.token = null;
    this.tokenStatus = null;
    this.refreshCount = 0;
    this.lastRenewalWallMs = null;
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
    this.hub?.forget(room);
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

  /** The rooms to keep subscribed: within the budget, and none while the tab is hidden. */
  private liveRooms(): string[] {
    return this.deps.hidden() ? [] : selectLiveRooms(this.active, this.recent);
  }

  /** Subscribes the rooms within budget that the token covers, and asks the session for a token covering the rest. */
  private syncRooms(): void {
    const live = this.liveRooms();
    const token = this.token?.token ?? null;
    this.hub?.setRooms(token === null ? [] : live.filter(room => canSubscribe(token, room)));
    this.tab?.setTopics(topicsForToken(this.active, this.recent));
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
    const live = this.liveRooms();
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
    const receivedAt = new Date(this.deps.now()); // item.receivedAtMs is on the session clock, not a date
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
    // A tab resumed from sleep past its token's expiry renews first: the publish goes out on the new token.
    this.checkClock();
    const tab = this.tab;
    if (tab !== null && tab.expired()) {
      this.renewalsBeforePublish += 1;
      tab.refreshNow('expired');
      await this.nextToken();
      if (this.hub !== hub) {
        return; // logged out meanwhile
      }
    }
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
    this.checkClock();
    this.tab?.tick();
    this.hub?.tick();
    const active = this.token;
    if (active !== null && this.clock.now() >= active.refreshAtMs + 2000) {
      this.tab?.refreshNow('overdue');
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
    const now = this.clock.now();
    chat.setSessionStatus(sessionStatusText(active.expiryMs, active.refreshAtMs, this.tokenStatus, now));
    const tab = this.tab;
    const renewals = tab?.renewals ?? 0;
    const validMs = active.expiryMs - now;
    chat.setSessionPanel({
      scope: scopeText(active.token.scope) + (tab?.namesRooms === true ? ' (named rooms only)' : ''),
      validity:
        validMs <= 0
          ? 'Expired; renewing'
          : `${formatRemaining(validMs)} (until ${formatClock(new Date(this.deps.now() + validMs))} here)`,
      renewals:
        renewals === 0 || this.lastRenewalWallMs === null
          ? `${renewals} so far`
          : `${renewals} so far, the last at ${formatClock(new Date(this.lastRenewalWallMs))}`,
      lastError: lastErrorText(tab?.lastError ?? null),
      tab: tabRoleText(tab?.tabRole ?? 'solo'),
      clock: clockOffsetText(active.clockOffsetMs),
    });
  }

  /** "Why can't I send?": `GET /token/explain` for the open room, with this tab's credentials; mints nothing. */
  private explain(): void {
    const chat = this.chat;
    const tab = this.tab;
    if (chat === null || tab === null) {
      return;
    }
    const serial = ++this.explainSerial;
    chat.showExplanation(null);
    void this.explainRoom(tab, this.active).then(text => {
      if (serial === this.explainSerial && this.chat === chat) {
        chat.showExplanation(text);
      }
    });
  }

  private async explainRoom(tab: TabSession, room: string | null): Promise<string> {
    if (room === null) {
      return 'No room is open: join one, and this says whether you may send to it.';
    }
    const credentials = tab.sessionCredentials;
    if (credentials === null) {
      return 'Signed out.';
    }
    try {
      const asked: Credentials =
        credentials.kind === 'identity' ? {kind: 'bearer', token: await credentials.source.bearer(false)} : credentials;
      const explanation = await requestExplanation(
        this.config,
        asked,
        {topics: [room], ttlSeconds: null},
        {fetchFn: this.deps.fetchFn, now: this.deps.now, timeoutMs: TVM_TIMEOUT_MS},
      );
      return explainText(room, {ok: true, explanation});
    } catch (error) {
      const failure = error instanceof TvmError || error instanceof CognitoError ? error : new TvmError('unavailable', String(error));
      return explainText(room, {ok: false, error: failure});
    }
  }

  private updateConnection(): void {
    const chat = this.chat;
    if (chat === null) {
      return;
    }
    const token = this.token;
    const live = this.liveRooms();
    const rooms = live
      .map(room => this.statusOf(room))
      .filter(s => s.status !== 'denied')
      .map(s => ({live: s.status === 'live'}));
    const state = deriveConnectionState({
      online: navigator.onLine,
      hasToken: token !== null && this.clock.now() < token.expiryMs,
      everLive: this.everLive,
      rooms,
      serviceUnreachable: this.hub?.unreachable ?? false,
      hidden: this.deps.hidden(),
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
      this.chat?.setRoomState(s.status, unreachableRoomText(this.hub?.nextRetryAtMs() ?? null, this.clock.now()));
    } else if (this.connection === 'awaiting-token' && s.status !== 'live' && s.status !== 'denied') {
      // The token ran out before a new one came (a 429's wait, say): why, and when the next request is.
      this.chat?.setRoomState(s.status, tokenWaitText(this.tokenStatus, this.clock.now()));
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
      tabRole: this.chat !== null ? (this.tab?.tabRole ?? null) : null,
      renewals: this.tab?.renewals ?? 0,
      scopeAll: token?.scope.topics?.all ?? false,
      scopePrefixes: token?.scope.topics?.prefixes ?? [],
      scopeNames: token?.scope.topics?.names ?? [],
      namesRooms: this.tab?.namesRooms ?? false,
      hidden: this.deps.hidden(),
      streams: [...hubRooms.values()].reduce((sum, r) => sum + r.subscriptions, 0),
      resumedSubscriptions: this.hub?.resumes ?? 0,
      sleptMs: this.clock.sleptMs,
      tokenValidMs: this.token === null ? null : this.token.expiryMs - this.clock.now(),
      renewalsBeforePublish: this.renewalsBeforePublish,
      lastError: this.tab?.lastError === null || this.tab === null ? null : lastErrorText(this.tab.lastError),
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

/** "alice", or "Ann (guest)" for an Open-mode guest (`guest:Ann`). */
function liveUserLabel(user: string): string {
  const sender = describeSender(user, null);
  return sender.kind === 'guest' ? `${sender.label} (guest)` : sender.label;
}

/** What renewal needs, as it travels to the user's other tabs; null when it cannot travel (a bare bearer token). */
function exportCredentials(credentials: SessionCredentials): SharedCredentials | null {
  switch (credentials.kind) {
    case 'basic':
      return {kind: 'basic', username: credentials.username, password: credentials.password};
    case 'open':
      return {kind: 'open', name: credentials.name};
    case 'cookie':
      return {kind: 'cookie'};
    case 'identity': {
      const source = credentials.source;
      const tokens = source instanceof CognitoIdentity ? source.share() : null;
      return tokens === null ? null : {kind: 'cognito', username: source.username, tokens};
    }
    case 'bearer':
      return null;
  }
}

// The tabs of one user share one token and one renewal; tabs of different users share nothing.
//
// Per user (the token's verified id, e.g. "alice", in one deployment) there is one Web Lock and one BroadcastChannel,
// both named after the user. The tab holding the lock leads: it runs the Session (session.ts), renews, and broadcasts
// each token to the channel with what renewal needs (the password, the Cognito tokens, the Open display name; nothing
// in Session mode, where the cookie suffices). The others follow: they use the leader's token, ask it to renew when
// Momento refused the token or when it is past its time, and wait in the lock's queue. When the leading tab closes,
// the browser hands the lock to the next tab in the queue, which takes over the renewal from the token it holds (no
// request until the renewal is due). Everything travels between tabs of this browser and stays in their memory: the
// channel is same-origin and in-memory, and nothing is written to storage.
//
// A tab that signed in itself (password typed, Cognito signed in, cookie checked) has its own first token, which the
// TVM verified; it leads if nobody does, else it follows and keeps its own credentials for a takeover. A new tab may
// instead "continue as alice" when a tab of alice leads (the held locks say who: liveUsers): it asks the channel for
// the state and gets the token and the credentials, with no vend at all.
//
// Without Web Locks or BroadcastChannel (an insecure context, an old browser) every tab is on its own, as before.

import {CognitoError, type CognitoErrorKind, type CognitoTokens} from './cognito';
import {EXPIRY_GUARD_MS, type ActiveToken, type LastError, type Session, type SessionCredentials, type SessionError, type SessionStatus} from './session';
import {coversTopics, TvmError, type TvmErrorKind, type VendedToken} from './tvm';

/** The part of the Web Locks API used here (navigator.locks). */
export interface LockManagerLike {
  request(
    name: string,
    options: {readonly ifAvailable?: boolean; readonly signal?: AbortSignal},
    callback: (lock: unknown) => Promise<unknown> | unknown,
  ): Promise<unknown>;
  query(): Promise<{readonly held?: readonly {readonly name?: string}[]}>;
}

/** The part of BroadcastChannel used here. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: {readonly data: unknown}) => void) | null;
}

export interface TabsDeps {
  /** navigator.locks, or null where it is missing (then no tab shares anything). */
  readonly locks: LockManagerLike | null;
  /** `new BroadcastChannel(name)`, or null where it is missing. */
  readonly openChannel: ((name: string) => ChannelLike) | null;
  /** This tab's id (random), so a tab can tell its own messages and its peers apart. */
  readonly tabId: string;
}

/** Credentials as they travel between the tabs of one user (structured-cloneable, no functions). */
export type SharedCredentials =
  | {readonly kind: 'basic'; readonly username: string; readonly password: string}
  | {readonly kind: 'open'; readonly name: string}
  | {readonly kind: 'cookie'}
  | {readonly kind: 'cognito'; readonly username: string; readonly tokens: CognitoTokens};

/** A token as it travels: its times as durations (each tab's monotonic clock has its own origin). */
interface TokenShare {
  readonly token: VendedToken;
  readonly serial: number;
  readonly ageMs: number;
  readonly remainingMs: number;
  readonly refreshInMs: number;
  readonly clockOffsetMs: number | null;
}

interface ErrorShare {
  readonly name: 'TvmError' | 'CognitoError';
  readonly kind: string;
  readonly message: string;
  readonly status: number | null;
  readonly code: string | null;
  readonly agoMs: number;
}

interface StatusShare {
  readonly kind: SessionStatus['kind'];
  readonly attempt: number;
  readonly retryInMs: number;
  readonly error: ErrorShare | null;
}

type TabMessage =
  | {readonly v: 1; readonly type: 'hello'; readonly from: string}
  | {
      readonly v: 1;
      readonly type: 'state';
      readonly from: string;
      readonly token: TokenShare;
      readonly credentials: SharedCredentials;
      readonly status: StatusShare;
      readonly lastError: ErrorShare | null;
      readonly exact: boolean;
    }
  | {readonly v: 1; readonly type: 'renew'; readonly from: string; readonly reason: 'auth' | 'expired'}
  | {readonly v: 1; readonly type: 'rooms'; readonly from: string; readonly topics: readonly string[]}
  | {readonly v: 1; readonly type: 'bye'; readonly from: string}
  | {readonly v: 1; readonly type: 'shown'; readonly from: string; readonly visible: boolean}
  | {readonly v: 1; readonly type: 'logout'; readonly from: string}
  | {readonly v: 1; readonly type: 'fatal'; readonly from: string; readonly error: ErrorShare}
  | {readonly v: 1; readonly type: 'cutoff'; readonly from: string; readonly event: CutOff};

/** An operator's cut-off heard on the control channel (control.ts): this user revoked, or the service paused. */
export type CutOff = 'revoked' | 'paused';

const PREFIX = 'momento-chat';
/** How long a tab continuing as someone waits for the leading tab's state. */
export const CONTINUE_TIMEOUT_MS = 3_000;
/** A follower asks again for a renewal of an expired token at most this often. */
const RENEW_ASK_INTERVAL_MS = 2_000;
/** At most this many topics in one request (the TVM's limit is 50). */
const MAX_TOPICS = 50;

function lockPrefix(deployment: string): string {
  return `${PREFIX}/leader/${encodeURIComponent(deployment)}/`;
}

/** The lock and channel names for one user of one deployment. */
export function groupNames(deployment: string, user: string): {readonly lock: string; readonly channel: string} {
  return {
    lock: `${lockPrefix(deployment)}${encodeURIComponent(user)}`,
    channel: `${PREFIX}/tabs/${encodeURIComponent(deployment)}/${encodeURIComponent(user)}`,
  };
}

/** The users who have a leading tab in this browser for this deployment (from the held locks' names), sorted. */
export async function liveUsers(locks: LockManagerLike | null, deployment: string): Promise<string[]> {
  if (locks === null) {
    return [];
  }
  try {
    const state = await locks.query();
    const prefix = lockPrefix(deployment);
    const users = new Set<string>();
    for (const lock of state.held ?? []) {
      const name = lock.name ?? '';
      if (name.startsWith(prefix)) {
        try {
          users.add(decodeURIComponent(name.slice(prefix.length)));
        } catch {
          // not one of ours
        }
      }
    }
    return [...users].sort();
  } catch {
    return [];
  }
}

function shareError(error: SessionError, agoMs: number): ErrorShare {
  return {name: error.name, kind: error.kind, message: error.message, status: error.status, code: error.code, agoMs};
}

function rebuildError(share: ErrorShare): SessionError {
  return share.name === 'CognitoError'
    ? new CognitoError(share.kind as CognitoErrorKind, share.message, share.status, share.code)
    : new TvmError(share.kind as TvmErrorKind, share.message, share.status, share.code);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Only well-formed messages of this version are acted on (another version of the site may share the channel). */
function asMessage(data: unknown): TabMessage | null {
  if (!isRecord(data) || data['v'] !== 1 || typeof data['from'] !== 'string' || typeof data['type'] !== 'string') {
    return null;
  }
  switch (data['type']) {
    case 'hello':
    case 'bye':
    case 'logout':
      return data as TabMessage;
    case 'renew':
      return data['reason'] === 'auth' || data['reason'] === 'expired' ? (data as TabMessage) : null;
    case 'rooms':
      return Array.isArray(data['topics']) && data['topics'].every(t => typeof t === 'string') ? (data as TabMessage) : null;
    case 'fatal':
      return isRecord(data['error']) ? (data as TabMessage) : null;
    case 'shown':
      return typeof data['visible'] === 'boolean' ? (data as TabMessage) : null;
    case 'cutoff':
      return data['event'] === 'revoked' || data['event'] === 'paused' ? (data as TabMessage) : null;
    case 'state': {
      const token = data['token'];
      return isRecord(token) && isRecord(token['token']) && isRecord(data['credentials']) && isRecord(data['status'])
        ? (data as TabMessage)
        : null;
    }
    default:
      return null;
  }
}

export type TabRole = 'solo' | 'leader' | 'follower';

export interface TabSessionEvents {
  /** A new token for this tab (a renewal, here or in the leading tab). */
  onToken(active: ActiveToken): void;
  onStatus(status: SessionStatus): void;
  /** A renewal was refused for good (here or in the leading tab): sign out. */
  onFatal(error: SessionError): void;
  /** Another tab of this user signed out: so does this one. */
  onSignedOutElsewhere(): void;
  /** The operator cut this user off (heard here or by the leading tab): drop the token and say so. */
  onCutOff(event: CutOff): void;
  /** The role changed (the panel says whether this tab renews). */
  onRole(role: TabRole): void;
  /** How many of the user's tabs are shown changed (they share the browser's connections: chatFlow.ts). */
  onShownTabs?(count: number): void;
}

export interface TabSessionDeps {
  readonly tabs: TabsDeps;
  /** The session clock (monotonic ms, sleeps included). */
  readonly now: () => number;
  /** The wall clock (epoch ms): only for when the last error happened. */
  readonly wallNow: () => number;
  readonly setTimer: (fn: () => void, ms: number) => number;
  readonly clearTimer: (id: number) => void;
  /** A Session for these credentials and rooms (the app's events wired through `events`), not started. */
  readonly makeSession: (
    credentials: SessionCredentials,
    topics: readonly string[],
    events: {onToken(a: ActiveToken): void; onStatus(s: SessionStatus): void; onFatal(e: SessionError): void},
  ) => Session;
  /** What renewal needs, to hand to the other tabs; null: not shareable (then this tab leads alone). */
  readonly exportCredentials: (credentials: SessionCredentials) => SharedCredentials | null;
  /** Credentials received from the leading tab, ready for a Session (a Cognito identity is built from its tokens). */
  readonly importCredentials: (shared: SharedCredentials) => SessionCredentials;
  /** Before acting on a peer's request: look for a sleep (the session clock), so "expired" is judged on time. */
  readonly beforePeerRequest: () => void;
}

function sameCredentials(a: SharedCredentials, b: SharedCredentials): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * One tab's token for one user: a Session of its own while leading (or alone), the leading tab's token while
 * following. The app talks to this only (setTopics, refreshNow, current, ...), whatever the role.
 */
export class TabSession {
  private role: TabRole = 'solo';
  private session: Session | null = null;
  private channel: ChannelLike | null = null;
  private token: ActiveToken | null;
  private credentials: SessionCredentials | null;
  /** The credentials as last received from the leader (to notice a change, e.g. a rotated Cognito token). */
  private sharedCredentials: SharedCredentials | null = null;
  /** This tab signed in itself: it keeps its own credentials (the leader's are for tabs that continued). */
  private ownCredentials = false;
  private followerStatus: SessionStatus | null = null;
  /** The leading session's last status (a tab that says hello gets it with the token). */
  private leaderStatus: SessionStatus = {kind: 'ok'};
  private followerLastError: LastError | null = null;
  private followerExact = false;
  private topics: string[];
  private readonly peerTopics = new Map<string, readonly string[]>();
  /** Whether each other tab of the user is shown (they say so on the channel), and this one. */
  private readonly peersShown = new Map<string, boolean>();
  private shown = false;
  private readonly lockAbort = new AbortController();
  private releaseLock: (() => void) | null = null;
  private stopped = false;
  private lastRenewAskAt = -Infinity;
  private lastRenewAskSerial = -1;
  private readonly names: {readonly lock: string; readonly channel: string};
  private waitingForState: ((ok: boolean) => void) | null = null;

  private constructor(
    readonly user: string,
    deployment: string,
    topics: readonly string[],
    private readonly events: TabSessionEvents,
    private readonly deps: TabSessionDeps,
    token: ActiveToken | null,
    credentials: SessionCredentials | null,
  ) {
    this.names = groupNames(deployment, user);
    this.topics = [...topics];
    this.token = token;
    this.credentials = credentials;
  }

  /**
   * After this tab signed in itself: `session` (started, with `first`, its first token) leads if no tab of this user
   * does, else this tab follows (its session stops; its credentials are kept for a takeover).
   */
  static afterSignIn(
    session: Session,
    first: ActiveToken,
    deployment: string,
    topics: readonly string[],
    events: TabSessionEvents,
    deps: TabSessionDeps,
  ): TabSession {
    const tab = new TabSession(first.token.tokenId, deployment, topics, events, deps, first, session.shareableCredentials);
    tab.session = session;
    tab.ownCredentials = true;
    const {locks, openChannel} = deps.tabs;
    const credentials = session.shareableCredentials;
    if (locks === null || openChannel === null || credentials === null || deps.exportCredentials(credentials) === null) {
      return tab; // on its own
    }
    tab.openChannel();
    // No abort signal here: the Web Locks API refuses `ifAvailable` with `signal` (NotSupportedError). The answer is
    // immediate anyway; stop() releases a lock granted meanwhile.
    void locks
      .request(tab.names.lock, {ifAvailable: true}, lock => {
        if (lock === null || lock === undefined) {
          tab.follow();
          return undefined;
        }
        return tab.lead();
      })
      .catch(() => undefined);
    return tab;
  }

  /**
   * "Continue as `user`": asks the leading tab of `user` for its state. Resolves with a following TabSession, or null
   * when no tab answered within CONTINUE_TIMEOUT_MS (or sharing is not available here).
   */
  static async continueAs(
    user: string,
    deployment: string,
    topics: readonly string[],
    events: TabSessionEvents,
    deps: TabSessionDeps,
  ): Promise<TabSession | null> {
    if (deps.tabs.locks === null || deps.tabs.openChannel === null) {
      return null;
    }
    const tab = new TabSession(user, deployment, topics, events, deps, null, null);
    tab.role = 'follower';
    tab.openChannel();
    const answered = await new Promise<boolean>(resolve => {
      const timer = deps.setTimer(() => resolve(false), CONTINUE_TIMEOUT_MS);
      tab.waitingForState = ok => {
        deps.clearTimer(timer);
        resolve(ok);
      };
      tab.post({v: 1, type: 'hello', from: deps.tabs.tabId});
    });
    tab.waitingForState = null;
    if (!answered || tab.token === null || tab.credentials === null) {
      tab.stop();
      return null;
    }
    tab.queueForLead();
    return tab;
  }

  get tabRole(): TabRole {
    return this.role;
  }

  get current(): ActiveToken | null {
    return this.session?.current ?? this.token;
  }

  /** Token replacements since the user's first token (the whole group's: the serial travels with the token). */
  get renewals(): number {
    return Math.max(0, (this.current?.serial ?? 1) - 1);
  }

  get lastError(): LastError | null {
    return this.session !== null ? this.session.lastError : this.followerLastError;
  }

  /** Whether the tokens name the rooms (the deployment grants exact names only). */
  get namesRooms(): boolean {
    return this.session?.namesRooms ?? this.followerExact;
  }

  /** This tab's credentials (its own, or the leader's when it continued), e.g. for `GET /token/explain`. */
  get sessionCredentials(): SessionCredentials | null {
    return this.session?.shareableCredentials ?? this.credentials;
  }

  /** Whether the token is expired or about to be (a publish waits for the renewal). */
  expired(): boolean {
    if (this.session !== null) {
      return this.session.expired();
    }
    const token = this.token;
    return token === null || this.deps.now() >= token.expiryMs - EXPIRY_GUARD_MS;
  }

  setTopics(topics: readonly string[]): void {
    this.topics = [...topics];
    if (this.session !== null) {
      this.session.setTopics(this.allTopics());
      return;
    }
    this.askForRooms();
  }

  refreshNow(reason: 'auth' | 'overdue' | 'expired'): void {
    if (this.session !== null) {
      this.session.refreshNow(reason);
      return;
    }
    if (reason === 'auth') {
      this.post({v: 1, type: 'renew', from: this.deps.tabs.tabId, reason: 'auth'});
    } else if (this.expired()) {
      this.askForRenewal();
    }
  }

  retryNow(): void {
    this.session?.retryNow();
  }

  /** The session clock jumped (a sleep): the leader's timers catch up; a follower with an expired token asks. */
  resync(): void {
    if (this.session !== null) {
      this.session.resync();
    } else if (this.expired()) {
      this.askForRenewal();
    }
  }

  /** Called about once a second: a follower whose token is past its time asks the leader (it may be throttled). */
  tick(): void {
    if (this.session === null && this.role === 'follower' && this.expired()) {
      this.askForRenewal();
    }
  }

  /**
   * This tab was shown or hidden: the user's other tabs are told, since the tabs shown share the browser's
   * connections for their rooms (roomList.ts's roomBudget).
   */
  setShown(shown: boolean): void {
    this.shown = shown;
    this.post({v: 1, type: 'shown', from: this.deps.tabs.tabId, visible: shown});
  }

  /** The user's tabs shown now in this browser, this one included (1 for a tab on its own that is shown). */
  get shownTabs(): number {
    let count = this.shown ? 1 : 0;
    for (const visible of this.peersShown.values()) {
      count += visible ? 1 : 0;
    }
    return count;
  }

  /** This tab is closing: its rooms no longer count for the shared token. */
  bye(): void {
    this.post({v: 1, type: 'bye', from: this.deps.tabs.tabId});
  }

  /** The person signed out here: every tab of this user signs out. */
  logout(): void {
    this.post({v: 1, type: 'logout', from: this.deps.tabs.tabId});
    this.stop();
  }

  /**
   * The control channel said this user is cut off (control.ts; the tab that listens is the leading one): every other
   * tab of this user is told at once, then this one acts. The caller stops this TabSession (it reads the credentials
   * first when it will need them again: a pause is lifted by asking with them).
   */
  cutOff(event: CutOff): void {
    this.post({v: 1, type: 'cutoff', from: this.deps.tabs.tabId, event});
    this.events.onCutOff(event);
  }

  /** Whether this tab listens to the control channel for the user's tabs: it renews for them, or it is on its own. */
  get listensForCutOff(): boolean {
    return !this.stopped && this.role !== 'follower';
  }

  /** Forgets the token and the credentials, leaves the channel and the lock's queue. */
  stop(): void {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    this.session?.stop();
    this.session = null;
    this.token = null;
    this.credentials = null;
    this.sharedCredentials = null;
    this.lockAbort.abort();
    this.releaseLock?.();
    this.releaseLock = null;
    if (this.channel !== null) {
      this.channel.onmessage = null;
      this.channel.close();
      this.channel = null;
    }
  }

  // --- internals -------------------------------------------------------------------------------------------------

  private allTopics(): string[] {
    const all = new Set(this.topics);
    for (const topics of this.peerTopics.values()) {
      for (const topic of topics) {
        all.add(topic);
      }
    }
    return [...all].slice(0, MAX_TOPICS);
  }

  private openChannel(): void {
    const open = this.deps.tabs.openChannel;
    if (open === null) {
      return;
    }
    const channel = open(this.names.channel);
    channel.onmessage = event => this.onMessage(event.data);
    this.channel = channel;
  }

  private post(message: TabMessage): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      // a closed channel: nobody to tell
    }
  }

  private setRole(role: TabRole): void {
    if (this.role !== role) {
      this.role = role;
      this.events.onRole(role);
    }
  }

  /** This tab holds the lock: it renews (with its own session, or one built for the token it holds). */
  private lead(): Promise<void> {
    if (this.stopped) {
      return Promise.resolve();
    }
    if (this.session === null) {
      const credentials = this.credentials;
      const token = this.token;
      if (credentials === null || token === null) {
        return Promise.resolve();
      }
      const session = this.deps.makeSession(credentials, this.allTopics(), this.sessionEvents());
      this.session = session;
      session.adopt(token, this.followerExact);
    } else {
      this.session.setTopics(this.allTopics());
    }
    this.token = null;
    this.followerStatus = null;
    this.setRole('leader');
    this.broadcastState();
    return new Promise<void>(resolve => {
      this.releaseLock = resolve;
    });
  }

  /** Another tab leads: stop renewing here (keeping the credentials), ask for its state, and queue for the lock. */
  private follow(): void {
    if (this.stopped) {
      return;
    }
    const session = this.session;
    if (session !== null) {
      this.token = session.current ?? this.token;
      this.credentials = session.shareableCredentials ?? this.credentials;
      this.followerExact = session.namesRooms;
      this.followerLastError = session.lastError;
      // The session forgets its credentials on stop; this tab kept them (a Cognito identity stays signed in).
      this.session = null;
      session.stop();
    }
    this.setRole('follower');
    this.post({v: 1, type: 'hello', from: this.deps.tabs.tabId});
    this.queueForLead();
  }

  private queueForLead(): void {
    const locks = this.deps.tabs.locks;
    if (locks === null || this.stopped) {
      return;
    }
    void locks.request(this.names.lock, {signal: this.lockAbort.signal}, () => this.lead()).catch(() => undefined);
  }

  /** The leading session's events (the one this tab signed in with, or one built at a takeover) pass through here. */
  sessionToken(active: ActiveToken): void {
    this.broadcastState();
    this.events.onToken(active);
  }

  sessionStatus(status: SessionStatus): void {
    this.leaderStatus = status;
    this.broadcastState(status);
    this.events.onStatus(status);
  }

  sessionFatal(error: SessionError): void {
    this.post({v: 1, type: 'fatal', from: this.deps.tabs.tabId, error: shareError(error, 0)});
    this.events.onFatal(error);
  }

  private sessionEvents(): {onToken(a: ActiveToken): void; onStatus(s: SessionStatus): void; onFatal(e: SessionError): void} {
    return {
      onToken: active => this.sessionToken(active),
      onStatus: status => this.sessionStatus(status),
      onFatal: error => this.sessionFatal(error),
    };
  }

  /** The leader's state, for every other tab of this user: the token (with its times), credentials, status. */
  private broadcastState(status: SessionStatus = this.leaderStatus): void {
    const session = this.session;
    const active = session?.current ?? null;
    const credentials = session?.shareableCredentials ?? null;
    if (this.role !== 'leader' || session === null || active === null || credentials === null) {
      return;
    }
    const shared = this.deps.exportCredentials(credentials);
    if (shared === null) {
      return;
    }
    const now = this.deps.now();
    const lastError = session.lastError;
    this.post({
      v: 1,
      type: 'state',
      from: this.deps.tabs.tabId,
      token: {
        token: active.token,
        serial: active.serial,
        ageMs: now - active.receivedAtMs,
        remainingMs: active.expiryMs - now,
        refreshInMs: active.refreshAtMs - now,
        clockOffsetMs: active.clockOffsetMs,
      },
      credentials: shared,
      status: {
        kind: status.kind,
        attempt: status.kind === 'retrying' ? status.attempt : 0,
        retryInMs: status.kind === 'retrying' ? status.retryAtMs - now : 0,
        error: status.kind === 'retrying' ? shareError(status.error, 0) : null,
      },
      lastError: lastError === null ? null : shareError(lastError.error, Math.max(0, this.deps.wallNow() - lastError.atWallMs)),
      exact: session.namesRooms,
    });
  }

  private onMessage(data: unknown): void {
    const message = asMessage(data);
    if (message === null || this.stopped || message.from === this.deps.tabs.tabId) {
      return;
    }
    switch (message.type) {
      case 'hello':
        this.broadcastState();
        this.post({v: 1, type: 'shown', from: this.deps.tabs.tabId, visible: this.shown}); // the newcomer counts it
        return;
      case 'shown':
        this.peerShown(message.from, message.visible);
        return;
      case 'state':
        this.onState(message);
        return;
      case 'renew':
        if (this.session !== null) {
          this.deps.beforePeerRequest();
          this.session.resync();
          this.session.refreshNow(message.reason);
          this.broadcastState(); // a follower that missed the latest token gets it at once
        }
        return;
      case 'rooms':
        if (this.session !== null) {
          this.peerTopics.set(message.from, message.topics);
          this.session.setTopics(this.allTopics());
        }
        return;
      case 'bye':
        this.peerTopics.delete(message.from);
        this.peerShown(message.from, null);
        return;
      case 'logout':
        this.stop();
        this.events.onSignedOutElsewhere();
        return;
      case 'fatal':
        // The page acts first (a pause keeps this tab's credentials: it reads them), then this tab forgets them.
        this.events.onFatal(rebuildError(message.error));
        this.stop();
        return;
      case 'cutoff':
        this.events.onCutOff(message.event);
        return;
    }
  }

  /** A peer's visibility (null: it closed). */
  private peerShown(from: string, visible: boolean | null): void {
    const before = this.shownTabs;
    if (visible === null) {
      this.peersShown.delete(from);
    } else {
      this.peersShown.set(from, visible);
    }
    if (this.shownTabs !== before) {
      this.events.onShownTabs?.(this.shownTabs);
    }
  }

  private onState(message: Extract<TabMessage, {type: 'state'}>): void {
    if (this.session !== null) {
      return; // this tab leads (a late message from the previous leader)
    }
    const now = this.deps.now();
    const share = message.token;
    const incoming: ActiveToken = {
      token: share.token,
      serial: share.serial,
      receivedAtMs: now - share.ageMs,
      expiryMs: now + share.remainingMs,
      refreshAtMs: now + share.refreshInMs,
      clockOffsetMs: share.clockOffsetMs,
    };
    if (
      !this.ownCredentials &&
      (this.sharedCredentials === null || !sameCredentials(this.sharedCredentials, message.credentials))
    ) {
      // A tab that continued as this user has only the leader's credentials: keep them current (a rotated Cognito
      // refresh token), for the day it leads.
      this.credentials = this.deps.importCredentials(message.credentials);
      this.sharedCredentials = message.credentials;
    }
    this.followerExact = message.exact;
    this.followerLastError =
      message.lastError === null
        ? null
        : {error: rebuildError(message.lastError), atWallMs: this.deps.wallNow() - message.lastError.agoMs};
    const status = message.status;
    this.followerStatus =
      status.kind === 'retrying' && status.error !== null
        ? {kind: 'retrying', attempt: status.attempt, retryAtMs: now + status.retryInMs, error: rebuildError(status.error)}
        : status.kind === 'fetching'
          ? {kind: 'fetching'}
          : {kind: 'ok'};
    const current = this.token;
    // The leader's token replaces this tab's when it lasts longer, or covers this tab's rooms where it does not (a
    // deployment granting names: the leader asked for them).
    const newer =
      current === null ||
      (share.token.authToken !== current.token.authToken &&
        (incoming.expiryMs > current.expiryMs ||
          (coversTopics(incoming.token, this.topics) && !coversTopics(current.token, this.topics))));
    if (newer) {
      this.token = incoming;
    }
    const waiting = this.waitingForState;
    if (waiting !== null) {
      waiting(true); // continueAs: the first state is this tab's first token, no onToken
    } else if (newer) {
      this.events.onToken(incoming);
    }
    this.events.onStatus(this.followerStatus);
    if (this.role !== 'follower') {
      this.setRole('follower');
    }
    this.askForRooms();
  }

  /** A follower's rooms the token does not cover (a deployment granting names): the leader asks for them too. */
  private askForRooms(): void {
    const token = this.token;
    if (this.session === null && token !== null && !coversTopics(token.token, this.topics)) {
      this.post({v: 1, type: 'rooms', from: this.deps.tabs.tabId, topics: this.topics});
    }
  }

  private askForRenewal(): void {
    const now = this.deps.now();
    const serial = this.token?.serial ?? -1;
    if (serial === this.lastRenewAskSerial && now - this.lastRenewAskAt < RENEW_ASK_INTERVAL_MS) {
      return;
    }
    this.lastRenewAskAt = now;
    this.lastRenewAskSerial = serial;
    this.post({v: 1, type: 'renew', from: this.deps.tabs.tabId, reason: 'expired'});
  }
}

// A signed-in session: the credentials (in memory only, for this tab) and the token's lifecycle.
//
// The first token is fetched at login; afterwards the session renews it at a jittered point before it expires
// (backoff.ts), at once when the rooms in use are not covered by it, and at once (rate-limited) when Momento says
// it is no longer valid. TVM failures that may pass (network, timeout, 429, 5xx: tvm.ts's 'unavailable') are
// retried with exponential backoff and jitter, honouring Retry-After, at login as at renewal (a 429 waits out its
// whole Retry-After, even past the token's expiry); refusals (credentials not or no longer accepted) end the attempt
// or the session. Nothing is ever written to storage.
//
// In AmazonCognito mode the credentials are a signed-in Cognito identity (cognito.ts): every scheduled renewal first
// refreshes the Cognito session (REFRESH_TOKEN_AUTH), so a group change shows on the next Momento token, and the
// fresh ID token goes to the TVM as `Bearer`. Cognito failures follow the same rules: unavailable ones back off,
// a refresh token no longer accepted ends the session.
//
// In Session mode the credentials are the host app's login cookie, which the browser sends with each request; a 401
// at renewal means that login ended (signed out elsewhere, expired), and ends this session the same way.
//
// Scope: the first request names no topics, so a tier that allows `room-*` answers with one prefix grant covering every
// room (or `all`), and joining a room never needs a new token. A deployment that mints exact names only answers that
// request `403 scope_denied` (or a scope without a room in use): the session then names the rooms, as it always did
// (`exact`), and asks again whenever a room outside the token is joined.
//
// Time: `deps.now` is the session clock (clock.ts: monotonic, sleeps included). A token's lifetime is the server's
// `expiresAt - now`, counted from when the request was sent (the token was minted after that, so this errs early);
// the wall clock is used only when an older TVM sends no `now`.

import type {AppConfig} from './config';
import {
  backoffDelayMs,
  DEFAULT_BACKOFF,
  refreshAtMs,
  throttledDelayMs,
  tokenLifetimeMs,
  type BackoffOptions,
} from './backoff';
import {CognitoError} from './cognito';
import {coversTopics, requestToken, TvmError, type Credentials, type VendedToken} from './tvm';
import {OVERDUE_AFTER_MS} from './renewal';

/** A signed-in identity that hands out a bearer token for each TVM request (cognito.ts's CognitoIdentity). */
export interface BearerSource {
  readonly username: string;
  /** `renew`: this is a scheduled renewal, refresh the identity first. Rejects with a CognitoError only. */
  bearer(renew: boolean, signal?: AbortSignal): Promise<string>;
}

/** What a session signs in with: the TVM's own credentials, or a Cognito identity (sent as its ID token). */
export type SessionCredentials = Credentials | {readonly kind: 'identity'; readonly source: BearerSource};

/** A failure of the TVM or, in Cognito mode, of Cognito. Both say whether to retry (`retryable`). */
export type SessionError = TvmError | CognitoError;

export interface ActiveToken {
  readonly token: VendedToken;
  /** Session clock (monotonic), ms. */
  readonly receivedAtMs: number;
  /** When the token expires, on the session clock (the server's lifetime: see tokenLifetimeMs). */
  readonly expiryMs: number;
  /** When the session will renew it, on the session clock. */
  readonly refreshAtMs: number;
  /** 1 for the login token, then 2, 3, ... for each replacement. */
  readonly serial: number;
  /** How far this browser's wall clock was behind the server's when the token came (ms; negative: ahead), or null. */
  readonly clockOffsetMs: number | null;
}

export type SessionStatus =
  | {readonly kind: 'fetching'}
  | {readonly kind: 'ok'}
  | {readonly kind: 'retrying'; readonly attempt: number; readonly retryAtMs: number; readonly error: SessionError};

export interface SessionEvents {
  onToken(active: ActiveToken): void;
  onStatus(status: SessionStatus): void;
  /** The TVM (or Cognito) refused a renewal for good (e.g. the password changed): the page should sign out. */
  onFatal(error: SessionError): void;
}

export interface SessionDeps {
  readonly fetchFn: typeof fetch;
  /** The session clock (monotonic ms, sleeps included: clock.ts). */
  readonly now: () => number;
  /** The wall clock (epoch ms): an older TVM's expiry without `now`, and HTTP-date Retry-After only. */
  readonly wallNow: () => number;
  readonly random: () => number;
  readonly setTimer: (fn: () => void, ms: number) => number;
  readonly clearTimer: (id: number) => void;
}

export const TVM_TIMEOUT_MS = 15_000;
/**
 * Retries before the first token: someone is waiting at the sign-in form, so the ceiling is lower than for renewals
 * (DEFAULT_BACKOFF, 30 s) and the login completes soon after the service is back. Retry-After is still a floor.
 */
export const SIGN_IN_BACKOFF: BackoffOptions = {baseMs: 500, capMs: 10_000};
/** An authentication error this soon after a new token does not trigger another fetch at once (backoff instead). */
const AUTH_REFRESH_GRACE_MS = 5_000;
/** A token this close to its expiry (session clock) counts as expired: a publish waits for the renewal instead. */
export const EXPIRY_GUARD_MS = 1_000;

/** The last failure of a token request, kept for the session panel (with when it happened, on the wall clock). */
export interface LastError {
  readonly error: SessionError;
  readonly atWallMs: number;
}

export class Session {
  private credentials: SessionCredentials | null;
  private topics: string[];
  private active: ActiveToken | null = null;
  private inFlight: AbortController | null = null;
  private timer: number | null = null;
  private timerDueAt = 0;
  /** The pending timer is the token's scheduled renewal (not a retry after a failure). */
  private timerIsRenewal = false;
  /** The deployment grants exact names only (or not the rooms in use): requests name the rooms. */
  private exact = false;
  /** Rooms the last request named that its token does not cover: the tier refuses them, asking again won't help. */
  private notGranted = new Set<string>();
  /** The last failure of a request (kept after a success: the panel says what went wrong last). */
  lastError: LastError | null = null;
  private failures = 0;
  private authStreak = 0;
  private stopped = false;
  /** The next fetch is a renewal: a bearer identity refreshes itself first (set by the renewal timer). */
  private renewIdentity = false;
  /** The last bearer came from a refresh made for this very request (a 401 then is not a stale ID token). */
  private bearerFresh = false;
  private firstToken: {resolve: (t: ActiveToken) => void; reject: (e: SessionError) => void} | null = null;

  constructor(
    private readonly config: AppConfig,
    credentials: SessionCredentials,
    topics: readonly string[],
    private readonly events: SessionEvents,
    private readonly deps: SessionDeps,
  ) {
    this.credentials = credentials;
    this.topics = [...topics];
  }

  /** Who is signed in, as typed (the verified name is the token's tokenId). */
  get who(): string | null {
    const c = this.credentials;
    if (c === null) {
      return null;
    }
    switch (c.kind) {
      case 'basic':
        return c.username;
      case 'identity':
        return c.source.username;
      case 'open':
        return c.name;
      case 'bearer':
      case 'cookie':
        return null;
    }
  }

  get current(): ActiveToken | null {
    return this.active;
  }

  /** Whether requests name the rooms (the deployment grants exact names only), rather than the tier's whole scope. */
  get namesRooms(): boolean {
    return this.exact;
  }

  /** The credentials renewal needs (for the tabs of the same user: tabs.ts), or null once stopped. */
  get shareableCredentials(): SessionCredentials | null {
    return this.credentials;
  }

  /**
   * Takes over a token fetched elsewhere (another tab of the same user, whose renewal this tab now does): no request
   * now, the renewal scheduled from the token's own times. `exact`: that tab had found the deployment grants names.
   */
  adopt(active: ActiveToken, exact: boolean): void {
    if (this.stopped) {
      return;
    }
    this.active = active;
    this.exact = exact;
    this.schedule(active.refreshAtMs - this.deps.now(), true);
    if (!coversTopics(active.token, this.topics)) {
      this.setTopics(this.topics);
    }
  }

  /**
   * Fetches the first token. Resolves with it, or rejects with the SessionError when the TVM refuses for good
   * (wrong password, no tier). Failures that may pass are retried with backoff (see onStatus) until stop().
   */
  start(): Promise<ActiveToken> {
    return new Promise<ActiveToken>((resolve, reject: (e: SessionError) => void) => {
      this.firstToken = {resolve, reject};
      void this.fetchNow();
    });
  }

  /**
   * The rooms in use changed: renew now if the current token does not cover them (a token of the tier's whole scope
   * that lacks one: from now on the requests name the rooms). Rooms the tier refused last time are not asked again.
   */
  setTopics(topics: readonly string[]): void {
    this.topics = [...topics];
    const active = this.active;
    if (active === null || this.inFlight !== null) {
      return;
    }
    const missing = this.topics.filter(t => !coversTopics(active.token, [t]));
    if (missing.length === 0 || (this.exact && missing.every(t => this.notGranted.has(t)))) {
      return;
    }
    this.exact = true;
    void this.fetchNow();
  }

  /**
   * The session clock jumped (the machine slept: clock.ts): a timer due meanwhile runs now, the others are set again
   * for what is left of them (a timer counts on the monotonic clock, which stood still).
   */
  resync(): void {
    if (this.stopped || this.inFlight !== null || this.timer === null) {
      return;
    }
    const remaining = this.timerDueAt - this.deps.now();
    const renewal = this.timerIsRenewal;
    if (remaining > 0) {
      this.schedule(remaining, renewal);
      return;
    }
    this.cancelTimer();
    if (renewal) {
      this.renewIdentity = true;
    }
    void this.fetchNow();
  }

  /** Whether the token is expired or about to be, on the session clock (a publish should wait for the renewal). */
  expired(): boolean {
    return this.active === null || this.deps.now() >= this.active.expiryMs - EXPIRY_GUARD_MS;
  }

  /**
   * Renew now: Momento rejected the token ('auth'), or the page suspects a timer was throttled ('overdue': only
   * acts when the scheduled renewal or retry is OVERDUE_AFTER_MS late: renewal.ts). Never cuts a backoff short.
   */
  refreshNow(reason: 'auth' | 'overdue' | 'expired'): void {
    if (this.stopped || this.inFlight !== null) {
      return; // the fetch under way brings a new token
    }
    if (reason === 'expired') {
      // The token is past its time (a tab that slept) and something waits for it: fetch now, unless a retry after a
      // failure is waiting for its time (the TVM said to wait).
      if (this.expired() && !(this.timer !== null && this.failures > 0)) {
        this.renewIdentity = true;
        void this.fetchNow();
      }
      return;
    }
    const timerPending = this.timer !== null && this.deps.now() < this.timerDueAt + OVERDUE_AFTER_MS;
    if (timerPending && (reason === 'overdue' || this.failures > 0)) {
      return; // the renewal (or the retry after a TVM failure) will run on time
    }
    if (reason === 'overdue') {
      this.renewIdentity = true; // the renewal itself, late (a throttled or sleeping tab)
    }
    if (reason === 'auth' && this.active !== null) {
      const age = this.deps.now() - this.active.receivedAtMs;
      if (age < AUTH_REFRESH_GRACE_MS) {
        // A brand-new token rejected: don't hammer the TVM; renew after a growing delay.
        if (this.timer === null || this.authStreak === 0) {
          this.schedule(backoffDelayMs(this.authStreak, this.deps.random));
        }
        this.authStreak += 1;
        return;
      }
      this.authStreak = 0;
    }
    void this.fetchNow();
  }

  /** The person asked to try again now (the sign-in form's button): a retry waiting after a failure runs at once. */
  retryNow(): void {
    if (!this.stopped && this.inFlight === null && this.failures > 0) {
      void this.fetchNow();
    }
  }

  /** Forgets the credentials and the token, and stops every timer and request. */
  stop(): void {
    this.stopped = true;
    this.credentials = null;
    this.active = null;
    this.cancelTimer();
    this.inFlight?.abort();
    this.inFlight = null;
    this.firstToken = null;
  }

  /** `renewal`: the timer is the token's scheduled renewal (not a retry after a failure). */
  private schedule(delayMs: number, renewal = false): void {
    this.cancelTimer();
    this.timerDueAt = this.deps.now() + Math.max(0, delayMs);
    this.timerIsRenewal = renewal;
    this.timer = this.deps.setTimer(
      () => {
        this.timer = null;
        if (renewal) {
          this.renewIdentity = true;
        }
        void this.fetchNow();
      },
      Math.max(0, delayMs),
    );
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      this.deps.clearTimer(this.timer);
      this.timer = null;
    }
  }

  private async fetchNow(): Promise<void> {
    const credentials = this.credentials;
    if (this.stopped || credentials === null || this.inFlight !== null) {
      return;
    }
    this.cancelTimer();
    const controller = new AbortController();
    this.inFlight = controller;
    this.events.onStatus({kind: 'fetching'});
    const requested = this.exact ? [...this.topics] : [];
    const sentAt = this.deps.now();
    let token: VendedToken;
    try {
      let tvmCredentials: Credentials;
      if (credentials.kind === 'identity') {
        const renew = this.renewIdentity;
        tvmCredentials = {kind: 'bearer', token: await credentials.source.bearer(renew, controller.signal)};
        this.renewIdentity = false; // refreshed (or fresh enough): a retry after a TVM failure needs no new one
        this.bearerFresh = renew;
      } else {
        tvmCredentials = credentials;
      }
      token = await requestToken(
        this.config,
        tvmCredentials,
        {topics: requested, ttlSeconds: this.config.tokenTtlSeconds},
        {fetchFn: this.deps.fetchFn, now: this.deps.wallNow, timeoutMs: TVM_TIMEOUT_MS},
        controller.signal,
      );
    } catch (error) {
      this.inFlight = null;
      if (this.stopped) {
        return;
      }
      if (error instanceof TvmError && error.kind === 'scope_denied' && !this.exact && this.topics.length > 0) {
        // No topics named, and this deployment mints exact names only ("name the topics"): name the rooms, now.
        this.exact = true;
        void this.fetchNow();
        return;
      }
      this.onFailure(
        error instanceof TvmError || error instanceof CognitoError ? error : new TvmError('unavailable', String(error)),
      );
      return;
    }
    this.inFlight = null;
    if (this.stopped) {
      return;
    }
    this.failures = 0;
    const now = this.deps.now();
    const wall = this.deps.wallNow();
    const lifetime = tokenLifetimeMs(token.expiresAt, token.now, wall, this.config.tokenTtlSeconds);
    // With the server's `now`, the lifetime started when the token was minted, after the request was sent.
    const expiryMs = (token.now === null ? now : sentAt) + lifetime;
    const active: ActiveToken = {
      token,
      receivedAtMs: now,
      expiryMs,
      refreshAtMs: refreshAtMs(now, expiryMs, this.deps.random),
      serial: (this.active?.serial ?? 0) + 1,
      clockOffsetMs: token.now === null ? null : token.now * 1000 - wall,
    };
    this.active = active;
    this.schedule(active.refreshAtMs - now, true);
    this.events.onStatus({kind: 'ok'});
    const first = this.firstToken;
    this.firstToken = null;
    if (first !== null) {
      first.resolve(active);
    } else {
      this.events.onToken(active);
    }
    // Rooms joined while the request was under way: fetch again if they are missing and were not asked for
    // (if they were asked for and are still missing, the tier does not allow them: asking again won't help).
    const missing = this.topics.filter(t => !coversTopics(token, [t]));
    this.notGranted = new Set(missing.filter(t => requested.includes(t)));
    if (missing.some(t => !requested.includes(t))) {
      this.exact = true; // the tier's whole scope lacks a room in use (or one was joined meanwhile): name them
      void this.fetchNow();
    }
  }

  private onFailure(error: SessionError): void {
    this.lastError = {error, atWallMs: this.deps.wallNow()};
    if (
      error instanceof TvmError &&
      error.kind === 'unauthenticated' &&
      this.credentials?.kind === 'identity' &&
      !this.bearerFresh &&
      this.active !== null
    ) {
      // The TVM no longer accepts this ID token (expired while the tab slept, say): refresh it and ask once more.
      this.renewIdentity = true;
      this.bearerFresh = true;
      void this.fetchNow();
      return;
    }
    if (!error.retryable) {
      const first = this.firstToken;
      if (first !== null) {
        this.stop();
        first.reject(error);
      } else {
        this.events.onFatal(error);
      }
      return;
    }
    const attempt = this.failures;
    this.failures += 1;
    const options = this.active === null ? SIGN_IN_BACKOFF : DEFAULT_BACKOFF;
    // Too many token requests (429): wait as long as the TVM says, even past the token's expiry (asking sooner only
    // gets another 429); the rooms wait for the new token, the page says so, and nothing signs out.
    const delay =
      error instanceof TvmError && error.throttled
        ? throttledDelayMs(attempt, this.deps.random, options, error.retryAfterMs)
        : backoffDelayMs(attempt, this.deps.random, options, error.retryAfterMs);
    this.events.onStatus({kind: 'retrying', attempt: this.failures, retryAtMs: this.deps.now() + delay, error});
    this.schedule(delay);
  }
}

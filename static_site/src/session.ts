// A signed-in session: the credentials (in memory only, for this tab) and the token's lifecycle.
//
// The first token is fetched at login; afterwards the session renews it at a jittered point before it expires
// (backoff.ts), at once when the rooms in use are not covered by it, and at once (rate-limited) when Momento says
// it is no longer valid. TVM failures that may pass (network, timeout, 429, 5xx: tvm.ts's 'unavailable') are
// retried with exponential backoff and jitter, honouring Retry-After, at login as at renewal; refusals (credentials
// not or no longer accepted) end the attempt or the session. Nothing is ever written to storage.
//
// In AmazonCognito mode the credentials are a signed-in Cognito identity (cognito.ts): every scheduled renewal first
// refreshes the Cognito session (REFRESH_TOKEN_AUTH), so a group change shows on the next Momento token, and the
// fresh ID token goes to the TVM as `Bearer`. Cognito failures follow the same rules: unavailable ones back off,
// a refresh token no longer accepted ends the session.
//
// In Session mode the credentials are the host app's login cookie, which the browser sends with each request; a 401
// at renewal means that login ended (signed out elsewhere, expired), and ends this session the same way.

import type {AppConfig} from './config';
import {backoffDelayMs, DEFAULT_BACKOFF, localExpiryMs, refreshAtMs, type BackoffOptions} from './backoff';
import {CognitoError} from './cognito';
import {coversTopics, requestToken, TvmError, type Credentials, type VendedToken} from './tvm';

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
  /** Local clock, ms. */
  readonly receivedAtMs: number;
  /** When the token expires, on the local clock (see localExpiryMs). */
  readonly expiryMs: number;
  /** When the session will renew it, on the local clock. */
  readonly refreshAtMs: number;
  /** 1 for the login token, then 2, 3, ... for each replacement. */
  readonly serial: number;
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
  readonly now: () => number;
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

export class Session {
  private credentials: SessionCredentials | null;
  private topics: string[];
  private active: ActiveToken | null = null;
  private inFlight: AbortController | null = null;
  private timer: number | null = null;
  private timerDueAt = 0;
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

  /** The rooms in use changed: renew now if the current token does not cover them. */
  setTopics(topics: readonly string[]): void {
    this.topics = [...topics];
    if (this.active !== null && this.inFlight === null && !coversTopics(this.active.token, this.topics)) {
      void this.fetchNow();
    }
  }

  /**
   * Renew now: Momento rejected the token ('auth'), or the page suspects a timer was throttled ('overdue': only
   * acts when the scheduled renewal or retry is more than a second late). Never cuts a backoff short.
   */
  refreshNow(reason: 'auth' | 'overdue'): void {
    if (this.stopped || this.inFlight !== null) {
      return; // the fetch under way brings a new token
    }
    const timerPending = this.timer !== null && this.deps.now() < this.timerDueAt + 1000;
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
    const requested = [...this.topics];
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
        {fetchFn: this.deps.fetchFn, now: this.deps.now, timeoutMs: TVM_TIMEOUT_MS},
        controller.signal,
      );
    } catch (error) {
      this.inFlight = null;
      if (this.stopped) {
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
    const expiryMs = localExpiryMs(token.expiresAt, now, this.config.tokenTtlSeconds);
    const active: ActiveToken = {
      token,
      receivedAtMs: now,
      expiryMs,
      refreshAtMs: refreshAtMs(now, expiryMs, this.deps.random),
      serial: (this.active?.serial ?? 0) + 1,
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
    if (missing.some(t => !requested.includes(t))) {
      void this.fetchNow();
    }
  }

  private onFailure(error: SessionError): void {
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
    const delay = backoffDelayMs(attempt, this.deps.random, options, error.retryAfterMs);
    this.events.onStatus({kind: 'retrying', attempt: this.failures, retryAtMs: this.deps.now() + delay, error});
    this.schedule(delay);
  }
}

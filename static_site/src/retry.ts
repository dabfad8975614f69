// One call made until it succeeds or fails for good, with the sign-in form's backoff: the Cognito sign-in steps
// (InitiateAuth, RespondToAuthChallenge) while someone waits at the form. It reports the same statuses as the token
// session (session.ts), so the form says "unavailable, retrying in 4 s" with "Try now" and "Cancel" in both modes.

import {backoffDelayMs, type BackoffOptions} from './backoff';
import {SIGN_IN_BACKOFF, type SessionError, type SessionStatus} from './session';

export interface RetryDeps {
  readonly now: () => number;
  readonly random: () => number;
  readonly setTimer: (fn: () => void, ms: number) => number;
  readonly clearTimer: (id: number) => void;
}

export class RetryingCall<T> {
  private failures = 0;
  private timer: number | null = null;
  private inFlight: AbortController | null = null;
  private stopped = false;
  private settle: {resolve: (value: T) => void; reject: (error: SessionError) => void} | null = null;

  /** `op` rejects with a SessionError; retryable ones (unavailable) are tried again, others end the call. */
  constructor(
    private readonly op: (signal: AbortSignal) => Promise<T>,
    private readonly onStatus: (status: SessionStatus) => void,
    private readonly deps: RetryDeps,
    private readonly options: BackoffOptions = SIGN_IN_BACKOFF,
  ) {}

  /** Resolves with the result, or rejects with the error that is not worth retrying; neither after cancel(). */
  run(): Promise<T> {
    return new Promise<T>((resolve, reject: (error: SessionError) => void) => {
      this.settle = {resolve, reject};
      void this.attempt();
    });
  }

  /** The person asked to try again now: a retry waiting for its time runs at once. */
  retryNow(): void {
    if (!this.stopped && this.inFlight === null && this.timer !== null) {
      this.deps.clearTimer(this.timer);
      this.timer = null;
      void this.attempt();
    }
  }

  /** Stops: no more attempts, the one under way is aborted, run() never settles. */
  cancel(): void {
    this.stopped = true;
    this.settle = null;
    if (this.timer !== null) {
      this.deps.clearTimer(this.timer);
      this.timer = null;
    }
    this.inFlight?.abort();
    this.inFlight = null;
  }

  private async attempt(): Promise<void> {
    if (this.stopped) {
      return;
    }
    const controller = new AbortController();
    this.inFlight = controller;
    this.onStatus({kind: 'fetching'});
    let value: T;
    try {
      value = await this.op(controller.signal);
    } catch (error) {
      this.inFlight = null;
      if (this.stopped) {
        return;
      }
      const e = error as SessionError;
      if (!e.retryable) {
        const settle = this.settle;
        this.cancel();
        settle?.reject(e);
        return;
      }
      const delay = backoffDelayMs(this.failures, this.deps.random, this.options, e.retryAfterMs);
      this.failures += 1;
      this.onStatus({kind: 'retrying', attempt: this.failures, retryAtMs: this.deps.now() + delay, error: e});
      this.timer = this.deps.setTimer(() => {
        this.timer = null;
        void this.attempt();
      }, delay);
      return;
    }
    this.inFlight = null;
    if (this.stopped) {
      return;
    }
    const settle = this.settle;
    this.stopped = true;
    this.settle = null;
    this.onStatus({kind: 'ok'});
    settle?.resolve(value);
  }
}

// The control channel (docs/api.md "Control channel"): where an operator's cut-off reaches a page that holds a token.
//
// A token answer may list `control: {cache, topics}`: the holder's own topic, its tier's and everyone's, each of which
// the token may subscribe to. The operator's commands publish the bare event there with the deployment's API key, so
// the message's publisher id (the web SDK's `TopicItem.tokenId()`) is empty; every token the TVM vends carries its
// holder's name, so a message any user publishes (a `*` tier may write on these topics) is never obeyed.
//
// A paused page has no token, so it cannot hear a resume: it asks `GET /token/explain` (which mints nothing) with
// backoff until it is served again, then waits a random part of RESUME_SPREAD_MS before it asks for a token, so that
// the paused clients of a tier do not all come back in the same second against Momento's ~5 mints/s per account.
//
// Pure and framework-free: the page wires the subscription, the timers and the explain call in.

import {backoffDelayMs, type BackoffOptions} from './backoff';

export type ControlEvent = 'revoked' | 'restored' | 'paused' | 'resumed';

export interface ControlChannel {
  readonly cache: string;
  readonly topics: readonly string[];
}

const EVENTS: readonly ControlEvent[] = ['revoked', 'restored', 'paused', 'resumed'];
const TOPIC_PREFIX = 'tvm-control-';
const MAX_TOPICS = 3; // the user's, the tier's, everyone's

/** The answer's `control` field, or null when it has none or it is not what the TVM sends (then nothing listens). */
export function controlFromAnswer(body: unknown): ControlChannel | null {
  if (typeof body !== 'object' || body === null) {
    return null;
  }
  const control = (body as Record<string, unknown>)['control'];
  if (typeof control !== 'object' || control === null) {
    return null;
  }
  const {cache, topics} = control as Record<string, unknown>;
  if (typeof cache !== 'string' || cache === '' || !Array.isArray(topics) || topics.length > MAX_TOPICS) {
    return null;
  }
  if (!topics.every(t => typeof t === 'string' && t.startsWith(TOPIC_PREFIX) && t.length <= 64)) {
    return null;
  }
  return {cache, topics: [...(topics as string[])]};
}

/**
 * The event to act on, or null: only a message with an empty publisher id (published with the API key, never by a
 * vended token) that is exactly `{"v": 1, "event": <known>}`.
 */
export function parseControlMessage(text: string, publisherId: string): ControlEvent | null {
  if (publisherId !== '') {
    return null;
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return null;
  }
  const {v, event} = document as Record<string, unknown>;
  return v === 1 && EVENTS.includes(event as ControlEvent) ? (event as ControlEvent) : null;
}

/** What an event means for a page holding a token: drop it (and say why), or nothing (a lift it did not need). */
export function controlAction(event: ControlEvent): 'revoked' | 'paused' | null {
  return event === 'revoked' ? 'revoked' : event === 'paused' ? 'paused' : null;
}

/** How often a paused page asks whether it is served again: first after 5-10 s, the wait doubling to at most a minute. */
export const RESUME_POLL: BackoffOptions = {baseMs: 10_000, capMs: 60_000};
/** Once served again, a page waits a uniformly random part of this before it asks for a token. */
export const RESUME_SPREAD_MS = 30_000;

export type ExplainOutcome = 'served' | 'paused' | 'revoked' | 'unavailable';

export interface ResumeWatchDeps {
  /** `GET /token/explain` for this page's caller, as an outcome (it mints nothing). */
  explain(): Promise<ExplainOutcome>;
  setTimer(fn: () => void, ms: number): number;
  clearTimer(id: number): void;
  random(): number;
}

/**
 * Watches a paused page until it is served again: asks explain after each RESUME_POLL delay; when served, waits a
 * random part of RESUME_SPREAD_MS and calls `onServed` once (the page then asks for a token). A revocation found
 * meanwhile calls `onRevoked` and stops. `stop()` ends it (sign-out).
 */
export class ResumeWatch {
  private timer: number | null = null;
  private attempt = 0;
  private stopped = false;

  constructor(
    private readonly deps: ResumeWatchDeps,
    private readonly onServed: () => void,
    private readonly onRevoked: () => void,
    /** Served again: the page's turn comes in `waitMs` (it may say so meanwhile). */
    private readonly onServedSoon: (waitMs: number) => void = () => undefined,
  ) {}

  start(): void {
    this.schedule(backoffDelayMs(this.attempt, () => this.deps.random(), RESUME_POLL));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) {
      this.deps.clearTimer(this.timer);
      this.timer = null;
    }
  }

  private schedule(ms: number, then: () => void = () => void this.ask()): void {
    if (this.stopped) {
      return;
    }
    this.timer = this.deps.setTimer(() => {
      this.timer = null;
      then();
    }, ms);
  }

  private async ask(): Promise<void> {
    let outcome: ExplainOutcome;
    try {
      outcome = await this.deps.explain();
    } catch {
      outcome = 'unavailable';
    }
    if (this.stopped) {
      return;
    }
    if (outcome === 'served') {
      const waitMs = Math.round(RESUME_SPREAD_MS * clamp01(this.deps.random()));
      this.onServedSoon(waitMs);
      this.schedule(waitMs, () => {
        if (!this.stopped) {
          this.stopped = true;
          this.onServed();
        }
      });
    } else if (outcome === 'revoked') {
      this.stop();
      this.onRevoked();
    } else {
      this.attempt += 1;
      this.schedule(backoffDelayMs(this.attempt, () => this.deps.random(), RESUME_POLL));
    }
  }
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0.5;
}

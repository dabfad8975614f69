// Retry delays and the token refresh schedule: pure functions of time and a random source.

export interface BackoffOptions {
  /** Delay ceiling for the first retry (attempt 0), in ms. */
  readonly baseMs: number;
  /** No delay is ever longer than this. */
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {baseMs: 500, capMs: 30_000};

/**
 * Exponential backoff with "equal jitter": the ceiling doubles per attempt up to `capMs`, and the delay is drawn
 * uniformly from [ceiling / 2, ceiling], so retries from many tabs spread out but never fire back to back.
 * A server's `Retry-After` (when given) is a floor, still capped.
 */
export function backoffDelayMs(
  attempt: number,
  random: () => number = Math.random,
  options: BackoffOptions = DEFAULT_BACKOFF,
  retryAfterMs: number | null = null,
): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** exponent);
  const jittered = ceiling / 2 + (ceiling / 2) * clamp01(random());
  const floor = retryAfterMs === null ? 0 : retryAfterMs;
  return Math.round(Math.min(options.capMs, Math.max(jittered, floor)));
}

/**
 * A 429 without Retry-After (API Gateway's own throttle answer, `{"message":"Too Many Requests"}`): the first wait is
 * drawn from [2 s, 4 s], doubling with each refusal in a row up to the caller's cap. Half a second (the ordinary
 * backoff's start) would come back into the same throttle.
 */
export const THROTTLED_BASE_MS = 4_000;
/** The longest Retry-After the page waits out as given; a longer one is taken as this (it asks again then). */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;
/** Up to this much is added at random to a Retry-After, so tabs told the same wait do not come back together. */
export const RETRY_AFTER_JITTER_MS = 1_000;

/**
 * How long to wait after a 429 (too many token requests): the server's Retry-After, whole (up to MAX_RETRY_AFTER_MS:
 * asking sooner only gets another 429), plus up to RETRY_AFTER_JITTER_MS; without one, a backoff from
 * THROTTLED_BASE_MS, jittered, up to `options.capMs` (never below THROTTLED_BASE_MS).
 */
export function throttledDelayMs(
  attempt: number,
  random: () => number = Math.random,
  options: BackoffOptions = DEFAULT_BACKOFF,
  retryAfterMs: number | null = null,
): number {
  if (retryAfterMs !== null) {
    return Math.round(Math.min(MAX_RETRY_AFTER_MS, retryAfterMs) + RETRY_AFTER_JITTER_MS * clamp01(random()));
  }
  return backoffDelayMs(attempt, random, {baseMs: THROTTLED_BASE_MS, capMs: Math.max(options.capMs, THROTTLED_BASE_MS)});
}

/** Never renew later than this long before the token expires. */
export const REFRESH_MARGIN_MS = 5_000;
/** The TVM's shortest token; also the least lifetime we ever assume, so a skewed clock cannot cause a hot loop. */
export const MIN_TOKEN_LIFETIME_MS = 10_000;

/**
 * When the token received at `receivedAtMs` expires, on this browser's clock.
 *
 * `expiresAtSec` is the server's epoch time; a browser clock that runs ahead would make a fresh token look nearly
 * expired (a refresh storm) and one that runs behind would renew too late. So the lifetime is clamped to at least
 * MIN_TOKEN_LIFETIME_MS and, when we asked for a TTL, to at most that TTL.
 */
export function localExpiryMs(expiresAtSec: number, receivedAtMs: number, requestedTtlSec: number | null): number {
  let lifetime = expiresAtSec * 1000 - receivedAtMs;
  if (requestedTtlSec !== null) {
    lifetime = Math.min(lifetime, requestedTtlSec * 1000);
  }
  return receivedAtMs + Math.max(lifetime, MIN_TOKEN_LIFETIME_MS);
}

/**
 * How long a token lives, in ms, so that this browser's clock cannot distort it.
 *
 * With the server's `now` (epoch seconds, when it minted the token) the lifetime is `expiresAt - now`, both on the
 * server's clock: a browser clock 10 minutes off changes nothing. An older TVM does not send `now`; then the lifetime is
 * `expiresAt` against this browser's wall clock at receipt, clamped as localExpiryMs does. Both are capped by the TTL
 * we asked for (the TVM never grants more), and never below a second (a hot loop).
 */
export function tokenLifetimeMs(
  expiresAtSec: number,
  serverNowSec: number | null,
  wallAtReceiptMs: number,
  requestedTtlSec: number | null,
): number {
  if (serverNowSec === null) {
    return localExpiryMs(expiresAtSec, wallAtReceiptMs, requestedTtlSec) - wallAtReceiptMs;
  }
  let lifetime = (expiresAtSec - serverNowSec) * 1000;
  if (requestedTtlSec !== null) {
    lifetime = Math.min(lifetime, requestedTtlSec * 1000);
  }
  return Math.max(lifetime, 1000);
}

/**
 * When to renew a token: at a random point between 75% and 85% of its lifetime, but never later than
 * REFRESH_MARGIN_MS before it expires (short tokens: up to 5% of the lifetime earlier than that margin, still
 * jittered), and never earlier than half its lifetime. Returns an absolute time in ms.
 */
export function refreshAtMs(receivedAtMs: number, expiryMs: number, random: () => number = Math.random): number {
  const lifetime = Math.max(0, expiryMs - receivedAtMs);
  const r = clamp01(random());
  let at = receivedAtMs + lifetime * (0.75 + 0.1 * r);
  const latest = expiryMs - REFRESH_MARGIN_MS;
  if (at > latest) {
    at = latest - lifetime * 0.05 * r;
  }
  return Math.max(at, receivedAtMs + lifetime / 2);
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0.5;
}

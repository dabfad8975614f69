import {describe, expect, it} from 'vitest';
import {
  backoffDelayMs,
  localExpiryMs,
  MAX_RETRY_AFTER_MS,
  MIN_TOKEN_LIFETIME_MS,
  REFRESH_MARGIN_MS,
  refreshAtMs,
  throttledDelayMs,
} from '../src/backoff';

describe('backoffDelayMs', () => {
  it('doubles the ceiling per attempt, with the delay in [ceiling/2, ceiling]', () => {
    expect(backoffDelayMs(0, () => 0)).toBe(250);
    expect(backoffDelayMs(0, () => 1)).toBe(500);
    expect(backoffDelayMs(3, () => 0)).toBe(2000);
    expect(backoffDelayMs(3, () => 1)).toBe(4000);
  });

  it('is capped at 30 s however many attempts', () => {
    expect(backoffDelayMs(20, () => 1)).toBe(30_000);
    expect(backoffDelayMs(1000, () => 0.5)).toBeLessThanOrEqual(30_000);
    expect(backoffDelayMs(1000, () => 0)).toBe(15_000);
  });

  it('honours Retry-After as a floor, still capped', () => {
    expect(backoffDelayMs(0, () => 0, undefined, 5000)).toBe(5000);
    expect(backoffDelayMs(0, () => 0, undefined, 120_000)).toBe(30_000);
  });

  it('survives a broken random source', () => {
    expect(backoffDelayMs(1, () => Number.NaN)).toBe(750);
  });
});

describe('throttledDelayMs (a 429)', () => {
  it('waits the whole Retry-After, beyond the backoff cap, plus up to a second at random', () => {
    expect(throttledDelayMs(0, () => 0, undefined, 7_000)).toBe(7_000);
    expect(throttledDelayMs(0, () => 1, undefined, 7_000)).toBe(8_000);
    expect(throttledDelayMs(5, () => 0, {baseMs: 500, capMs: 10_000}, 45_000)).toBe(45_000);
    expect(throttledDelayMs(0, () => 0, undefined, 10 * 3_600_000)).toBe(MAX_RETRY_AFTER_MS); // bounded all the same
  });

  it('without Retry-After (the gateway\'s own 429) starts at 2 to 4 s and doubles, up to the cap', () => {
    expect(throttledDelayMs(0, () => 0)).toBe(2_000);
    expect(throttledDelayMs(0, () => 1)).toBe(4_000);
    expect(throttledDelayMs(1, () => 1)).toBe(8_000);
    expect(throttledDelayMs(10, () => 1)).toBe(30_000);
    expect(throttledDelayMs(10, () => 1, {baseMs: 500, capMs: 10_000})).toBe(10_000); // at sign-in
    expect(throttledDelayMs(0, () => 0, {baseMs: 500, capMs: 1_000})).toBe(2_000); // never back into it at once
  });
});

describe('localExpiryMs', () => {
  const now = 1_000_000_000_000;

  it('uses the server expiry when the clocks agree', () => {
    expect(localExpiryMs(now / 1000 + 900, now, null)).toBe(now + 900_000);
  });

  it('never assumes less than the shortest token lifetime (a clock running ahead)', () => {
    expect(localExpiryMs(now / 1000 - 3600, now, null)).toBe(now + MIN_TOKEN_LIFETIME_MS);
  });

  it('caps the lifetime at the TTL we asked for (a clock running behind)', () => {
    expect(localExpiryMs(now / 1000 + 3600, now, 20)).toBe(now + 20_000);
  });
});

describe('refreshAtMs', () => {
  const t0 = 50_000;

  it('renews between 75% and 85% of a long lifetime', () => {
    const expiry = t0 + 3_600_000;
    expect(refreshAtMs(t0, expiry, () => 0)).toBe(t0 + 2_700_000);
    expect(refreshAtMs(t0, expiry, () => 1)).toBe(t0 + 3_060_000);
  });

  it('never later than 5 s before expiry, still jittered', () => {
    const expiry = t0 + 20_000;
    for (const r of [0, 0.3, 0.7, 1]) {
      const at = refreshAtMs(t0, expiry, () => r);
      expect(at).toBeLessThanOrEqual(expiry - REFRESH_MARGIN_MS);
      expect(at).toBeGreaterThanOrEqual(t0 + 10_000);
    }
    expect(refreshAtMs(t0, expiry, () => 0)).not.toBe(refreshAtMs(t0, expiry, () => 1));
  });

  it('never earlier than half the lifetime, even for very short tokens', () => {
    expect(refreshAtMs(t0, t0 + 10_000, () => 1)).toBe(t0 + 5_000);
    expect(refreshAtMs(t0, t0 + 4_000, () => 0.5)).toBe(t0 + 2_000);
  });
});

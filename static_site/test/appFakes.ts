// Test doubles for the page's state and flows: a token as the view model sees it, and the scheduler seam on a
// FakeClock.

import type {ActiveToken} from '../src/session';
import type {Scheduler} from '../src/scheduler';
import type {TopicRole, VendedToken} from '../src/tvm';
import type {FakeClock} from './fakes';

/** A token for `tokenId`, valid from `receivedAtMs` for `lifetimeMs`, renewed at 3/4 of it; rooms by prefix. */
export function activeToken(
  options: {
    tokenId?: string;
    tier?: string;
    role?: TopicRole;
    prefixes?: readonly string[];
    names?: readonly string[];
    receivedAtMs?: number;
    lifetimeMs?: number;
    serial?: number;
    clockOffsetMs?: number | null;
  } = {},
): ActiveToken {
  const receivedAtMs = options.receivedAtMs ?? 0;
  const lifetimeMs = options.lifetimeMs ?? 60_000;
  const token: VendedToken = {
    authToken: 'secret-token',
    expiresAt: 2_000_000_000,
    now: 1_999_999_940,
    tokenId: options.tokenId ?? 'alice',
    endpoint: 'e',
    scope: {
      tier: options.tier ?? 'readwrite',
      cache: 'c',
      topics: {
        role: options.role ?? 'publish_subscribe',
        cache: 'c',
        all: false,
        names: options.names ?? [],
        prefixes: options.prefixes ?? ['room-'],
      },
    },
    control: null,
  };
  return {
    token,
    receivedAtMs,
    expiryMs: receivedAtMs + lifetimeMs,
    refreshAtMs: receivedAtMs + (lifetimeMs * 3) / 4,
    serial: options.serial ?? 1,
    clockOffsetMs: options.clockOffsetMs ?? null,
  };
}

/** The scheduler seam on a FakeClock (session and wall clocks both its `now`; no sleep unless `slept` says so). */
export function fakeScheduler(clock: FakeClock, slept: {gapMs: number} = {gapMs: 0}): Scheduler {
  return {
    now: () => clock.now,
    wallNow: () => clock.now,
    random: () => 0.5,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    every: (fn, ms) => {
      let id = 0;
      const again = (): void => {
        id = clock.setTimer(() => {
          again();
          fn();
        }, ms);
      };
      again();
      return () => clock.clearTimer(id);
    },
    checkSleep: () => {
      const gap = slept.gapMs;
      slept.gapMs = 0;
      return gap;
    },
    sleptMs: () => 0,
  };
}

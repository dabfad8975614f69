// The one seam between the page's logic and time: the session clock, the wall clock, timers and randomness. Session,
// RetryingCall, RoomHub and TabSession each take a subset of it (they are handed the same object), and unit tests
// hand in a fake one.

import {SessionClock} from './clock';

export interface Scheduler {
  /** The session clock (monotonic ms, sleeps included: clock.ts): token lifetimes, renewals, retries. */
  readonly now: () => number;
  /** The wall clock (epoch ms): message times and what is shown, never a lifetime. */
  readonly wallNow: () => number;
  readonly random: () => number;
  readonly setTimer: (fn: () => void, ms: number) => number;
  readonly clearTimer: (id: number) => void;
  /** Calls `fn` every `ms`; returns a function that stops it. */
  readonly every: (fn: () => void, ms: number) => () => void;
  /** Looks for a sleep since the last look (clock.ts); the gap added, 0 when there was none. */
  readonly checkSleep: () => number;
  /** The sleep detected so far (ms), for the test hook. */
  readonly sleptMs: () => number;
}

/** The browser's: performance.now and Date.now through a SessionClock, window timers, Math.random. */
export function browserScheduler(sources: {wall: () => number; monotonic: () => number; random: () => number}): Scheduler {
  const clock = new SessionClock(sources);
  return {
    now: clock.now,
    wallNow: sources.wall,
    random: sources.random,
    setTimer: (fn, ms) => window.setTimeout(fn, ms),
    clearTimer: id => window.clearTimeout(id),
    every: (fn, ms) => {
      const id = window.setInterval(fn, ms);
      return () => window.clearInterval(id);
    },
    checkSleep: () => clock.check(),
    sleptMs: () => clock.sleptMs,
  };
}

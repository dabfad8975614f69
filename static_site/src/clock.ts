// The session's clock: monotonic time (performance.now) that also counts the time a machine spent asleep.
//
// Token lifetimes are measured on it, never on the wall clock (Date.now), which may be minutes off the server's or be
// changed under us. But a monotonic clock stops while the machine sleeps (Chrome's performance.now on Linux and
// macOS), and timers are due on it: a laptop that slept past a token's expiry would wake up thinking it has time
// left. So each check compares how far the two clocks moved since the last one: when the wall clock moved more than
// SLEEP_GAP_MS beyond the monotonic one, the difference is added to this clock (the machine slept, or the wall clock
// was set forward: either way renewing early is harmless). A wall clock set back is ignored.

export interface ClockSources {
  /** Epoch ms (Date.now). */
  readonly wall: () => number;
  /** Monotonic ms (performance.now). */
  readonly monotonic: () => number;
}

/** A wall-clock lead over the monotonic clock larger than this, between two checks, is a sleep. */
export const SLEEP_GAP_MS = 2_000;

export class SessionClock {
  private offsetMs = 0;
  private lastWall: number;
  private lastMonotonic: number;
  /** The sleep detected so far, in ms (the panel and the test hook show it). */
  sleptMs = 0;

  constructor(private readonly sources: ClockSources) {
    this.lastWall = sources.wall();
    this.lastMonotonic = sources.monotonic();
  }

  /** Monotonic ms, sleeps included. */
  readonly now = (): number => this.sources.monotonic() + this.offsetMs;

  /** The wall clock (epoch ms), for what is shown and for HTTP dates; never for a token's lifetime. */
  readonly wall = (): number => this.sources.wall();

  /** Looks for a sleep since the last check; returns the gap added (ms), 0 when there was none. */
  check(): number {
    const wall = this.sources.wall();
    const monotonic = this.sources.monotonic();
    const gap = wall - this.lastWall - (monotonic - this.lastMonotonic);
    this.lastWall = wall;
    this.lastMonotonic = monotonic;
    if (gap > SLEEP_GAP_MS) {
      this.offsetMs += gap;
      this.sleptMs += gap;
      return gap;
    }
    return 0;
  }
}

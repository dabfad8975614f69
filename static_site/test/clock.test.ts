import {describe, expect, it} from 'vitest';
import {SessionClock, SLEEP_GAP_MS} from '../src/clock';

describe('SessionClock', () => {
  const make = () => {
    const t = {wall: 1_700_000_000_000, mono: 1_000};
    return {t, clock: new SessionClock({wall: () => t.wall, monotonic: () => t.mono})};
  };

  it('runs on the monotonic clock, whatever the wall clock says', () => {
    const {t, clock} = make();
    const start = clock.now();
    t.mono += 5_000;
    t.wall += 5_000;
    expect(clock.check()).toBe(0);
    expect(clock.now() - start).toBe(5_000);
  });

  it('counts a sleep: the wall clock ran on while the monotonic one stood still', () => {
    const {t, clock} = make();
    const start = clock.now();
    t.mono += 1_000;
    t.wall += 61_000; // a minute asleep
    expect(clock.check()).toBe(60_000);
    expect(clock.now() - start).toBe(61_000);
    expect(clock.sleptMs).toBe(60_000);
    expect(clock.check()).toBe(0); // counted once
  });

  it('ignores jitter under the threshold and a wall clock set back', () => {
    const {t, clock} = make();
    const start = clock.now();
    t.mono += 1_000;
    t.wall += 1_000 + SLEEP_GAP_MS - 1;
    expect(clock.check()).toBe(0);
    t.wall -= 3_600_000;
    expect(clock.check()).toBe(0);
    expect(clock.now() - start).toBe(1_000);
  });
});

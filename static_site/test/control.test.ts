import {describe, expect, it} from 'vitest';
import {
  controlAction,
  controlFromAnswer,
  type ExplainOutcome,
  parseControlMessage,
  RESUME_SPREAD_MS,
  ResumeWatch,
} from '../src/control';

const TOPICS = ['tvm-control-vsckmdybo4tltpvyokluivxchj', 'tvm-control-xltdz26cxb6ersa3bmd7xstcw4'];

describe('parseControlMessage', () => {
  it('obeys the operator: an unsigned message of a known event', () => {
    for (const event of ['revoked', 'restored', 'paused', 'resumed'] as const) {
      expect(parseControlMessage(JSON.stringify({v: 1, event}), '')).toBe(event);
    }
  });

  it('never obeys a message a vended token published, whatever it says', () => {
    const forged = JSON.stringify({v: 1, event: 'revoked'});
    expect(parseControlMessage(forged, 'alice')).toBeNull();
    expect(parseControlMessage(forged, 'guest:Ann')).toBeNull();
  });

  it('ignores anything but version 1 of a known event', () => {
    for (const text of ['', 'revoked', '[]', 'null', '{"event":"revoked"}', '{"v":2,"event":"revoked"}', '{"v":1,"event":"x"}']) {
      expect(parseControlMessage(text, '')).toBeNull();
    }
  });

  it('drops the token for a revocation or a pause only', () => {
    expect(controlAction('revoked')).toBe('revoked');
    expect(controlAction('paused')).toBe('paused');
    expect(controlAction('resumed')).toBeNull();
    expect(controlAction('restored')).toBeNull();
  });
});

describe('controlFromAnswer', () => {
  it('reads the answer field', () => {
    expect(controlFromAnswer({control: {cache: 'default-cache', topics: TOPICS}})).toEqual({cache: 'default-cache', topics: TOPICS});
  });

  it('is null for an answer without one, or one that is not the TVM shape', () => {
    for (const body of [
      null,
      {},
      {control: null},
      {control: {cache: '', topics: TOPICS}},
      {control: {cache: 'c', topics: ['room-1']}},
      {control: {cache: 'c', topics: [...TOPICS, ...TOPICS]}},
      {control: {cache: 'c', topics: 'tvm-control-a'}},
    ]) {
      expect(controlFromAnswer(body)).toBeNull();
    }
  });
});

/** Timers run by hand: `advance(ms)` fires what is due, in order, awaiting each (explain is async). */
class Timers {
  now = 0;
  private next = 1;
  private pending = new Map<number, {at: number; fn: () => void}>();

  set = (fn: () => void, ms: number): number => {
    const id = this.next++;
    this.pending.set(id, {at: this.now + ms, fn});
    return id;
  };

  clear = (id: number): void => {
    this.pending.delete(id);
  };

  get count(): number {
    return this.pending.size;
  }

  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) {
        break;
      }
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      for (let i = 0; i < 5; i++) {
        await Promise.resolve();
      }
    }
    this.now = until;
  }
}

function watch(outcomes: ExplainOutcome[], random = 0.5) {
  const timers = new Timers();
  const asked: number[] = [];
  const events: string[] = [];
  const w = new ResumeWatch(
    {
      explain: async () => {
        asked.push(timers.now);
        return outcomes.shift() ?? 'paused';
      },
      setTimer: timers.set,
      clearTimer: timers.clear,
      random: () => random,
    },
    () => events.push(`served@${timers.now}`),
    () => events.push(`revoked@${timers.now}`),
    waitMs => events.push(`soon@${timers.now}+${waitMs}`),
  );
  return {timers, asked, events, w};
}

describe('ResumeWatch', () => {
  it('asks explain with a growing wait while paused, then comes back after a random part of the spread', async () => {
    const {timers, asked, events, w} = watch(['paused', 'unavailable', 'served'], 0.5);
    w.start();
    await timers.advance(10 * 60_000);
    // equal jitter at 0.5: 7.5 s, then 15 s, then 30 s after each other
    expect(asked).toEqual([7_500, 22_500, 52_500]);
    expect(events).toEqual([`soon@52500+${RESUME_SPREAD_MS / 2}`, `served@${52_500 + RESUME_SPREAD_MS / 2}`]);
    expect(timers.count).toBe(0);
  });

  it('never waits more than a minute between asks', async () => {
    const {timers, asked, w} = watch([], 1);
    w.start();
    await timers.advance(30 * 60_000);
    const gaps = asked.slice(1).map((at, i) => at - asked[i]!);
    expect(Math.max(...gaps)).toBe(60_000);
  });

  it('spreads many paused pages over the whole window once served', async () => {
    const comeback: number[] = [];
    for (let i = 0; i < 20; i++) {
      const {timers, events, w} = watch(['served'], i / 19);
      w.start();
      await timers.advance(5 * 60_000);
      comeback.push(Number(events.find(e => e.startsWith('served@'))!.split('@')[1]));
    }
    const spread = Math.max(...comeback) - Math.min(...comeback);
    expect(spread).toBeGreaterThan(RESUME_SPREAD_MS); // first ask (5-10 s) and then the spread itself (0-30 s)
  });

  it('stops at a revocation, and at sign-out', async () => {
    const revoked = watch(['paused', 'revoked']);
    revoked.w.start();
    await revoked.timers.advance(5 * 60_000);
    expect(revoked.events).toEqual([`revoked@${revoked.asked[1]}`]);
    expect(revoked.timers.count).toBe(0);

    const stopped = watch(['served']);
    stopped.w.start();
    await stopped.timers.advance(8_000); // asked, served, now waiting out its spread
    stopped.w.stop();
    await stopped.timers.advance(5 * 60_000);
    expect(stopped.events).toEqual(['soon@7500+15000']); // said it would come back, then was stopped before it did
  });
});

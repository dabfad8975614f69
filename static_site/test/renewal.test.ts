// The page's renewal triggers (renewal.ts): when the page asks the token source to renew, and publishes waiting
// for the token.

import {describe, expect, it} from 'vitest';
import {isOverdue, OVERDUE_AFTER_MS, RenewalTriggers, TOKEN_WAIT_MS, TokenWaiters, type RenewReason, type TokenSource} from '../src/renewal';
import {parseConfig} from '../src/config';
import {Session} from '../src/session';
import {activeToken, fakeScheduler} from './appFakes';
import {FakeClock, FakeHost, flush} from './fakes';

class FakeSource implements TokenSource {
  readonly asked: RenewReason[] = [];
  resyncs = 0;
  ticks = 0;
  isExpired = false;

  refreshNow(reason: RenewReason): void {
    this.asked.push(reason);
  }

  resync(): void {
    this.resyncs += 1;
  }

  expired(): boolean {
    return this.isExpired;
  }

  tick(): void {
    this.ticks += 1;
  }
}

function triggers(clock: FakeClock, tab: FakeSource | null, session: FakeSource | null = null, sleep = {gapMs: 0}): RenewalTriggers {
  return new RenewalTriggers({
    sources: () => [tab, session],
    now: () => clock.now,
    checkSleep: () => {
      const gap = sleep.gapMs;
      sleep.gapMs = 0;
      return gap;
    },
  });
}

describe('renewal triggers', () => {
  it('call a renewal overdue only once it is OVERDUE_AFTER_MS late (one constant, 2 s)', () => {
    const token = activeToken({receivedAtMs: 0, lifetimeMs: 40_000}); // renews at 30 s
    expect(OVERDUE_AFTER_MS).toBe(2_000);
    expect(isOverdue(token, 30_000 + 1_999)).toBe(false);
    expect(isOverdue(token, 30_000 + 2_000)).toBe(true);
    expect(isOverdue(null, 1e12)).toBe(false);
  });

  it('every tick: the tab checks its token, and an overdue renewal is asked for', () => {
    const clock = new FakeClock();
    clock.now = 0;
    const tab = new FakeSource();
    const page = triggers(clock, tab);
    const token = activeToken({receivedAtMs: 0, lifetimeMs: 40_000});
    clock.now = 31_000;
    page.tick(token);
    expect(tab.ticks).toBe(1);
    expect(tab.asked).toEqual([]); // a second late: the session's own timer still runs
    clock.now = 32_000;
    page.tick(token);
    expect(tab.asked).toEqual(['overdue']);
  });

  it('after a sleep, both the tab and a sign-in’s session catch up on their timers', () => {
    const clock = new FakeClock();
    const tab = new FakeSource();
    const session = new FakeSource();
    const sleep = {gapMs: 0};
    const page = triggers(clock, tab, session, sleep);
    page.tick(null);
    expect([tab.resyncs, session.resyncs]).toEqual([0, 0]);
    sleep.gapMs = 60_000;
    page.tick(null);
    expect([tab.resyncs, session.resyncs]).toEqual([1, 1]);
  });

  it('back online or shown again: asks for an expired or overdue token at once', () => {
    const tab = new FakeSource();
    triggers(new FakeClock(), tab).wake();
    expect(tab.asked).toEqual(['expired', 'overdue']);
  });

  it('before a publish: renews an expired token first (the publish waits), and leaves a valid one alone', () => {
    const tab = new FakeSource();
    const page = triggers(new FakeClock(), tab);
    expect(page.beforePublish()).toBe(false);
    expect(tab.asked).toEqual([]);
    tab.isExpired = true;
    expect(page.beforePublish()).toBe(true);
    expect(tab.asked).toEqual(['expired']);
    expect(triggers(new FakeClock(), null).beforePublish()).toBe(false);
  });

  it('Momento rejected the token: the tab is asked to renew', () => {
    const tab = new FakeSource();
    triggers(new FakeClock(), tab).rejected();
    expect(tab.asked).toEqual(['auth']);
  });
});

describe('publishes waiting for a token', () => {
  it('go on when the token comes, and give up at sign-out or after TOKEN_WAIT_MS', async () => {
    const clock = new FakeClock();
    const waiters = new TokenWaiters(clock);
    const results: boolean[] = [];
    void waiters.next().then(ok => results.push(ok));
    await flush();
    waiters.settle(true);
    await flush();
    expect(results).toEqual([true]);

    void waiters.next().then(ok => results.push(ok));
    await clock.advance(TOKEN_WAIT_MS - 1);
    expect(results).toEqual([true]);
    await clock.advance(1);
    expect(results).toEqual([true, false]);

    void waiters.next().then(ok => results.push(ok));
    await flush();
    waiters.settle(false);
    await flush();
    expect(results).toEqual([true, false, false]);
    expect(clock.pending()).toBe(0);
  });
});

describe('the session, asked for an overdue renewal', () => {
  it('leaves a renewal timer alone until it is OVERDUE_AFTER_MS late, then renews at once', async () => {
    const clock = new FakeClock();
    const host = new FakeHost(() => clock.now);
    host.user = 'alice';
    const parsed = parseConfig(
      {authMethod: 'Session', apiUrl: '/api/momento', session: {loginUrl: '/login', logoutUrl: '/logout'}, tokenTtlSeconds: 20},
      'http://127.0.0.1:8000/',
    );
    if (!parsed.ok) {
      throw new Error(parsed.problems.join('; '));
    }
    const session = new Session(parsed.config, {kind: 'cookie'}, ['room-a'], {onToken() {}, onStatus() {}, onFatal() {}}, {
      fetchFn: host.fetch,
      ...fakeScheduler(clock),
    });
    const first = await session.start();
    expect(host.tokenRequests()).toHaveLength(1);
    // The timer did not run (a throttled tab): the clock moves on without it.
    clock.now = first.refreshAtMs + OVERDUE_AFTER_MS - 100;
    session.refreshNow('overdue');
    await flush();
    expect(host.tokenRequests()).toHaveLength(1);
    clock.now = first.refreshAtMs + OVERDUE_AFTER_MS;
    session.refreshNow('overdue');
    await flush();
    expect(host.tokenRequests()).toHaveLength(2);
    session.stop();
  });
});

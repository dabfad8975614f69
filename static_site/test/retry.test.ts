import {beforeEach, describe, expect, it} from 'vitest';
import {CognitoError, type CognitoAuthStep} from '../src/cognito';
import {signInProgressText} from '../src/notices';
import {RetryingCall} from '../src/retry';
import {SIGN_IN_BACKOFF, type SessionError, type SessionStatus} from '../src/session';
import {FakeClock, FakeCognito, flush} from './fakes';

describe('RetryingCall: a Cognito sign-in step while someone waits at the form', () => {
  let clock: FakeClock;
  let pool: FakeCognito;
  let statuses: SessionStatus[];

  beforeEach(() => {
    clock = new FakeClock();
    pool = new FakeCognito(() => clock.now);
    pool.users.set('alice', {password: 'alice-password', temporary: false});
    statuses = [];
  });

  const call = (password = 'alice-password'): RetryingCall<CognitoAuthStep> =>
    new RetryingCall(
      signal => pool.signIn('alice', password, signal),
      status => statuses.push(status),
      {now: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );

  const unavailable = (status: number | null, code: string | null): CognitoError =>
    new CognitoError('unavailable', 'Amazon Cognito is unavailable.', status, code);

  it('retries while Cognito is unavailable, saying so on the form, then signs in', async () => {
    pool.answers.push(unavailable(500, 'InternalErrorException'), unavailable(null, 'network'));
    let done: CognitoAuthStep | null = null;
    void call()
      .run()
      .then(step => {
        done = step;
      });
    await flush();
    const first = statuses.at(-1)!;
    expect(first).toMatchObject({kind: 'retrying', attempt: 1});
    expect(signInProgressText(first, clock.now, null)).toMatch(/^The sign-in service is unavailable \(HTTP 500\); retrying in \d+ s…$/);
    await clock.advance(400);
    const second = statuses.at(-1)!;
    expect(signInProgressText(second, clock.now, null)).toMatch(/unavailable \(no connection\); retrying/);
    await clock.advance(1_000);
    expect(done).toMatchObject({kind: 'tokens'});
    expect(pool.count('signIn')).toBe(3);
    expect(statuses.at(-1)).toEqual({kind: 'ok'});
    for (const status of statuses) {
      expect(signInProgressText(status, clock.now, null) ?? '').not.toMatch(/password/i);
    }
  });

  it('stops at a wrong password: no retry', async () => {
    await expect(call('nope').run()).rejects.toMatchObject({kind: 'bad_credentials'});
    await clock.advance(60_000);
    expect(pool.count('signIn')).toBe(1);
  });

  it('never waits more than the sign-in ceiling between attempts', async () => {
    for (let i = 0; i < 8; i++) {
      pool.answers.push(unavailable(503, 'ServiceUnavailable'));
    }
    void call().run();
    await clock.advance(60_000);
    expect(pool.count('signIn')).toBe(9);
    const delays = statuses.flatMap(s => (s.kind === 'retrying' ? [s.retryAtMs] : []));
    expect(delays.length).toBe(8);
    const retrying = statuses.filter((s): s is Extract<SessionStatus, {kind: 'retrying'}> => s.kind === 'retrying');
    const errors: SessionError[] = retrying.map(s => s.error);
    expect(errors.every(e => e.kind === 'unavailable')).toBe(true);
    expect(SIGN_IN_BACKOFF.capMs).toBe(10_000);
  });

  it('"Try now" runs the waiting retry at once; Cancel ends it without settling', async () => {
    pool.answers.push(unavailable(500, null), unavailable(500, null));
    const c = call();
    let settled = false;
    void c.run().then(
      () => (settled = true),
      () => (settled = true),
    );
    await flush();
    c.retryNow();
    await flush();
    expect(pool.count('signIn')).toBe(2);
    c.cancel();
    await clock.advance(60_000);
    expect(pool.count('signIn')).toBe(2);
    expect(settled).toBe(false);
  });
});

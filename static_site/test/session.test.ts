import {beforeEach, describe, expect, it} from 'vitest';
import type {AppConfig} from '../src/config';
import {Session, type ActiveToken, type SessionStatus} from '../src/session';
import type {TvmError} from '../src/tvm';
import {FakeClock, flush} from './fakes';

const CONFIG: AppConfig = {
  apiUrl: 'http://api',
  authMethod: 'LambdaAuthorizer',
  momentoEndpointOverride: null,
  tokenTtlSeconds: 20,
};

function tokenResponse(nowMs: number, topics: string[]): Response {
  return new Response(
    JSON.stringify({
      authToken: `tok-${nowMs}`,
      expiresAt: Math.floor(nowMs / 1000) + 20,
      tokenId: 'alice',
      endpoint: 'e',
      scope: {
        tier: 'readwrite',
        cache: 'c',
        topics: {role: 'publish_subscribe', cache: 'c', all: false, names: topics},
      },
    }),
    {status: 200},
  );
}

describe('Session', () => {
  let clock: FakeClock;
  let requests: string[];
  let answers: ((url: string) => Response)[];
  let tokens: ActiveToken[];
  let statuses: SessionStatus[];
  let fatal: TvmError[];

  const fetchFn = (async (url: string) => {
    requests.push(url);
    const answer = answers.shift();
    if (answer === undefined) {
      const topics = new URL(url).searchParams.get('topics')?.split(',') ?? [];
      return tokenResponse(clock.now, topics);
    }
    return answer(url);
  }) as typeof fetch;

  const make = (topics = ['room-a']): Session =>
    new Session(
      CONFIG,
      {kind: 'basic', username: 'alice', password: 'pw'},
      topics,
      {
        onToken: t => tokens.push(t),
        onStatus: s => statuses.push(s),
        onFatal: e => fatal.push(e),
      },
      {fetchFn, now: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );

  beforeEach(() => {
    clock = new FakeClock();
    clock.now = 1_700_000_000_000;
    requests = [];
    answers = [];
    tokens = [];
    statuses = [];
    fatal = [];
  });

  it('gets a token, then renews it before expiry with jitter, again and again', async () => {
    const session = make();
    const first = await session.start();
    expect(first.serial).toBe(1);
    expect(requests[0]).toBe('http://api/token?topics=room-a&ttlSeconds=20');
    expect(first.refreshAtMs - first.receivedAtMs).toBeLessThanOrEqual(15_000);
    expect(first.refreshAtMs - first.receivedAtMs).toBeGreaterThanOrEqual(10_000);
    await clock.advance(15_000);
    expect(tokens.map(t => t.serial)).toEqual([2]);
    await clock.advance(15_000);
    expect(tokens.map(t => t.serial)).toEqual([2, 3]);
    session.stop();
    await clock.advance(60_000);
    expect(tokens).toHaveLength(2);
  });

  it('retries an unavailable TVM with backoff, then succeeds', async () => {
    answers.push(
      () => new Response('{"error":{"code":"upstream_unavailable","message":"x"}}', {status: 503}),
      () => {
        throw new TypeError('Failed to fetch');
      },
    );
    const session = make();
    let done: ActiveToken | null = null;
    void session.start().then(t => {
      done = t;
    });
    await flush();
    expect(statuses.at(-1)).toMatchObject({kind: 'retrying', attempt: 1});
    await clock.advance(400);
    expect(statuses.at(-1)).toMatchObject({kind: 'retrying', attempt: 2});
    expect(done).toBeNull();
    await clock.advance(800);
    expect(done).not.toBeNull();
    expect(requests).toHaveLength(3);
  });

  it('rejects a wrong password at login without retrying', async () => {
    answers.push(() => new Response('{"message":"Forbidden"}', {status: 403}));
    const session = make();
    await expect(session.start()).rejects.toMatchObject({kind: 'bad_credentials'});
    await clock.advance(60_000);
    expect(requests).toHaveLength(1);
  });

  it('ends the session when a renewal is refused', async () => {
    const session = make();
    await session.start();
    answers.push(() => new Response('{"message":"Forbidden"}', {status: 403}));
    await clock.advance(15_000);
    expect(fatal.map(e => e.kind)).toEqual(['bad_credentials']);
  });

  it('asks for a new token when a room outside the token is joined', async () => {
    const session = make();
    await session.start();
    session.setTopics(['room-a']);
    expect(requests).toHaveLength(1);
    session.setTopics(['room-b', 'room-a']);
    await flush();
    expect(requests[1]).toBe('http://api/token?topics=room-b%2Croom-a&ttlSeconds=20');
    expect(tokens.at(-1)?.token.scope.topics?.names).toEqual(['room-b', 'room-a']);
  });

  it('does not cut a TVM backoff short when asked to renew', async () => {
    const session = make();
    await session.start();
    const down = () => new Response('{"error":{"code":"upstream_unavailable","message":"x"}}', {status: 503});
    answers.push(down, down, down, down);
    await clock.advance(14_600); // the scheduled renewal (at 14.5 s) fails; a retry is due 375 ms later
    expect(requests).toHaveLength(2);
    session.refreshNow('overdue');
    session.refreshNow('auth');
    await flush();
    expect(requests).toHaveLength(2);
    await clock.advance(1000); // the retry runs on its own schedule
    expect(requests.length).toBeGreaterThan(2);
  });

  it('renews at once on an authentication error, but not in a loop', async () => {
    const session = make();
    await session.start();
    clock.now += 6000;
    session.refreshNow('auth');
    await flush();
    expect(requests).toHaveLength(2);
    session.refreshNow('auth'); // the brand-new token is rejected too: wait
    await flush();
    expect(requests).toHaveLength(2);
    await clock.advance(600);
    expect(requests).toHaveLength(3);
  });
});

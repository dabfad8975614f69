import {beforeEach, describe, expect, it} from 'vitest';
import type {AppConfig} from '../src/config';
import {CognitoError, CognitoIdentity, jwtClaims} from '../src/cognito';
import {renewalRetryText, signedOutText, signInProgressText} from '../src/notices';
import {Session, SIGN_IN_BACKOFF, type ActiveToken, type SessionError, type SessionStatus} from '../src/session';
import {FakeClock, FakeCognito, flush} from './fakes';

const CONFIG: AppConfig = {
  apiUrl: 'http://api',
  authMethod: 'LambdaAuthorizer',
  momentoEndpointOverride: null,
  tokenTtlSeconds: 20,
  cognito: null,
  session: null,
};

/**
 * A token as the TVM answers (on the server's clock, `serverMs`): `topics` null (none named) gets the tier's pattern
 * as a prefix, `room-`; named topics get those names. `withNow: false` is an older TVM (no `now`).
 */
function tokenResponse(serverMs: number, topics: string[] | null, withNow = true, ttlSeconds = 20): Response {
  const nowSec = Math.floor(serverMs / 1000);
  return new Response(
    JSON.stringify({
      authToken: `tok-${serverMs}-${Math.random()}`,
      expiresAt: nowSec + ttlSeconds,
      ...(withNow ? {now: nowSec} : {}),
      tokenId: 'alice',
      endpoint: 'e',
      scope: {
        tier: 'readwrite',
        cache: 'c',
        topics:
          topics === null
            ? {role: 'publish_subscribe', cache: 'c', all: false, names: [], prefixes: ['room-']}
            : {role: 'publish_subscribe', cache: 'c', all: false, names: topics, prefixes: []},
      },
    }),
    {status: 200},
  );
}

function namedTopics(url: string): string[] | null {
  return new URL(url).searchParams.get('topics')?.split(',') ?? null;
}

const SCOPE_DENIED = (): Response =>
  new Response('{"error":{"code":"scope_denied","message":"name the topics you want (?topics=a,b)"}}', {status: 403});

describe('Session', () => {
  let clock: FakeClock;
  let requests: string[];
  let requestTimes: number[];
  let answers: ((url: string) => Response)[];
  let tokens: ActiveToken[];
  let statuses: SessionStatus[];
  let fatal: SessionError[];

  /** A deployment minting exact names only (`topic_patterns: exact`): no topics named is 403 scope_denied. */
  let exactNames: boolean;
  /** How far this browser's wall clock is off the server's (ms; positive: ahead). */
  let skewMs: number;
  /** Time this machine slept (the session clock counts it; the FakeClock's timers do not see it). */
  let sleptMs: number;

  const fetchFn = (async (url: string) => {
    requests.push(url);
    requestTimes.push(clock.now);
    const answer = answers.shift();
    if (answer === undefined) {
      const topics = namedTopics(url);
      return topics === null && exactNames ? SCOPE_DENIED() : tokenResponse(clock.now + sleptMs, topics);
    }
    return answer(url);
  }) as typeof fetch;

  const make = (topics = ['room-a'], withNow = true): Session =>
    new Session(
      CONFIG,
      {kind: 'basic', username: 'alice', password: 'pw'},
      topics,
      {
        onToken: t => tokens.push(t),
        onStatus: s => statuses.push(s),
        onFatal: e => fatal.push(e),
      },
      {
        fetchFn: withNow
          ? fetchFn
          : ((async (url: string) => {
              requests.push(url);
              return tokenResponse(clock.now, namedTopics(url), false);
            }) as typeof fetch),
        now: () => clock.now + sleptMs,
        wallNow: () => clock.now + sleptMs + skewMs,
        random: () => 0.5,
        setTimer: clock.setTimer,
        clearTimer: clock.clearTimer,
      },
    );

  beforeEach(() => {
    clock = new FakeClock();
    clock.now = 1_700_000_000_000;
    exactNames = false;
    skewMs = 0;
    sleptMs = 0;
    requests = [];
    requestTimes = [];
    answers = [];
    tokens = [];
    statuses = [];
    fatal = [];
  });

  it('gets a token, then renews it before expiry with jitter, again and again', async () => {
    const session = make();
    const first = await session.start();
    expect(first.serial).toBe(1);
    expect(requests[0]).toBe('http://api/token?ttlSeconds=20'); // no topics named: the tier's whole scope
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

  it('gets one token for every room the tier allows: joining five rooms in a row asks for nothing', async () => {
    const session = make();
    const first = await session.start();
    expect(first.token.scope.topics?.prefixes).toEqual(['room-']);
    const rooms: string[] = ['room-a'];
    for (const room of ['room-b', 'room-c', 'room-d', 'room-e', 'room-f']) {
      rooms.unshift(room);
      session.setTopics(rooms);
      await flush();
    }
    expect(requests).toEqual(['http://api/token?ttlSeconds=20']);
    expect(session.namesRooms).toBe(false);
  });

  describe('where the deployment grants exact names only', () => {
    it('names the rooms at once after the 403 to no topics, then asks again for a room outside the token', async () => {
      exactNames = true;
      const session = make();
      const first = await session.start();
      expect(requests).toEqual(['http://api/token?ttlSeconds=20', 'http://api/token?topics=room-a&ttlSeconds=20']);
      expect(first.token.scope.topics?.names).toEqual(['room-a']);
      expect(statuses.filter(s => s.kind === 'retrying')).toEqual([]); // not a failure: one more request, at once
      expect(session.namesRooms).toBe(true);
      session.setTopics(['room-a']);
      expect(requests).toHaveLength(2);
      session.setTopics(['room-b', 'room-a']);
      await flush();
      expect(requests[2]).toBe('http://api/token?topics=room-b%2Croom-a&ttlSeconds=20');
      expect(tokens.at(-1)?.token.scope.topics?.names).toEqual(['room-b', 'room-a']);
      await clock.advance(15_000); // renewals keep naming the rooms
      expect(requests[3]).toBe('http://api/token?topics=room-b%2Croom-a&ttlSeconds=20');
    });

    it('a whole-scope token without a room in use (a tier of exact names): names the rooms from then on', async () => {
      answers.push(() => tokenResponse(clock.now, ['lobby']));
      const session = make(['room-a']);
      await session.start();
      await flush();
      expect(requests).toEqual(['http://api/token?ttlSeconds=20', 'http://api/token?topics=room-a&ttlSeconds=20']);
      expect(tokens.at(-1)?.token.scope.topics?.names).toEqual(['room-a']);
      expect(session.namesRooms).toBe(true);
    });

    it('a room the tier refuses is not asked for again on every join', async () => {
      exactNames = true;
      answers.push(SCOPE_DENIED, () => tokenResponse(clock.now, ['room-a']));
      const session = make(['room-a']);
      await session.start();
      answers.push(() => tokenResponse(clock.now, ['room-a'])); // room-x refused: not in the answer
      session.setTopics(['room-x', 'room-a']);
      await flush();
      expect(requests).toHaveLength(3);
      session.setTopics(['room-x', 'room-a']);
      session.setTopics(['room-a', 'room-x']);
      await flush();
      expect(requests).toHaveLength(3);
    });
  });

  describe('renewal on the server\'s clock', () => {
    for (const skew of [10 * 60_000, -10 * 60_000]) {
      it(`renews at 75-85% of the token's life with this browser's clock ${skew > 0 ? 'ahead' : 'behind'} by 10 minutes`, async () => {
        skewMs = skew;
        const session = make();
        const first = await session.start();
        expect(first.expiryMs - first.receivedAtMs).toBe(20_000);
        expect(first.clockOffsetMs).toBe(-skew);
        await clock.advance(14_400);
        expect(requests).toHaveLength(1);
        await clock.advance(200);
        expect(requests).toHaveLength(2); // at 14.5 s of 20 (random 0.5), as with a right clock
        await clock.advance(14_600);
        expect(tokens.map(t => t.serial)).toEqual([2, 3]);
      });
    }

    it('an older TVM (no `now`): the lifetime on this clock, clamped to the TTL asked for', async () => {
      skewMs = -10 * 60_000; // behind: expiresAt looks 10 minutes further away
      const session = make(['room-a'], false);
      const first = await session.start();
      expect(first.clockOffsetMs).toBeNull();
      expect(first.expiryMs - first.receivedAtMs).toBe(20_000);
    });

    it('counts the lifetime from when the request was sent (the token was minted after that)', async () => {
      const fetchLate = (async (url: string) => {
        requests.push(url);
        clock.now += 3_000; // a slow answer: the server minted at once, the answer took 3 s
        return tokenResponse(clock.now - 3_000, null);
      }) as typeof fetch;
      const session = new Session(
        CONFIG,
        {kind: 'basic', username: 'alice', password: 'pw'},
        ['room-a'],
        {onToken: t => tokens.push(t), onStatus: s => statuses.push(s), onFatal: e => fatal.push(e)},
        {fetchFn: fetchLate, now: () => clock.now, wallNow: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
      );
      const first = await session.start();
      expect(first.expiryMs - first.receivedAtMs).toBe(17_000);
    });
  });

  describe('a machine that slept past the expiry', () => {
    it('renews at once when the clock says it slept (resync), not when the stalled timer would', async () => {
      const session = make();
      await session.start();
      await clock.advance(5_000);
      sleptMs = 60_000; // the lid was closed for a minute: the wall clock ran on, timers and performance.now did not
      expect(session.expired()).toBe(true);
      session.resync();
      await flush();
      expect(requests).toHaveLength(2);
      expect(tokens.map(t => t.serial)).toEqual([2]);
      expect(session.expired()).toBe(false);
    });

    it("refreshNow('expired') fetches at once for an expired token, and does nothing for a valid one", async () => {
      const session = make();
      await session.start();
      session.refreshNow('expired');
      await flush();
      expect(requests).toHaveLength(1);
      sleptMs = 30_000;
      session.refreshNow('expired');
      session.refreshNow('expired'); // under way: not twice
      await flush();
      expect(requests).toHaveLength(2);
    });

    it('a resync with time left moves the timer to what is left of it', async () => {
      const session = make();
      await session.start();
      sleptMs = 10_000; // asleep for 10 s: the renewal (at 14.5 s) is 4.5 s away now
      session.resync();
      await clock.advance(4_400);
      expect(requests).toHaveLength(1);
      await clock.advance(200);
      expect(requests).toHaveLength(2);
    });
  });

  it('adopts a token fetched by another tab: no request now, the renewal on that token\'s schedule', async () => {
    const session = make();
    const other = make();
    const first = await other.start();
    other.stop();
    requests.length = 0;
    await clock.advance(5_000);
    session.adopt(first, false);
    await flush();
    expect(requests).toHaveLength(0);
    await clock.advance(9_400);
    expect(requests).toHaveLength(0);
    await clock.advance(200);
    expect(requests).toHaveLength(1);
    expect(tokens.map(t => t.serial)).toEqual([2]);
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

  describe('signing in while the service cannot check', () => {
    const gateway500 = (): Response => new Response('{"message":"Internal Server Error"}', {status: 500});

    it("retries the gateway's own 500 by itself, says unavailable (never wrong password), then signs in", async () => {
      answers.push(gateway500, gateway500, gateway500);
      const session = make();
      let done: ActiveToken | null = null;
      let refused: unknown = null;
      session.start().then(
        t => {
          done = t;
        },
        e => {
          refused = e;
        },
      );
      await flush();
      const shown: string[] = [];
      let lastError: SessionError | null = null;
      for (let i = 0; i < 30 && done === null; i++) {
        const status = statuses.at(-1)!;
        shown.push(signInProgressText(status, clock.now, lastError) ?? 'Signing in…');
        if (status.kind === 'retrying') {
          lastError = status.error;
        }
        await clock.advance(250);
      }
      expect(refused).toBeNull();
      expect(done).not.toBeNull();
      expect(requests).toHaveLength(4);
      const retrying = statuses.filter(s => s.kind === 'retrying');
      expect(retrying.map(s => s.kind === 'retrying' && [s.attempt, s.error.kind, s.error.status])).toEqual([
        [1, 'unavailable', 500],
        [2, 'unavailable', 500],
        [3, 'unavailable', 500],
      ]);
      const unavailable = /^The sign-in service is unavailable \(HTTP 500\); retrying in \d+ s…$/;
      expect(shown.some(t => unavailable.test(t))).toBe(true);
      expect(shown.join(' ')).not.toMatch(/password|wrong/i);
      expect(statuses.at(-1)).toEqual({kind: 'ok'});
    });

    it('keeps retrying as long as the outage lasts, never more than 10 s apart', async () => {
      for (let i = 0; i < 12; i++) {
        answers.push(gateway500);
      }
      const session = make();
      void session.start();
      await flush();
      await clock.advance(70_000); // 12 failures at the 10 s ceiling take about 64 s; the renewal is 14.5 s later
      expect(requests).toHaveLength(13);
      const gaps = requestTimes.slice(1).map((t, i) => t - requestTimes[i]!);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(SIGN_IN_BACKOFF.capMs);
      expect(Math.max(...gaps)).toBeGreaterThanOrEqual(SIGN_IN_BACKOFF.capMs / 2);
      expect(session.current).not.toBeNull();
    });

    it('honours Retry-After at sign-in', async () => {
      answers.push(
        () =>
          new Response('{"error":{"code":"upstream_unavailable","message":"x"}}', {
            status: 503,
            headers: {'Retry-After': '3'},
          }),
      );
      const session = make();
      void session.start();
      await flush();
      await clock.advance(2_900);
      expect(requests).toHaveLength(1);
      await clock.advance(200);
      expect(requests).toHaveLength(2);
      expect(session.current).not.toBeNull();
    });

    it('tries again at once when asked (the form\'s "Try now")', async () => {
      answers.push(gateway500);
      const session = make();
      void session.start();
      await flush();
      expect(statuses.at(-1)?.kind).toBe('retrying');
      session.retryNow();
      await flush();
      expect(requests).toHaveLength(2);
      expect(session.current).not.toBeNull();
      session.retryNow(); // nothing is waiting: no extra request
      await flush();
      expect(requests).toHaveLength(2);
    });

    it('still takes a 401 from the gateway as a refusal: no retry', async () => {
      answers.push(() => new Response('{"message":"Unauthorized"}', {status: 401}));
      const session = make();
      await expect(session.start()).rejects.toMatchObject({kind: 'unauthenticated', status: 401});
      await clock.advance(60_000);
      expect(requests).toHaveLength(1);
    });
  });

  it('waits for Retry-After before retrying a renewal that Momento\'s outage made fail (503)', async () => {
    const session = make();
    await session.start();
    answers.push(
      () =>
        new Response('{"error":{"code":"upstream_unavailable","message":"Momento did not answer"}}', {
          status: 503,
          headers: {'Retry-After': '4'},
        }),
    );
    await clock.advance(14_600); // the renewal (at 14.5 s) fails
    expect(requests).toHaveLength(2);
    const status = statuses.at(-1)!;
    expect(status.kind).toBe('retrying');
    expect(status.kind === 'retrying' && status.retryAtMs - clock.now).toBeGreaterThanOrEqual(3_800);
    await clock.advance(3_800);
    expect(requests).toHaveLength(2);
    await clock.advance(300);
    expect(requests).toHaveLength(3);
    expect(tokens.map(t => t.serial)).toEqual([2]);
    expect(fatal).toEqual([]);
  });

  describe('too many token requests (429)', () => {
    const rateLimited = (retryAfter: string) => (): Response =>
      new Response('{"error":{"code":"rate_limited","message":"too many token requests: try again in 30 s"}}', {
        status: 429,
        headers: {'Retry-After': retryAfter},
      });
    /** API Gateway's own throttle: its bare body, no Retry-After. */
    const gatewayThrottle = (): Response => new Response('{"message":"Too Many Requests"}', {status: 429});

    it('waits out a renewal\'s whole Retry-After, past the token\'s expiry, then carries on: never a sign-out', async () => {
      const session = make();
      const first = await session.start();
      answers.push(rateLimited('30'));
      await clock.advance(14_600); // the renewal (at 14.5 s) is refused
      expect(requests).toHaveLength(2);
      const status = statuses.at(-1)!;
      expect(status).toMatchObject({kind: 'retrying', error: {kind: 'unavailable', status: 429, code: 'rate_limited'}});
      const retryAt = status.kind === 'retrying' ? status.retryAtMs : 0;
      // The whole 30 s (not the renewal backoff's 30 s cap minus nothing, nor a retry at once), plus up to 1 s.
      expect(retryAt - clock.now).toBeGreaterThanOrEqual(30_000);
      expect(retryAt - clock.now).toBeLessThanOrEqual(31_000);
      expect(renewalRetryText(status, clock.now)).toBe('too many token requests; retrying in 31 s');
      expect(retryAt).toBeGreaterThan(first.expiryMs); // the wait outlasts the token

      // Nothing cuts the wait short: Momento rejecting the expired token, a publish waiting for one, a late timer.
      await clock.advance(6_000); // the token expires at 20 s
      expect(session.expired()).toBe(true);
      session.refreshNow('auth');
      session.refreshNow('expired');
      session.refreshNow('overdue');
      await flush();
      expect(requests).toHaveLength(2);
      expect(renewalRetryText(statuses.at(-1)!, clock.now)).toBe('too many token requests; retrying in 25 s');

      await clock.advance(retryAt - clock.now);
      expect(requests).toHaveLength(3);
      expect(tokens.map(t => t.serial)).toEqual([2]); // the chat goes on with the new token
      expect(session.expired()).toBe(false);
      expect(statuses.at(-1)).toEqual({kind: 'ok'});
      expect(fatal).toEqual([]);
    });

    it('waits out a Retry-After at sign-in (the account\'s quota), then signs in', async () => {
      answers.push(() =>
        new Response('{"error":{"code":"quota_exceeded","message":"the token service is busy: try again in 2 s"}}', {
          status: 429,
          headers: {'Retry-After': '2'},
        }),
      );
      const session = make();
      let signedIn: ActiveToken | null = null;
      void session.start().then(t => (signedIn = t));
      await flush();
      const status = statuses.at(-1)!;
      expect(signInProgressText(status, clock.now, null)).toBe('Too many token requests; retrying in 3 s…');
      await clock.advance(1_900);
      expect(requests).toHaveLength(1);
      await clock.advance(600); // 2 s + the jitter (0.5 s at random 0.5)
      expect(requests).toHaveLength(2);
      expect(signedIn).not.toBeNull();
      expect(fatal).toEqual([]);
    });

    it("waits a bounded, jittered default after the gateway's own 429 (no Retry-After), longer each time", async () => {
      const session = make();
      await session.start();
      answers.push(gatewayThrottle, gatewayThrottle, gatewayThrottle, gatewayThrottle, gatewayThrottle, gatewayThrottle);
      await clock.advance(14_600);
      for (let i = 0; i < 6; i++) {
        const status = statuses.at(-1)!;
        expect(status).toMatchObject({kind: 'retrying', error: {status: 429, code: null, retryAfterMs: null}});
        expect(renewalRetryText(status, clock.now)).toMatch(/^too many token requests; retrying in \d+ s$/);
        await clock.advance(status.kind === 'retrying' ? status.retryAtMs - clock.now : 0);
      }
      expect(requests).toHaveLength(8); // the login, the six refused renewals, the one that passed
      const waits = requestTimes.slice(2).map((t, i) => t - requestTimes[i + 1]!);
      // From [2 s, 4 s] (3 s at random 0.5), the ceiling doubling up to the renewal cap of 30 s: never the ordinary
      // backoff's 0.25 s back into the throttle, never unbounded.
      expect(waits).toEqual([3_000, 6_000, 12_000, 22_500, 22_500, 22_500]);
      expect(tokens.map(t => t.serial)).toEqual([2]);
      expect(fatal).toEqual([]);
    });
  });
});

describe('Session with a Cognito identity', () => {
  const COGNITO_CONFIG: AppConfig = {
    ...CONFIG,
    authMethod: 'AmazonCognito',
    cognito: {region: 'us-east-1', userPoolId: 'us-east-1_Pool', clientId: 'client', endpoint: null},
  };
  let clock: FakeClock;
  let pool: FakeCognito;
  let identity: CognitoIdentity;
  let authorizations: string[];
  let answers: (() => Response)[];
  let tokens: ActiveToken[];
  let statuses: SessionStatus[];
  let fatal: SessionError[];

  const fetchFn = (async (url: string, init?: RequestInit) => {
    authorizations.push(new Headers(init?.headers).get('Authorization') ?? '');
    const answer = answers.shift();
    if (answer !== undefined) {
      return answer();
    }
    return tokenResponse(clock.now, namedTopics(url));
  }) as typeof fetch;

  const make = (): Session =>
    new Session(
      COGNITO_CONFIG,
      {kind: 'identity', source: identity},
      ['room-a'],
      {onToken: t => tokens.push(t), onStatus: s => statuses.push(s), onFatal: e => fatal.push(e)},
      {fetchFn, now: () => clock.now, wallNow: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );

  /** The ID token each TVM request carried, by its serial claim `n` (1 = the one from sign-in). */
  const idSerials = (): unknown[] => authorizations.map(a => jwtClaims(a.replace(/^Bearer /, ''))?.['n']);

  beforeEach(() => {
    clock = new FakeClock();
    clock.now = 1_700_000_000_000;
    pool = new FakeCognito(() => clock.now);
    identity = new CognitoIdentity('alice', pool.tokens('alice', true), pool, {now: () => clock.now});
    authorizations = [];
    answers = [];
    tokens = [];
    statuses = [];
    fatal = [];
  });

  it('sends the ID token as Bearer, and refreshes the Cognito session before every scheduled renewal', async () => {
    const session = make();
    await session.start();
    expect(authorizations[0]).toMatch(/^Bearer [\w-]+\.[\w-]+\.sig$/);
    expect(pool.count('refresh')).toBe(0); // the sign-in's ID token is fresh
    await clock.advance(15_000);
    await clock.advance(15_000);
    expect(tokens.map(t => t.serial)).toEqual([2, 3]);
    expect(pool.count('refresh')).toBe(2);
    expect(idSerials()).toEqual([1, 2, 3]); // each renewal carried the newly refreshed ID token
    expect(identity.refreshCount).toBe(2);
    session.stop();
  });

  it('does not refresh Cognito for a room join (the ID token is fresh), only for the renewal', async () => {
    const session = make();
    await session.start();
    session.setTopics(['room-a', 'lobby']); // outside the prefix: a request naming the rooms
    await flush();
    expect(authorizations).toHaveLength(2);
    expect(pool.count('refresh')).toBe(0);
    expect(idSerials()).toEqual([1, 1]);
    session.stop();
  });

  it('retries a renewal whose Cognito refresh found Cognito unavailable, refreshing again', async () => {
    const session = make();
    await session.start();
    pool.answers.push(new CognitoError('unavailable', 'Amazon Cognito could not be reached.', null, 'network'));
    await clock.advance(14_600);
    const status = statuses.at(-1)!;
    expect(status).toMatchObject({kind: 'retrying', attempt: 1});
    expect(status.kind === 'retrying' && renewalRetryText(status, clock.now)).toMatch(/^renewal retrying in \d s \(no connection\)$/);
    expect(authorizations).toHaveLength(1); // the TVM was not asked with a stale token
    await clock.advance(1_000);
    expect(pool.count('refresh')).toBe(2);
    expect(tokens.map(t => t.serial)).toEqual([2]);
    expect(fatal).toEqual([]);
    session.stop();
  });

  it('a TVM retry after a successful refresh does not refresh again', async () => {
    const session = make();
    await session.start();
    answers.push(() => new Response('{"message":"Internal Server Error"}', {status: 500}));
    await clock.advance(14_600);
    expect(pool.count('refresh')).toBe(1);
    await clock.advance(1_000);
    expect(tokens.map(t => t.serial)).toEqual([2]);
    expect(pool.count('refresh')).toBe(1);
    expect(idSerials()).toEqual([1, 2, 2]);
    session.stop();
  });

  it('ends the session when Cognito no longer accepts the refresh token', async () => {
    const session = make();
    await session.start();
    pool.refreshTokens.clear(); // revoked: signed out everywhere by an admin, or the user was deleted
    await clock.advance(15_000);
    expect(fatal.map(e => [e.name, e.kind])).toEqual([['CognitoError', 'session_expired']]);
    expect(signedOutText(fatal[0]!)).toBe('You were signed out: your Cognito session ended (expired or revoked). Sign in again.');
    session.stop();
  });

  it('a 401 for a stale ID token (the tab slept) refreshes it and asks once more; a second 401 ends the session', async () => {
    const session = make();
    await session.start();
    answers.push(() => new Response('{"message":"Unauthorized"}', {status: 401}));
    session.setTopics(['room-a', 'lobby']); // a join outside the prefix: sent with the current ID token, refused
    await flush();
    expect(pool.count('refresh')).toBe(1);
    expect(tokens.map(t => t.serial)).toEqual([2]);
    expect(fatal).toEqual([]);

    answers.push(
      () => new Response('{"message":"Unauthorized"}', {status: 401}),
      () => new Response('{"message":"Unauthorized"}', {status: 401}),
    );
    session.setTopics(['room-a', 'lobby', 'other']);
    await flush();
    expect(pool.count('refresh')).toBe(2);
    expect(fatal.map(e => e.kind)).toEqual(['unauthenticated']);
    session.stop();
  });
});

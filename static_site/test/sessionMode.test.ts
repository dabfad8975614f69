// Session mode: the site served by a host app that signs people in with its own same-origin cookie (FakeHost).

import {beforeEach, describe, expect, it} from 'vitest';
import {parseConfig, type AppConfig} from '../src/config';
import {signInHref, signOutOfHost} from '../src/hostLogin';
import {
  renewalRetryText,
  SESSION_ENDED_TEXT,
  signedOutText,
  signInErrorText,
  signInProgressText,
  signOutFailedText,
} from '../src/notices';
import {Session, type ActiveToken, type SessionError, type SessionStatus} from '../src/session';
import {classifyFailure, requestToken} from '../src/tvm';
import {FakeClock, FakeHost, flush} from './fakes';

const PAGE = 'http://127.0.0.1:8000/?room=room-a';

function sessionConfig(raw: Record<string, unknown> = {}): AppConfig {
  const result = parseConfig(
    {authMethod: 'Session', apiUrl: '/api/momento', session: {loginUrl: '/login', logoutUrl: '/logout'}, tokenTtlSeconds: 20, ...raw},
    PAGE,
  );
  if (!result.ok) {
    throw new Error(result.problems.join('; '));
  }
  return result.config;
}

describe('the token request in Session mode', () => {
  let clock: FakeClock;
  let host: FakeHost;
  const deps = () => ({fetchFn: host.fetch, now: () => clock.now, timeoutMs: 1000});

  beforeEach(() => {
    clock = new FakeClock();
    host = new FakeHost(() => clock.now);
    host.user = 'alice';
  });

  it("goes to the page's origin with the cookie (credentials 'same-origin') and no Authorization", async () => {
    const token = await requestToken(sessionConfig(), {kind: 'cookie'}, {topics: ['room-a', 'room-b'], ttlSeconds: 20}, deps());
    expect(token.tokenId).toBe('alice');
    expect(host.requests).toEqual([
      {
        method: 'GET',
        url: 'http://127.0.0.1:8000/api/momento/token?topics=room-a%2Croom-b&ttlSeconds=20',
        cookie: true,
        authorization: null,
        credentials: 'same-origin',
      },
    ]);
  });

  it("resolves an absolute same-origin apiUrl the same way, and sends no name", async () => {
    await requestToken(sessionConfig({apiUrl: 'http://127.0.0.1:8000/api/momento/'}), {kind: 'cookie'}, {topics: ['room-a'], ttlSeconds: null}, deps());
    expect(host.requests[0]?.url).toBe('http://127.0.0.1:8000/api/momento/token?topics=room-a');
  });

  it("never sends the cookie in the other modes, even to the page's own origin", async () => {
    const open = parseConfig({authMethod: 'LambdaAuthorizer', apiUrl: 'http://127.0.0.1:8000/api/momento'}, PAGE);
    if (!open.ok) {
      throw new Error('config');
    }
    await requestToken(open.config, {kind: 'basic', username: 'alice', password: 'pw'}, {topics: [], ttlSeconds: null}, deps()).catch(
      () => undefined,
    );
    await requestToken(open.config, {kind: 'open', name: 'Ann'}, {topics: [], ttlSeconds: null}, deps()).catch(() => undefined);
    expect(host.requests.map(r => [r.credentials, r.cookie])).toEqual([
      ['omit', false],
      ['omit', false],
    ]);
  });

  it("reads the host's 401 (nobody signed in) as unauthenticated, not retried", async () => {
    host.user = null;
    await expect(
      requestToken(sessionConfig(), {kind: 'cookie'}, {topics: ['room-a'], ttlSeconds: null}, deps()),
    ).rejects.toMatchObject({kind: 'unauthenticated', status: 401, code: 'unauthenticated', retryable: false});
  });
});

describe('a Session-mode session', () => {
  let clock: FakeClock;
  let host: FakeHost;
  let tokens: ActiveToken[];
  let statuses: SessionStatus[];
  let fatal: SessionError[];

  const make = (topics = ['room-a']): Session =>
    new Session(
      sessionConfig(),
      {kind: 'cookie'},
      topics,
      {onToken: t => tokens.push(t), onStatus: s => statuses.push(s), onFatal: e => fatal.push(e)},
      {fetchFn: host.fetch, now: () => clock.now, wallNow: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );

  beforeEach(() => {
    clock = new FakeClock();
    clock.now = 1_700_000_000_000;
    host = new FakeHost(() => clock.now);
    tokens = [];
    statuses = [];
    fatal = [];
  });

  it('signed in on the host: the first token names the user, then renews on the schedule with the cookie', async () => {
    host.user = 'alice';
    const session = make();
    const first = await session.start();
    expect(first.token.tokenId).toBe('alice');
    expect(session.who).toBeNull(); // the verified name is the token's tokenId
    expect(first.refreshAtMs - first.receivedAtMs).toBeGreaterThanOrEqual(10_000);
    expect(first.refreshAtMs - first.receivedAtMs).toBeLessThanOrEqual(15_000);
    await clock.advance(15_000);
    await clock.advance(15_000);
    expect(tokens.map(t => t.serial)).toEqual([2, 3]);
    expect(host.tokenRequests().map(r => [r.cookie, r.credentials, r.authorization])).toEqual([
      [true, 'same-origin', null],
      [true, 'same-origin', null],
      [true, 'same-origin', null],
    ]);
    session.stop();
    await clock.advance(60_000);
    expect(host.tokenRequests()).toHaveLength(3);
  });

  it('nobody signed in: start rejects with unauthenticated at once, no retry (the page shows the signed-out screen)', async () => {
    const session = make();
    await expect(session.start()).rejects.toMatchObject({kind: 'unauthenticated', status: 401});
    await clock.advance(60_000);
    expect(host.tokenRequests()).toHaveLength(1);
    expect(statuses.some(s => s.kind === 'retrying')).toBe(false);
  });

  it('a host that cannot answer now is retried with the sign-in backoff and said as in the other modes', async () => {
    host.user = 'alice';
    host.answers.push(() => Response.json({error: {code: 'upstream_unavailable', message: 'x'}}, {status: 503}));
    const session = make();
    let done: ActiveToken | null = null;
    void session.start().then(t => {
      done = t;
    });
    await flush();
    const status = statuses.at(-1)!;
    expect(status).toMatchObject({kind: 'retrying', attempt: 1});
    expect(signInProgressText(status, clock.now, null)).toMatch(/^The sign-in service is unavailable \(HTTP 503\); retrying in \d s…$/);
    await clock.advance(1_000);
    expect(done).not.toBeNull();
    expect(host.tokenRequests()).toHaveLength(2);
    session.stop();
  });

  it('a 401 at renewal (the host session ended) ends the session: "session ended"', async () => {
    host.user = 'alice';
    const session = make();
    await session.start();
    host.user = null; // signed out in another tab, or the host's session expired
    await clock.advance(15_000);
    expect(fatal.map(e => [e.kind, e.status])).toEqual([['unauthenticated', 401]]);
    expect(signedOutText(fatal[0]!, 'Session')).toBe(SESSION_ENDED_TEXT);
    expect(SESSION_ENDED_TEXT).toMatch(/session on this site ended/);
    await clock.advance(60_000);
    expect(host.tokenRequests()).toHaveLength(2); // not retried
  });

  it('a renewal the host cannot answer now is retried (renewal backoff), not a sign-out', async () => {
    host.user = 'alice';
    const session = make();
    await session.start();
    host.answers.push(() => new Response('upstream down', {status: 502}));
    await clock.advance(14_600);
    const status = statuses.at(-1)!;
    expect(status.kind === 'retrying' && renewalRetryText(status, clock.now)).toMatch(/^renewal retrying in \d s \(HTTP 502\)$/);
    await clock.advance(1_000);
    expect(tokens.map(t => t.serial)).toEqual([2]);
    expect(fatal).toEqual([]);
    session.stop();
  });

  it('asks for the whole scope with the cookie: the prefixes cover every room, a join asks nothing', async () => {
    host.user = 'alice';
    const session = make();
    const first = await session.start();
    expect(first.token.scope.topics?.prefixes).toEqual(['room-', 'chat-']);
    session.setTopics(['room-b', 'chat-c', 'room-a']);
    await flush();
    expect(host.tokenRequests().map(r => new URL(r.url).searchParams.get('topics'))).toEqual([null]);
    session.stop();
  });

  it('where the host grants exact names (403 to no topics), names the rooms; a join outside the token asks again, not twice', async () => {
    host.user = 'alice';
    host.exactNames = true;
    const session = make();
    await session.start();
    session.setTopics(['room-b', 'room-a']);
    session.refreshNow('auth'); // under way: the new token comes from the request already sent
    await flush();
    expect(host.tokenRequests().map(r => new URL(r.url).searchParams.get('topics'))).toEqual([null, 'room-a', 'room-b,room-a']);
    expect(tokens.at(-1)?.token.scope.topics?.names).toEqual(['room-b', 'room-a']);
    session.stop();
  });
});

describe("signing in and out on the host's own pages", () => {
  it('links to {loginUrl}?next=<path+search>, keeping a query the login URL has', () => {
    const config = sessionConfig();
    expect(signInHref(config.session!, {pathname: '/', search: '?room=room-a'})).toBe('/login?next=%2F%3Froom%3Droom-a');
    expect(signInHref(config.session!, {pathname: '/chat/', search: ''})).toBe('/login?next=%2Fchat%2F');
    const withQuery = sessionConfig({session: {loginUrl: '/accounts/login?provider=local', logoutUrl: '/logout'}});
    expect(signInHref(withQuery.session!, {pathname: '/', search: ''})).toBe('/accounts/login?provider=local&next=%2F');
  });

  it('signs out with POST {logoutUrl} and the cookie; the next token request gets 401', async () => {
    const clock = new FakeClock();
    const host = new FakeHost(() => clock.now);
    host.user = 'alice';
    const config = sessionConfig();
    expect(await signOutOfHost(config.session!, {fetchFn: host.fetch, timeoutMs: 1000})).toEqual({ok: true});
    expect(host.requests).toEqual([
      {method: 'POST', url: 'http://127.0.0.1:8000/logout', cookie: true, authorization: null, credentials: 'same-origin'},
    ]);
    await expect(
      requestToken(config, {kind: 'cookie'}, {topics: [], ttlSeconds: null}, {fetchFn: host.fetch, now: () => clock.now, timeoutMs: 1000}),
    ).rejects.toMatchObject({kind: 'unauthenticated'});
  });

  it('counts a redirect (to the login page) and a 401 (no session left) as signed out, and says when the host did not confirm', async () => {
    const host = new FakeHost(() => 0);
    const config = sessionConfig();
    const signOut = () => signOutOfHost(config.session!, {fetchFn: host.fetch, timeoutMs: 50});
    for (const status of [200, 204, 303, 401]) {
      host.logoutAnswer = () => new Response(null, {status});
      expect(await signOut(), String(status)).toEqual({ok: true});
    }
    host.logoutAnswer = () => Response.json({error: {code: 'forbidden', message: 'Cross-origin request refused.'}}, {status: 403});
    expect(await signOut()).toEqual({ok: false, reason: 'HTTP 403'});
    host.logoutAnswer = () => {
      throw new TypeError('Failed to fetch');
    };
    expect(await signOut()).toEqual({ok: false, reason: 'no connection'});
    const hangs = ((_url: string, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      })) as typeof fetch;
    expect(await signOutOfHost(config.session!, {fetchFn: hangs, timeoutMs: 20})).toEqual({ok: false, reason: 'no answer in time'});
    expect(signOutFailedText('HTTP 403')).toBe(
      'You are signed out of the chat on this page, but the site did not confirm the sign-out (HTTP 403): your session there may still be active.',
    );
  });

  it('words a refused check without a password (there is none here)', () => {
    const error = classifyFailure(401, {error: {code: 'unauthenticated', message: 'Sign in first.'}}, null);
    expect(signInErrorText(error, 'Session')).toBe('You are not signed in (401 Unauthorized). Sign in to continue.');
    expect(signInErrorText(error, 'Session')).not.toMatch(/password/i);
    expect(signInErrorText(classifyFailure(503, null, null), 'Session')).toBe(
      'The sign-in service is unavailable (HTTP 503). Try again in a moment.',
    );
  });
});

import {describe, expect, it} from 'vitest';
import {
  BLOCKED_TEXT,
  basicAuthorization,
  canPublish,
  canSubscribe,
  classifyFailure,
  coversTopics,
  parseExplanation,
  parseRetryAfter,
  parseVendedToken,
  requestExplanation,
  requestToken,
  tokenUrl,
  TvmError,
  type VendedToken,
} from '../src/tvm';

const TOKEN_BODY = {
  authToken: 'eyJlbmRwb2ludCI6',
  expiresAt: 1_795_711_653,
  tokenId: 'alice',
  endpoint: '127.0.0.1:8080',
  scope: {
    tier: 'readwrite',
    cache: 'default-cache',
    topics: {role: 'publish_subscribe', cache: 'default-cache', all: false, names: ['room-a', 'room-b']},
    cacheItems: null,
  },
};

describe('tokenUrl', () => {
  const basic = {kind: 'basic', username: 'alice', password: 'pw'} as const;

  it('names the topics and the TTL', () => {
    expect(tokenUrl('http://127.0.0.1:3000', {topics: ['room-a', 'room-b'], ttlSeconds: 20}, basic)).toBe(
      'http://127.0.0.1:3000/token?topics=room-a%2Croom-b&ttlSeconds=20',
    );
  });

  it('leaves out what is not set, and never sends a name outside Open mode', () => {
    expect(tokenUrl('https://api.example.com/prod', {topics: [], ttlSeconds: null}, basic)).toBe(
      'https://api.example.com/prod/token',
    );
  });

  it('sends the display name in Open mode', () => {
    expect(tokenUrl('http://x', {topics: ['room-a'], ttlSeconds: null}, {kind: 'open', name: 'Ann Lee'})).toBe(
      'http://x/token?topics=room-a&name=Ann+Lee',
    );
  });
});

describe('basicAuthorization', () => {
  it('encodes user:password as UTF-8 base64', () => {
    expect(basicAuthorization('alice', 'alice-password')).toBe(`Basic ${btoa('alice:alice-password')}`);
    expect(basicAuthorization('zoë', 'pässwörd')).toBe(
      `Basic em/Dqzpww6Rzc3fDtnJk`,
    );
  });
});

describe('classifyFailure', () => {
  it('tells a wrong password (the gateway) from a scope refusal (the TVM)', () => {
    expect(classifyFailure(403, {message: 'Forbidden'}, null).kind).toBe('bad_credentials');
    const denied = classifyFailure(403, {error: {code: 'scope_denied', message: 'no topics'}}, null);
    expect(denied.kind).toBe('scope_denied');
    expect(denied.message).toBe('no topics');
  });

  it('gives each of the operator\'s cut-offs its own message, never retried', () => {
    const texts = new Set<string>();
    for (const code of ['revoked', 'tier_paused', 'vending_paused']) {
      const error = classifyFailure(403, {error: {code, message: 'server words'}}, null);
      expect(error.kind).toBe('blocked');
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(false);
      expect(error.message).toBe(BLOCKED_TEXT[code]);
      texts.add(error.message);
    }
    expect(texts.size).toBe(3);
    expect(BLOCKED_TEXT['revoked']).toMatch(/revoked/);
    expect(classifyFailure(403, {error: {code: 'something_new', message: 'x'}}, null).kind).toBe('refused');
  });

  it('maps 401, 400, 5xx and 429', () => {
    expect(classifyFailure(401, {message: 'Unauthorized'}, null).kind).toBe('unauthenticated');
    expect(classifyFailure(401, {error: {code: 'unauthenticated', message: 'no identity'}}, null).kind).toBe(
      'unauthenticated',
    );
    expect(classifyFailure(400, {error: {code: 'invalid_request', message: 'ttl'}}, null).kind).toBe('invalid_request');
    const unavailable = classifyFailure(503, {error: {code: 'upstream_unavailable', message: 'x'}}, 2000);
    expect(unavailable.kind).toBe('unavailable');
    expect(unavailable.retryable).toBe(true);
    expect(unavailable.retryAfterMs).toBe(2000);
    expect(classifyFailure(429, null, null).retryable).toBe(true);
    expect(classifyFailure(502, 'html', null).message).toBe('HTTP 502');
  });

  it('reads a 429 as too many token requests: the TVM\'s two codes with Retry-After, and the gateway\'s own bare one', () => {
    const limited = classifyFailure(429, {error: {code: 'rate_limited', message: 'try again in 7 s'}}, 7_000);
    expect([limited.kind, limited.retryable, limited.throttled, limited.code, limited.retryAfterMs]).toEqual([
      'unavailable',
      true,
      true,
      'rate_limited',
      7_000,
    ]);
    expect(classifyFailure(429, {error: {code: 'quota_exceeded', message: 'busy'}}, 2_000).throttled).toBe(true);
    const gateway = classifyFailure(429, {message: 'Too Many Requests'}, null);
    expect([gateway.kind, gateway.throttled, gateway.code, gateway.retryAfterMs]).toEqual(['unavailable', true, null, null]);
    for (const status of [500, 503, 408]) {
      expect(classifyFailure(status, null, 1_000).throttled).toBe(false);
    }
  });

  it('takes Retry-After off a 429 answer', async () => {
    const fetchFn = (async () =>
      new Response('{"error":{"code":"rate_limited","message":"too many token requests: try again in 7 s"}}', {
        status: 429,
        headers: {'Retry-After': '7', 'Content-Type': 'application/json'},
      })) as typeof fetch;
    const failure = await requestToken(
      {apiUrl: 'http://api'},
      {kind: 'basic', username: 'alice', password: 'pw'},
      {topics: [], ttlSeconds: null},
      {fetchFn, now: () => 0, timeoutMs: 1_000},
    ).catch((error: unknown) => error);
    expect(failure).toMatchObject({kind: 'unavailable', status: 429, code: 'rate_limited', retryAfterMs: 7_000});
    expect((failure as TvmError).throttled).toBe(true);
  });

  it("treats the gateway's own 500 (its authorizer failed: no users store) as unavailable, never as a refusal", () => {
    const gateway500 = classifyFailure(500, {message: 'Internal Server Error'}, null);
    expect(gateway500.kind).toBe('unavailable');
    expect(gateway500.retryable).toBe(true);
    expect(gateway500.status).toBe(500);
    for (const status of [500, 502, 503, 504, 599, 408, 429]) {
      for (const body of [null, 'Bad Gateway', {message: 'Forbidden'}, {error: {code: 'scope_denied', message: 'x'}}]) {
        expect(classifyFailure(status, body, null).kind, `${status} ${JSON.stringify(body)}`).toBe('unavailable');
      }
    }
  });

  it("calls a 401/403 a wrong password or a scope refusal only when it is the gateway's or the TVM's own", () => {
    const proxy = classifyFailure(403, '<html>blocked</html>', null);
    expect(proxy.kind).toBe('refused');
    expect(proxy.retryable).toBe(false);
    expect(classifyFailure(403, null, null).kind).toBe('refused');
    expect(classifyFailure(403, {message: 'User is not authorized'}, null).kind).toBe('refused');
    expect(classifyFailure(401, null, null).kind).toBe('refused');
  });

  it('does not retry refusals', () => {
    for (const status of [400, 401, 403, 404, 413, 418]) {
      expect(classifyFailure(status, null, null).retryable).toBe(false);
    }
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(null, 0)).toBeNull();
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
  });
});

describe('parseVendedToken and scope checks', () => {
  const token: VendedToken = parseVendedToken(TOKEN_BODY);

  it('reads the documented response', () => {
    expect(token.tokenId).toBe('alice');
    expect(token.scope.topics?.names).toEqual(['room-a', 'room-b']);
  });

  it('refuses what is not a token', () => {
    expect(() => parseVendedToken({})).toThrow(TvmError);
    expect(() => parseVendedToken({...TOKEN_BODY, expiresAt: 'soon'})).toThrow(TvmError);
    expect(() => parseVendedToken({...TOKEN_BODY, scope: {topics: {role: 'admin'}}})).toThrow(TvmError);
  });

  it('reads prefix grants and the server clock, and an older server without them', () => {
    const old = parseVendedToken(TOKEN_BODY);
    expect(old.scope.topics?.prefixes).toEqual([]);
    expect(old.now).toBeNull();
    const fresh = parseVendedToken({
      ...TOKEN_BODY,
      now: 1_795_708_053,
      scope: {
        tier: 'guest',
        cache: 'c',
        topics: {role: 'publish_subscribe', cache: 'c', all: false, names: ['lobby'], prefixes: ['chat-', 'room-']},
      },
    });
    expect(fresh.now).toBe(1_795_708_053);
    expect(fresh.scope.topics?.prefixes).toEqual(['chat-', 'room-']);
    for (const room of ['room-x', 'room-y', 'chat-lobby', 'lobby']) {
      expect(canSubscribe(fresh, room) && canPublish(fresh, room)).toBe(true);
    }
    for (const room of ['roomx', 'other', 'lobby2', 'xroom-a']) {
      expect(coversTopics(fresh, [room])).toBe(false);
    }
    expect(coversTopics(fresh, ['room-a', 'room-b', 'chat-c', 'room-d', 'room-e'])).toBe(true);
  });

  it('refuses malformed prefixes and a `now` that is not the minting time', () => {
    const withPrefixes = (prefixes: unknown) =>
      parseVendedToken({
        ...TOKEN_BODY,
        scope: {tier: 't', cache: 'c', topics: {role: 'publish_subscribe', cache: 'c', all: false, names: [], prefixes}},
      });
    expect(() => withPrefixes('room-')).toThrow(/scope\.topics\.prefixes/);
    expect(() => withPrefixes([''])).toThrow(TvmError); // an empty prefix would be every topic
    expect(() => withPrefixes([42])).toThrow(TvmError);
    expect(withPrefixes(null).scope.topics?.prefixes).toEqual([]);
    expect(() => parseVendedToken({...TOKEN_BODY, now: 'now'})).toThrow(/now/);
    expect(() => parseVendedToken({...TOKEN_BODY, now: TOKEN_BODY.expiresAt + 1})).toThrow(/now/);
    expect(() => parseVendedToken({...TOKEN_BODY, now: Number.NaN})).toThrow(TvmError);
  });

  it('reads the control channel, and none from an older server or a malformed one', () => {
    expect(parseVendedToken(TOKEN_BODY).control).toBeNull();
    const control = {cache: 'default-cache', topics: ['tvm-control-aaaaaaaaaaaaaaaaaaaaaaaaaa']};
    expect(parseVendedToken({...TOKEN_BODY, control}).control).toEqual(control);
    // A malformed channel is not a malformed token: the page keeps its token and listens to nothing.
    expect(parseVendedToken({...TOKEN_BODY, control: {cache: 'c', topics: ['room-a']}}).control).toBeNull();
    expect(parseVendedToken({...TOKEN_BODY, control: 'tvm-control-x'}).control).toBeNull();
  });

  it('reads an explanation (GET /token/explain)', () => {
    const explanation = parseExplanation({
      tokenId: 'viewer',
      rule: "groups[1]: group 'readonly' -> tier 'readonly'",
      ttlSeconds: 3600,
      scope: {tier: 'readonly', cache: 'c', topics: {role: 'subscribe_only', cache: 'c', all: false, names: ['room-a'], prefixes: []}},
    });
    expect(explanation.rule).toContain("tier 'readonly'");
    expect(explanation.scope.topics?.role).toBe('subscribe_only');
    expect(() => parseExplanation({rule: 'x'})).toThrow(TvmError);
  });

  it('knows which rooms the token covers and what it may do there', () => {
    expect(coversTopics(token, ['room-a'])).toBe(true);
    expect(coversTopics(token, ['room-a', 'room-c'])).toBe(false);
    expect(canPublish(token, 'room-b')).toBe(true);
    const readonly = parseVendedToken({
      ...TOKEN_BODY,
      scope: {tier: 'readonly', cache: 'c', topics: {role: 'subscribe_only', cache: 'c', all: true, names: []}},
    });
    expect(canSubscribe(readonly, 'room-anything')).toBe(true);
    expect(canPublish(readonly, 'room-anything')).toBe(false);
    const noTopics = parseVendedToken({...TOKEN_BODY, scope: {tier: 't', cache: 'c', topics: null}});
    expect(coversTopics(noTopics, ['room-a'])).toBe(false);
  });
});

describe('requestToken', () => {
  const deps = (fetchFn: typeof fetch) => ({fetchFn, now: () => 0, timeoutMs: 1000});

  it('asks /token/explain with the same credentials and query, and reads its refusal as /token would', async () => {
    const urls: string[] = [];
    const auth: (string | null)[] = [];
    const fetchFn = (async (url: string, init?: RequestInit) => {
      urls.push(url);
      auth.push(new Headers(init?.headers).get('Authorization'));
      return urls.length === 1
        ? Response.json({tokenId: 'alice', rule: 'r', ttlSeconds: 20, scope: TOKEN_BODY.scope})
        : Response.json({error: {code: 'scope_denied', message: 'no'}}, {status: 403});
    }) as typeof fetch;
    const basic = {kind: 'basic', username: 'alice', password: 'pw'} as const;
    const first = await requestExplanation({apiUrl: 'http://api'}, basic, {topics: ['room-a'], ttlSeconds: null}, deps(fetchFn));
    expect(first.scope.topics?.names).toEqual(['room-a', 'room-b']);
    await expect(
      requestExplanation({apiUrl: 'http://api'}, basic, {topics: ['lobby'], ttlSeconds: null}, deps(fetchFn)),
    ).rejects.toMatchObject({kind: 'scope_denied'});
    expect(urls).toEqual(['http://api/token/explain?topics=room-a', 'http://api/token/explain?topics=lobby']);
    expect(auth).toEqual([basicAuthorization('alice', 'pw'), basicAuthorization('alice', 'pw')]);
  });

  it('sends Basic credentials and returns the token', async () => {
    let seen: {url: string; init: RequestInit | undefined} | null = null;
    const fetchFn = (async (url: string, init?: RequestInit) => {
      seen = {url, init};
      return new Response(JSON.stringify(TOKEN_BODY), {status: 200});
    }) as typeof fetch;
    const token = await requestToken(
      {apiUrl: 'http://api'},
      {kind: 'basic', username: 'alice', password: 'pw'},
      {topics: ['room-a'], ttlSeconds: null},
      deps(fetchFn),
    );
    expect(token.tokenId).toBe('alice');
    expect(seen!.url).toBe('http://api/token?topics=room-a');
    expect((seen!.init?.headers as Record<string, string>)['Authorization']).toBe(`Basic ${btoa('alice:pw')}`);
    expect(seen!.init?.credentials).toBe('omit');
  });

  it('sends a Cognito ID token as Bearer (AmazonCognito), and no name', async () => {
    let seen: {url: string; init: RequestInit | undefined} | null = null;
    const fetchFn = (async (url: string, init?: RequestInit) => {
      seen = {url, init};
      return new Response(JSON.stringify(TOKEN_BODY), {status: 200});
    }) as typeof fetch;
    await requestToken({apiUrl: 'http://api'}, {kind: 'bearer', token: 'eyJ.id.token'}, {topics: ['room-a'], ttlSeconds: 20}, deps(fetchFn));
    expect(seen!.url).toBe('http://api/token?topics=room-a&ttlSeconds=20');
    expect((seen!.init?.headers as Record<string, string>)['Authorization']).toBe('Bearer eyJ.id.token');
    expect(seen!.init?.credentials).toBe('omit');
  });

  it('turns network failures and refusals into TvmErrors', async () => {
    const down = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    await expect(
      requestToken({apiUrl: 'http://api'}, {kind: 'open', name: 'a'}, {topics: [], ttlSeconds: null}, deps(down)),
    ).rejects.toMatchObject({kind: 'unavailable', status: null, code: 'network'});

    const forbidden = (async () => new Response('{"message":"Forbidden"}', {status: 403})) as typeof fetch;
    await expect(
      requestToken(
        {apiUrl: 'http://api'},
        {kind: 'basic', username: 'alice', password: 'wrong'},
        {topics: [], ttlSeconds: null},
        deps(forbidden),
      ),
    ).rejects.toMatchObject({kind: 'bad_credentials', status: 403});

    const gateway500 = (async () =>
      new Response('{"message":"Internal Server Error"}', {status: 500})) as typeof fetch;
    await expect(
      requestToken(
        {apiUrl: 'http://api'},
        {kind: 'basic', username: 'alice', password: 'alice-password'},
        {topics: [], ttlSeconds: null},
        deps(gateway500),
      ),
    ).rejects.toMatchObject({kind: 'unavailable', status: 500});

    const busy = (async () =>
      new Response('{"error":{"code":"upstream_unavailable","message":"busy"}}', {
        status: 503,
        headers: {'Retry-After': '2'},
      })) as typeof fetch;
    await expect(
      requestToken({apiUrl: 'http://api'}, {kind: 'open', name: 'a'}, {topics: [], ttlSeconds: null}, deps(busy)),
    ).rejects.toMatchObject({kind: 'unavailable', retryAfterMs: 2000, code: 'upstream_unavailable'});
  });
});

describe('requestToken timeouts', () => {
  it('gives up after the timeout and says so', async () => {
    const hangs = ((_url: string, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      })) as typeof fetch;
    await expect(
      requestToken(
        {apiUrl: 'http://api'},
        {kind: 'open', name: 'a'},
        {topics: [], ttlSeconds: null},
        {fetchFn: hangs, now: () => 0, timeoutMs: 20},
      ),
    ).rejects.toMatchObject({kind: 'unavailable', status: null, code: 'timeout'});
  });
});

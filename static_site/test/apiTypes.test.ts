// The client against answers typed from docs/openapi.yaml (src/apiTypes.ts): every answer the document describes is
// read as the page needs it. tsc checks these literals against the document; the parsers check them at run time.
import {describe, expect, it} from 'vitest';
import type {components} from '../src/apiTypes';
import {classifyFailure, parseExplanation, parseVendedToken, type TvmErrorKind} from '../src/tvm';

type Schemas = components['schemas'];

const SCOPE: Schemas['Scope'] = {
  tier: 'readwrite',
  cache: 'default-cache',
  topics: {role: 'publish_subscribe', cache: 'default-cache', all: false, names: ['lobby'], prefixes: ['room-']},
  cacheItems: {role: 'read_write', cache: 'default-cache', all: true, keys: [], keyPrefixes: []},
};

const TOKEN: Schemas['VendedToken'] = {
  authToken: 'eyJlbmRwb2ludCI6',
  expiresAt: 1_795_711_653,
  now: 1_795_708_053,
  tokenId: 'alice',
  endpoint: 'cell-4-us-west-2-1.prod.a.momentohq.com',
  scope: SCOPE,
  control: {cache: 'default-cache', topics: ['tvm-control-vsckmdybo4tltpvyokluivxchj']},
};

describe('answers as docs/openapi.yaml types them', () => {
  it('reads a documented token, its control channel included', () => {
    const token = parseVendedToken(TOKEN);
    expect(token.expiresAt - (token.now ?? 0)).toBe(3600);
    expect(token.scope.topics?.prefixes).toEqual(['room-']);
    expect(token.control).toEqual({cache: 'default-cache', topics: ['tvm-control-vsckmdybo4tltpvyokluivxchj']});
  });

  it('reads a documented token without control (a token that cannot hold topics)', () => {
    const {control: _, ...withoutControl} = TOKEN;
    const answer: Schemas['VendedToken'] = withoutControl;
    expect(parseVendedToken(answer).control).toBeNull();
  });

  it('reads a documented explanation', () => {
    const answer: Schemas['Explanation'] = {
      tokenId: 'alice',
      rule: "groups[0]: group 'readwrite' -> tier 'readwrite'",
      ttlSeconds: 3600,
      scope: SCOPE,
      limits: {burst: 5, refillSeconds: 12, remaining: 4, retryAfterSeconds: 0},
    };
    expect(parseExplanation(answer)).toMatchObject({tokenId: 'alice', ttlSeconds: 3600});
  });

  const refusals: readonly [number, Schemas['ErrorCode'], TvmErrorKind][] = [
    [400, 'invalid_request', 'invalid_request'],
    [401, 'unauthenticated', 'unauthenticated'],
    [403, 'scope_denied', 'scope_denied'],
    [403, 'revoked', 'blocked'],
    [403, 'tier_paused', 'blocked'],
    [403, 'vending_paused', 'blocked'],
    [429, 'rate_limited', 'unavailable'],
    [429, 'quota_exceeded', 'unavailable'],
    [500, 'internal_error', 'unavailable'],
    [503, 'upstream_unavailable', 'unavailable'],
  ];
  it.each(refusals)('classifies %i %s as %s', (status, code, kind) => {
    const body: Schemas['ErrorEnvelope'] = {error: {code, message: 'a message'}};
    const error = classifyFailure(status, body, status === 429 || status === 503 ? 2000 : null);
    expect([error.kind, error.code]).toEqual([kind, code]);
  });

  const gateway: readonly [number, Schemas['GatewayMessage'], TvmErrorKind][] = [
    [401, {message: 'Unauthorized'} satisfies Schemas['GatewayUnauthorized'], 'unauthenticated'],
    [403, {message: 'Forbidden'} satisfies Schemas['GatewayForbidden'], 'bad_credentials'],
    [404, {message: 'Not Found'} satisfies Schemas['GatewayNotFound'], 'invalid_request'],
    [429, {message: 'Too Many Requests'} satisfies Schemas['GatewayTooManyRequests'], 'unavailable'],
    [500, {message: 'Internal Server Error'} satisfies Schemas['GatewayInternalServerError'], 'unavailable'],
  ];
  it.each(gateway)('classifies the gateway\'s %i %o', (status, body, kind) => {
    expect(classifyFailure(status, body, null).kind).toBe(kind);
  });
});

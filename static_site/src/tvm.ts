// The token vending machine client: `GET {apiUrl}/token`, with typed errors (docs/api.md).
//
// The API's contract is docs/openapi.yaml; apiTypes.ts is generated from it (`npm run api-types`, and `make lint`
// fails when it is stale). The field names, codes and roles read here are typed from it, so a change to the document
// that this client does not follow fails the typecheck. Types check nothing at run time: every answer is still
// checked by the parsers below, which turn anything else into a TvmError.

import type {components} from './apiTypes';
import type {AppConfig} from './config';
import {controlFromAnswer, type ControlChannel} from './control';

type Schemas = components['schemas'];

/** An answer's fields as the document names them, each of a type yet unchecked. */
type Unchecked<T> = {readonly [K in keyof T]-?: unknown};

/** The function's error codes (`{"error": {"code"}}`), as docs/openapi.yaml lists them. */
export type ErrorCode = Schemas['ErrorCode'];

export type TopicRole = Schemas['TopicScope']['role'];

export interface TopicScope {
  readonly role: TopicRole;
  readonly cache: string;
  readonly all: boolean;
  readonly names: readonly string[];
  /** Topic-name prefixes (`topic_name_prefix` grants): each covers every topic starting with it. [] from old servers. */
  readonly prefixes: readonly string[];
}

export interface TokenScope {
  readonly tier: string;
  readonly cache: string;
  readonly topics: TopicScope | null;
}

/** A successful `GET /token` answer. */
export interface VendedToken {
  readonly authToken: string;
  /** Epoch seconds (server clock). */
  readonly expiresAt: number;
  /**
   * The server's clock when it minted the token (epoch seconds), or null from a server that does not say: renewal is
   * scheduled from `expiresAt - now` (a lifetime, immune to this browser's clock being off).
   */
  readonly now: number | null;
  readonly tokenId: string;
  readonly endpoint: string;
  readonly scope: TokenScope;
  /**
   * Where the operator's cut-off reaches this token's holder (control.ts), or null when the answer lists none (an
   * older server, or one that is not what the TVM sends: then nothing listens).
   */
  readonly control: ControlChannel | null;
}

export interface TokenRequest {
  /** Exact topic names; empty: none named, i.e. everything the tier allows (its patterns as prefixes). */
  readonly topics: readonly string[];
  readonly ttlSeconds: number | null;
}

/** A `GET /token/explain` answer: what `GET /token` would mint for the same request, and the rule that decided it. */
export interface Explanation {
  readonly tokenId: string;
  readonly rule: string;
  readonly ttlSeconds: number | null;
  readonly scope: TokenScope;
}

/**
 * Who is asking: a username and password (LambdaAuthorizer, sent as HTTP Basic), a Cognito ID token (AmazonCognito,
 * sent as `Bearer`), a display name (Open), or the host app's same-origin login cookie (Session: the browser sends
 * it; the page never sees it).
 */
export type Credentials =
  | {readonly kind: 'basic'; readonly username: string; readonly password: string}
  | {readonly kind: 'bearer'; readonly token: string}
  | {readonly kind: 'open'; readonly name: string}
  | {readonly kind: 'cookie'};

/**
 * What went wrong, by what the page should do about it:
 * - bad_credentials: the gateway's own 403 `{"message":"Forbidden"}` (the authorizer said no): ask again;
 * - unauthenticated: 401 (the gateway's `{"message":"Unauthorized"}` or the TVM's `unauthenticated`): no identity;
 * - scope_denied: the TVM's 403 `scope_denied`: this account may not have what was asked;
 * - blocked: the TVM's 403 `revoked`, `tier_paused` or `vending_paused`: an operator cut this user, its tier or all
 *   vending off; each has its own message (BLOCKED_TEXT), and it is not retried;
 * - refused: a 401/403 that is neither the gateway's nor the TVM's (e.g. a proxy's page): shown as is, not retried;
 * - invalid_request: another 4xx, a bug or an unsupported request (e.g. a TTL out of range);
 * - unavailable: the service cannot check right now: a network failure, a timeout, 408, 429 or any 5xx (the
 *   gateway's own `500 {"message":"Internal Server Error"}` when the authorizer fails included): retry with backoff
 *   (a 429, `throttled`, after its Retry-After);
 * - bad_response: a 200 that is not a token.
 */
export type TvmErrorKind =
  | 'bad_credentials'
  | 'unauthenticated'
  | 'scope_denied'
  | 'blocked'
  | 'refused'
  | 'invalid_request'
  | 'unavailable'
  | 'bad_response';

export class TvmError extends Error {
  override readonly name = 'TvmError';

  /**
   * `status`: the HTTP status, null when no answer came. `code`: the TVM's error code (`{"error":{"code"}}`), or
   * for a request that got no answer, 'network' or 'timeout'.
   */
  constructor(
    readonly kind: TvmErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly code: string | null = null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.kind === 'unavailable' || this.kind === 'bad_response';
  }

  /**
   * Too many token requests (429): the TVM's `rate_limited` (this user's issuance limit) or `quota_exceeded` (the
   * account's Momento quota), both with Retry-After, or API Gateway's own throttle (`{"message":"Too Many Requests"}`,
   * none). Retried after the wait (backoff.ts's throttledDelayMs), never a refusal.
   */
  get throttled(): boolean {
    return this.status === 429;
  }
}

/**
 * The `/token` URL for a request (`/token/explain` with `explain`). `name` is sent only in Open mode (the TVM ignores
 * it otherwise).
 */
export function tokenUrl(apiUrl: string, request: TokenRequest, credentials: Credentials, explain = false): string {
  const params = new URLSearchParams();
  if (request.topics.length > 0) {
    params.set('topics', request.topics.join(','));
  }
  if (request.ttlSeconds !== null) {
    params.set('ttlSeconds', String(request.ttlSeconds));
  }
  if (credentials.kind === 'open') {
    params.set('name', credentials.name);
  }
  const query = params.toString();
  return `${apiUrl}/token${explain ? '/explain' : ''}${query === '' ? '' : `?${query}`}`;
}

/** `Basic base64(user:password)`, UTF-8 encoded (btoa alone only takes Latin-1). */
export function basicAuthorization(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = '';
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return `Basic ${btoa(binary)}`;
}

/** `Retry-After` as ms: delta seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null || header.trim() === '') {
    return null;
  }
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds)) {
    return Math.max(0, seconds * 1000);
  }
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

interface ErrorBody {
  /** The TVM's `{"error": {"code", "message"}}`. */
  readonly code: string | null;
  /** The TVM's error message, or the gateway's `{"message": ...}`. */
  readonly message: string | null;
  /** Only `{"message": ...}`: the shape of API Gateway's own answers. */
  readonly gateway: boolean;
}

function errorBody(body: unknown): ErrorBody {
  if (typeof body === 'object' && body !== null) {
    const record = body as Unchecked<Schemas['ErrorEnvelope'] & Schemas['GatewayMessage']>;
    const error = record['error'];
    if (typeof error === 'object' && error !== null) {
      const e = error as Unchecked<Schemas['ErrorEnvelope']['error']>;
      return {
        code: typeof e['code'] === 'string' ? e['code'] : null,
        message: typeof e['message'] === 'string' ? e['message'] : null,
        gateway: false,
      };
    }
    if (typeof record['message'] === 'string') {
      return {code: null, message: record['message'], gateway: true};
    }
  }
  return {code: null, message: null, gateway: false};
}

/** What the page says for each way an operator cuts access off (docs/api.md's 403 codes). */
export const BLOCKED_TEXT: Readonly<Record<string, string>> = {
  revoked: 'Your access to the chat has been revoked. Contact the site\'s administrator.',
  tier_paused: 'The chat is paused for your account type. Try again later.',
  vending_paused: 'The chat is paused. Try again later.',
} satisfies Partial<Record<ErrorCode, string>>;

/** A refusal meaning the operator paused the service (a tier's or everyone's): it lifts; a revocation does not. */
export function isPauseRefusal(error: unknown): boolean {
  return error instanceof TvmError && error.kind === 'blocked' && (error.code === 'tier_paused' || error.code === 'vending_paused');
}

const UNAUTHENTICATED: ErrorCode = 'unauthenticated';
const SCOPE_DENIED: ErrorCode = 'scope_denied';
const GATEWAY_UNAUTHORIZED: Schemas['GatewayUnauthorized']['message'] = 'Unauthorized';
const GATEWAY_FORBIDDEN: Schemas['GatewayForbidden']['message'] = 'Forbidden';

/**
 * Maps a non-2xx answer to a TvmError. Gateway answers (`{"message": ...}`) and TVM answers (`{"error": ...}`)
 * differ, and only those two mean what they say: a 403 is a wrong password only when it is the gateway's own
 * `Forbidden`, and anything that says "cannot check now" (5xx, 408, 429) is never a refusal.
 */
export function classifyFailure(status: number, body: unknown, retryAfterMs: number | null): TvmError {
  const {code, message, gateway} = errorBody(body);
  if (status >= 500 || status === 408 || status === 429) {
    return new TvmError('unavailable', message ?? `HTTP ${status}`, status, code, retryAfterMs);
  }
  if (status === 401) {
    if ((gateway && message === GATEWAY_UNAUTHORIZED) || code === UNAUTHENTICATED) {
      return new TvmError('unauthenticated', message ?? 'Unauthorized', status, code);
    }
    return new TvmError('refused', message ?? `HTTP ${status}`, status, code);
  }
  if (status === 403) {
    const blocked = code === null ? undefined : BLOCKED_TEXT[code];
    if (blocked !== undefined) {
      return new TvmError('blocked', blocked, status, code);
    }
    if (code === SCOPE_DENIED) {
      return new TvmError('scope_denied', message ?? 'Your account may not use these rooms.', status, code);
    }
    if (gateway && message === GATEWAY_FORBIDDEN) {
      return new TvmError('bad_credentials', message, status, code);
    }
    return new TvmError('refused', message ?? `HTTP ${status}`, status, code);
  }
  return new TvmError('invalid_request', message ?? `HTTP ${status}`, status, code);
}

const TOPIC_ROLES = ['publish_subscribe', 'subscribe_only', 'publish_only'] as const satisfies readonly TopicRole[];

type Fail = (what: string) => never;

function parseScope(scope: unknown, fail: Fail): TokenScope {
  if (typeof scope !== 'object' || scope === null) {
    return fail('scope');
  }
  const s = scope as Unchecked<Schemas['Scope']>;
  let topics: TopicScope | null = null;
  const t = s['topics'];
  if (typeof t === 'object' && t !== null) {
    const tr = t as Unchecked<Schemas['TopicScope']>;
    const role = TOPIC_ROLES.find(r => r === tr['role']);
    const names = tr['names'];
    if (role === undefined || typeof tr['cache'] !== 'string' || !Array.isArray(names)) {
      return fail('scope.topics');
    }
    // `prefixes` is new (topic-prefix grants): absent from an older server, which grants none. When present it must
    // be a list of non-empty names: a malformed one must not be read as "every topic" or silently dropped.
    const rawPrefixes = tr['prefixes'];
    let prefixes: string[] = [];
    if (rawPrefixes !== undefined && rawPrefixes !== null) {
      if (!Array.isArray(rawPrefixes) || !rawPrefixes.every((p): p is string => typeof p === 'string' && p !== '')) {
        return fail('scope.topics.prefixes');
      }
      prefixes = [...rawPrefixes];
    }
    topics = {
      role,
      cache: tr['cache'],
      all: tr['all'] === true,
      names: names.filter((n): n is string => typeof n === 'string'),
      prefixes,
    };
  }
  return {
    tier: typeof s['tier'] === 'string' ? s['tier'] : 'unknown',
    cache: typeof s['cache'] === 'string' ? s['cache'] : '',
    topics,
  };
}

function failer(what: string): Fail {
  return (field: string): never => {
    throw new TvmError('bad_response', `The ${what} sent an unexpected answer (${field}).`);
  };
}

/** Checks a 200 body's shape; throws TvmError('bad_response') if it is not a token. */
export function parseVendedToken(body: unknown): VendedToken {
  const fail = failer('token service');
  if (typeof body !== 'object' || body === null) {
    return fail('not an object');
  }
  const b = body as Unchecked<Schemas['VendedToken']>;
  const authToken = b['authToken'];
  const expiresAt = b['expiresAt'];
  const now = b['now'];
  const tokenId = b['tokenId'];
  const endpoint = b['endpoint'];
  if (typeof authToken !== 'string' || authToken === '') {
    return fail('authToken');
  }
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) {
    return fail('expiresAt');
  }
  // `now` is new (skew-proof renewal): absent from an older server. When present it is the minting time, so it is a
  // finite number no later than the expiry.
  if (now !== undefined && now !== null && (typeof now !== 'number' || !Number.isFinite(now) || now > expiresAt)) {
    return fail('now');
  }
  return {
    authToken,
    expiresAt,
    now: typeof now === 'number' ? now : null,
    tokenId: typeof tokenId === 'string' ? tokenId : '',
    endpoint: typeof endpoint === 'string' ? endpoint : '',
    scope: parseScope(b['scope'], fail),
    control: controlFromAnswer(b),
  };
}

/** Checks a `GET /token/explain` 200 body; throws TvmError('bad_response') if it is not an explanation. */
export function parseExplanation(body: unknown): Explanation {
  const fail = failer('token service (explain)');
  if (typeof body !== 'object' || body === null) {
    return fail('not an object');
  }
  const b = body as Unchecked<Schemas['Explanation']>;
  const ttl = b['ttlSeconds'];
  return {
    tokenId: typeof b['tokenId'] === 'string' ? b['tokenId'] : '',
    rule: typeof b['rule'] === 'string' ? b['rule'] : '',
    ttlSeconds: typeof ttl === 'number' && Number.isFinite(ttl) ? ttl : null,
    scope: parseScope(b['scope'], fail),
  };
}

/** Whether a topic scope covers `topic`: every topic, its exact name, or one of its prefixes. */
export function scopeCovers(topics: TopicScope, topic: string): boolean {
  return topics.all || topics.names.includes(topic) || topics.prefixes.some(prefix => topic.startsWith(prefix));
}

/** Whether the token may subscribe to `topic` (and so read it). */
export function canSubscribe(token: VendedToken, topic: string): boolean {
  const topics = token.scope.topics;
  return topics !== null && topics.role !== 'publish_only' && scopeCovers(topics, topic);
}

/** Whether the token may publish to `topic`. */
export function canPublish(token: VendedToken, topic: string): boolean {
  const topics = token.scope.topics;
  return topics !== null && topics.role !== 'subscribe_only' && scopeCovers(topics, topic);
}

/** Whether the token already covers every one of `topics` (no new token needed to join them). */
export function coversTopics(token: VendedToken, topics: readonly string[]): boolean {
  return topics.every(topic => canSubscribe(token, topic) || canPublish(token, topic));
}

export interface FetchDeps {
  readonly fetchFn: typeof fetch;
  readonly now: () => number;
  readonly timeoutMs: number;
}

/** One GET to the TVM's token route (or its explain route); resolves with the 2xx body, else rejects with a TvmError. */
async function tvmGet(
  config: Pick<AppConfig, 'apiUrl'>,
  credentials: Credentials,
  request: TokenRequest,
  deps: FetchDeps,
  signal: AbortSignal | undefined,
  explain: boolean,
): Promise<unknown> {
  const headers: Record<string, string> = {Accept: 'application/json'};
  if (credentials.kind === 'basic') {
    headers['Authorization'] = basicAuthorization(credentials.username, credentials.password);
  } else if (credentials.kind === 'bearer') {
    headers['Authorization'] = `Bearer ${credentials.token}`;
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deps.timeoutMs);
  const onAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onAbort);
  let response: Response;
  try {
    response = await deps.fetchFn(tokenUrl(config.apiUrl, request, credentials, explain), {
      method: 'GET',
      headers,
      credentials: credentials.kind === 'cookie' ? 'same-origin' : 'omit',
      cache: 'no-store',
      redirect: 'error',
      signal: controller.signal,
    });
  } catch {
    if (signal?.aborted === true) {
      throw new TvmError('unavailable', 'The request was cancelled.');
    }
    throw controller.signal.aborted
      ? new TvmError('unavailable', 'The token service did not answer in time.', null, 'timeout')
      : new TvmError('unavailable', 'The token service could not be reached.', null, 'network');
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw classifyFailure(response.status, body, parseRetryAfter(response.headers.get('retry-after'), deps.now()));
  }
  return body;
}

/**
 * Asks the TVM for a token. Resolves with the token or rejects with a TvmError (never anything else). Cookies go only
 * with Session-mode requests (`credentials: 'same-origin'`; config.ts keeps that apiUrl on the page's origin);
 * every other mode sends none (`'omit'`). `deps.now` is the wall clock (an HTTP-date Retry-After).
 */
export async function requestToken(
  config: Pick<AppConfig, 'apiUrl'>,
  credentials: Credentials,
  request: TokenRequest,
  deps: FetchDeps,
  signal?: AbortSignal,
): Promise<VendedToken> {
  return parseVendedToken(await tvmGet(config, credentials, request, deps, signal, false));
}

/** `GET {apiUrl}/token/explain`: what a token for `request` would grant, minting nothing. Rejects with a TvmError. */
export async function requestExplanation(
  config: Pick<AppConfig, 'apiUrl'>,
  credentials: Credentials,
  request: TokenRequest,
  deps: FetchDeps,
  signal?: AbortSignal,
): Promise<Explanation> {
  return parseExplanation(await tvmGet(config, credentials, request, deps, signal, true));
}

// The token vending machine client: `GET {apiUrl}/token`, with typed errors (docs/api.md).

import type {AppConfig} from './config';

export type TopicRole = 'publish_subscribe' | 'subscribe_only' | 'publish_only';

export interface TopicScope {
  readonly role: TopicRole;
  readonly cache: string;
  readonly all: boolean;
  readonly names: readonly string[];
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
  readonly tokenId: string;
  readonly endpoint: string;
  readonly scope: TokenScope;
}

export interface TokenRequest {
  readonly topics: readonly string[];
  readonly ttlSeconds: number | null;
}

/** Who is asking: a username and password (LambdaAuthorizer, sent as HTTP Basic) or a display name (Open). */
export type Credentials =
  | {readonly kind: 'basic'; readonly username: string; readonly password: string}
  | {readonly kind: 'open'; readonly name: string};

/**
 * What went wrong, by what the page should do about it:
 * - bad_credentials: the gateway refused the credentials (403 `{"message":"Forbidden"}`): ask again;
 * - unauthenticated: 401, no identity reached the TVM (missing credentials or a misconfigured authorizer);
 * - scope_denied: 403 from the TVM: this account may not have what was asked;
 * - invalid_request: 400, a bug or an unsupported request (e.g. a TTL out of range);
 * - unavailable: network failure, timeout, 429 or 5xx: retry with backoff;
 * - bad_response: a 200 that is not a token.
 */
export type TvmErrorKind =
  | 'bad_credentials'
  | 'unauthenticated'
  | 'scope_denied'
  | 'invalid_request'
  | 'unavailable'
  | 'bad_response';

export class TvmError extends Error {
  override readonly name = 'TvmError';

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
}

/** The `/token` URL for a request. `name` is sent only in Open mode (the TVM ignores it otherwise). */
export function tokenUrl(apiUrl: string, request: TokenRequest, credentials: Credentials): string {
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
  return `${apiUrl}/token${query === '' ? '' : `?${query}`}`;
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

function errorBody(body: unknown): {code: string | null; message: string | null} {
  if (typeof body === 'object' && body !== null) {
    const record = body as Record<string, unknown>;
    const error = record['error'];
    if (typeof error === 'object' && error !== null) {
      const e = error as Record<string, unknown>;
      return {
        code: typeof e['code'] === 'string' ? e['code'] : null,
        message: typeof e['message'] === 'string' ? e['message'] : null,
      };
    }
    if (typeof record['message'] === 'string') {
      return {code: null, message: record['message']};
    }
  }
  return {code: null, message: null};
}

/** Maps a non-2xx answer to a TvmError. Gateway answers (`{"message": ...}`) and TVM answers (`{"error": ...}`) differ. */
export function classifyFailure(status: number, body: unknown, retryAfterMs: number | null): TvmError {
  const {code, message} = errorBody(body);
  if (status === 401) {
    return new TvmError('unauthenticated', message ?? 'Unauthorized', status, code);
  }
  if (status === 403) {
    if (code === 'scope_denied') {
      return new TvmError('scope_denied', message ?? 'Your account may not use these rooms.', status, code);
    }
    return new TvmError('bad_credentials', message ?? 'Forbidden', status, code);
  }
  if (status === 400 || status === 404 || status === 405 || status === 413) {
    return new TvmError('invalid_request', message ?? `HTTP ${status}`, status, code);
  }
  return new TvmError('unavailable', message ?? `HTTP ${status}`, status, code, retryAfterMs);
}

const TOPIC_ROLES: readonly TopicRole[] = ['publish_subscribe', 'subscribe_only', 'publish_only'];

/** Checks a 200 body's shape; throws TvmError('bad_response') if it is not a token. */
export function parseVendedToken(body: unknown): VendedToken {
  const fail = (what: string): never => {
    throw new TvmError('bad_response', `The token service sent an unexpected answer (${what}).`);
  };
  if (typeof body !== 'object' || body === null) {
    return fail('not an object');
  }
  const b = body as Record<string, unknown>;
  const authToken = b['authToken'];
  const expiresAt = b['expiresAt'];
  const tokenId = b['tokenId'];
  const endpoint = b['endpoint'];
  const scope = b['scope'];
  if (typeof authToken !== 'string' || authToken === '') {
    return fail('authToken');
  }
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) {
    return fail('expiresAt');
  }
  if (typeof scope !== 'object' || scope === null) {
    return fail('scope');
  }
  const s = scope as Record<string, unknown>;
  let topics: TopicScope | null = null;
  const t = s['topics'];
  if (typeof t === 'object' && t !== null) {
    const tr = t as Record<string, unknown>;
    const role = TOPIC_ROLES.find(r => r === tr['role']);
    const names = tr['names'];
    if (role === undefined || typeof tr['cache'] !== 'string' || !Array.isArray(names)) {
      return fail('scope.topics');
    }
    topics = {
      role,
      cache: tr['cache'],
      all: tr['all'] === true,
      names: names.filter((n): n is string => typeof n === 'string'),
    };
  }
  return {
    authToken,
    expiresAt,
    tokenId: typeof tokenId === 'string' ? tokenId : '',
    endpoint: typeof endpoint === 'string' ? endpoint : '',
    scope: {
      tier: typeof s['tier'] === 'string' ? s['tier'] : 'unknown',
      cache: typeof s['cache'] === 'string' ? s['cache'] : '',
      topics,
    },
  };
}

/** Whether the token may subscribe to `topic` (and so read it). */
export function canSubscribe(token: VendedToken, topic: string): boolean {
  const topics = token.scope.topics;
  return topics !== null && topics.role !== 'publish_only' && (topics.all || topics.names.includes(topic));
}

/** Whether the token may publish to `topic`. */
export function canPublish(token: VendedToken, topic: string): boolean {
  const topics = token.scope.topics;
  return topics !== null && topics.role !== 'subscribe_only' && (topics.all || topics.names.includes(topic));
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

/** Asks the TVM for a token. Resolves with the token or rejects with a TvmError (never anything else). */
export async function requestToken(
  config: Pick<AppConfig, 'apiUrl'>,
  credentials: Credentials,
  request: TokenRequest,
  deps: FetchDeps,
  signal?: AbortSignal,
): Promise<VendedToken> {
  const headers: Record<string, string> = {Accept: 'application/json'};
  if (credentials.kind === 'basic') {
    headers['Authorization'] = basicAuthorization(credentials.username, credentials.password);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deps.timeoutMs);
  const onAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onAbort);
  let response: Response;
  try {
    response = await deps.fetchFn(tokenUrl(config.apiUrl, request, credentials), {
      method: 'GET',
      headers,
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      signal: controller.signal,
    });
  } catch {
    throw new TvmError(
      'unavailable',
      signal?.aborted === true ? 'The request was cancelled.' : 'The token service could not be reached.',
    );
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
  return parseVendedToken(body);
}

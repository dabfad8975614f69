// Runtime settings, read once from `window.TVM_CONFIG` (set by ./config.js, loaded before the app).
// Nothing here is a secret; the site is built once and configured wherever it is served.

export type AuthMethod = 'Open' | 'LambdaAuthorizer' | 'AmazonCognito' | 'Session';

export const AUTH_METHODS: readonly AuthMethod[] = ['Open', 'LambdaAuthorizer', 'AmazonCognito', 'Session'];

/** Where the site signs users in, in AmazonCognito mode (config.js `cognito`; docs: README.md). */
export interface CognitoConfig {
  readonly region: string;
  readonly userPoolId: string;
  /** The app client (no secret): InitiateAuth's ClientId, and the ID token's `aud` the TVM's JWT authorizer checks. */
  readonly clientId: string;
  /** The Cognito IdP API's base URL (local moto only), or null for `https://cognito-idp.<region>.amazonaws.com`. */
  readonly endpoint: string | null;
}

/**
 * The host app's own login, in Session mode (config.js `session`): the site is served by an app that signs people in
 * with a same-origin cookie and vends tokens from its own route. Both are absolute URLs of the page's origin.
 */
export interface HostLoginConfig {
  /** The host's login page: the "Sign in" link goes to `{loginUrl}?next=<path+search>`. */
  readonly loginUrl: string;
  /** Signing out is `POST {logoutUrl}` with the cookie. */
  readonly logoutUrl: string;
}

export interface AppConfig {
  /**
   * The TVM's base URL, without a trailing slash: tokens come from `${apiUrl}/token`. Always absolute (in Session
   * mode a path in config.js is resolved against the page's origin).
   */
  readonly apiUrl: string;
  readonly authMethod: AuthMethod;
  /** A grpc-web base URL used as is for every Momento call (the local emulator), or null in production. */
  readonly momentoEndpointOverride: string | null;
  /** Ask the TVM for tokens of this lifetime (`ttlSeconds`), or null for the tier's default. */
  readonly tokenTtlSeconds: number | null;
  /** Set exactly when authMethod is 'AmazonCognito'. */
  readonly cognito: CognitoConfig | null;
  /** Set exactly when authMethod is 'Session'. */
  readonly session: HostLoginConfig | null;
}

export type ConfigResult = {ok: true; config: AppConfig} | {ok: false; problems: string[]};

function httpUrl(value: unknown, field: string, problems: string[]): string | null {
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${field} must be a non-empty string`);
    return null;
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    problems.push(`${field} is not a valid URL`);
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${field} must be an http:// or https:// URL`);
    return null;
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    problems.push(`${field} must not carry a query, fragment or credentials`);
    return null;
  }
  return url.href.replace(/\/+$/, '');
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** Cognito's own pattern for client ids is `[\w+]+` (at most 128). */
const CLIENT_ID = /^[\w+]{1,128}$/;

/** The Cognito IdP API's URL for this config: its `endpoint`, else the region's public one. */
export function cognitoEndpoint(cognito: CognitoConfig): string {
  return cognito.endpoint ?? `https://cognito-idp.${cognito.region}.amazonaws.com`;
}

function parseCognito(raw: unknown, problems: string[]): CognitoConfig | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('cognito must be an object {region, userPoolId, clientId, endpoint?} when authMethod is AmazonCognito');
    return null;
  }
  const source = raw as Record<string, unknown>;
  const before = problems.length;
  const region = source['region'];
  if (typeof region !== 'string' || !REGION.test(region)) {
    problems.push('cognito.region must be an AWS region such as us-east-1');
  }
  const userPoolId = source['userPoolId'];
  if (typeof userPoolId !== 'string' || !/^[a-z0-9-]+_[0-9A-Za-z]+$/.test(userPoolId)) {
    problems.push('cognito.userPoolId must be a user pool id such as us-east-1_AbC123');
  } else if (typeof region === 'string' && !userPoolId.startsWith(`${region}_`)) {
    problems.push(`cognito.userPoolId is not a pool of cognito.region (${region})`);
  }
  const clientId = source['clientId'];
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    problems.push('cognito.clientId must be the app client id (letters, digits, _ or +)');
  }
  let endpoint: string | null = null;
  const rawEndpoint = source['endpoint'];
  if (rawEndpoint !== undefined && rawEndpoint !== null && rawEndpoint !== '') {
    endpoint = httpUrl(rawEndpoint, 'cognito.endpoint', problems);
  }
  if (problems.length > before) {
    return null;
  }
  return {region: region as string, userPoolId: userPoolId as string, clientId: clientId as string, endpoint};
}

/**
 * A Session-mode URL: a path starting with "/" (resolved against the page's origin) or an absolute URL of that very
 * origin. Anything else could send the host's cookie elsewhere (or to nothing), so it is a problem. `allowQuery`:
 * the login and logout URLs may carry a query; the API URL may not (the site adds its own).
 */
function sameOriginUrl(
  value: unknown,
  field: string,
  pageOrigin: string | null,
  allowQuery: boolean,
  problems: string[],
): string | null {
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${field} must be a non-empty string (a path such as /api/momento, or a URL of this page's origin)`);
    return null;
  }
  if (pageOrigin === null) {
    problems.push(`${field}: Session mode needs the page served over http:// or https://`);
    return null;
  }
  const text = value.trim();
  let url: URL;
  try {
    url = text.startsWith('/') ? new URL(text, pageOrigin) : new URL(text);
  } catch {
    problems.push(`${field} must be a path starting with / or a URL of this page's origin (${pageOrigin})`);
    return null;
  }
  if (url.origin !== pageOrigin) {
    problems.push(`${field} must be a path starting with / or a URL of this page's origin (${pageOrigin}), not ${url.origin}`);
    return null;
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '' || (!allowQuery && url.search !== '')) {
    problems.push(`${field} must not carry ${allowQuery ? '' : 'a query, '}a fragment or credentials`);
    return null;
  }
  return allowQuery ? url.href : url.href.replace(/\/+$/, '');
}

function parseHostLogin(raw: unknown, pageOrigin: string | null, problems: string[]): HostLoginConfig | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('session must be an object {loginUrl, logoutUrl} when authMethod is Session');
    return null;
  }
  const source = raw as Record<string, unknown>;
  const loginUrl = sameOriginUrl(source['loginUrl'], 'session.loginUrl', pageOrigin, true, problems);
  const logoutUrl = sameOriginUrl(source['logoutUrl'], 'session.logoutUrl', pageOrigin, true, problems);
  return loginUrl === null || logoutUrl === null ? null : {loginUrl, logoutUrl};
}

/** The origin of the page's URL when it is http(s), else null (a file:// page has no origin to share a cookie with). */
export function httpOrigin(pageUrl: string | null): string | null {
  if (pageUrl === null) {
    return null;
  }
  try {
    const url = new URL(pageUrl);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}

/**
 * Validates the raw `window.TVM_CONFIG` object. Pure. `pageUrl` is the page's own address (`location.href`): Session
 * mode resolves its paths against its origin and refuses any other origin.
 */
export function parseConfig(raw: unknown, pageUrl: string | null = null): ConfigResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {ok: false, problems: ['window.TVM_CONFIG is missing: config.js did not load or did not set it']};
  }
  const source = raw as Record<string, unknown>;
  const problems: string[] = [];

  const method = source['authMethod'];
  const authMethod = AUTH_METHODS.find(m => m === method) ?? null;
  if (authMethod === null) {
    problems.push(`authMethod must be one of ${AUTH_METHODS.join(', ')}`);
  }

  const pageOrigin = httpOrigin(pageUrl);
  const apiUrl =
    authMethod === 'Session'
      ? sameOriginUrl(source['apiUrl'], 'apiUrl', pageOrigin, false, problems)
      : httpUrl(source['apiUrl'], 'apiUrl', problems);

  let momentoEndpointOverride: string | null = null;
  const override = source['momentoEndpointOverride'];
  if (override !== undefined && override !== null && override !== '') {
    momentoEndpointOverride = httpUrl(override, 'momentoEndpointOverride', problems);
  }

  let tokenTtlSeconds: number | null = null;
  const ttl = source['tokenTtlSeconds'];
  if (ttl !== undefined && ttl !== null) {
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 10 || ttl > 86_400) {
      problems.push('tokenTtlSeconds must be an integer number of seconds, at least 10');
    } else {
      tokenTtlSeconds = ttl;
    }
  }

  const cognito = authMethod === 'AmazonCognito' ? parseCognito(source['cognito'], problems) : null;
  const session = authMethod === 'Session' ? parseHostLogin(source['session'], pageOrigin, problems) : null;

  if (problems.length > 0 || apiUrl === null || authMethod === null) {
    return {ok: false, problems};
  }
  return {ok: true, config: {apiUrl, authMethod, momentoEndpointOverride, tokenTtlSeconds, cognito, session}};
}

// Runtime settings, read once from `window.TVM_CONFIG` (set by ./config.js, loaded before the app).
// Nothing here is a secret; the site is built once and configured wherever it is served.

export type AuthMethod = 'Open' | 'LambdaAuthorizer' | 'AmazonCognito';

export const AUTH_METHODS: readonly AuthMethod[] = ['Open', 'LambdaAuthorizer', 'AmazonCognito'];

export interface AppConfig {
  /** The TVM's base URL, without a trailing slash: tokens come from `${apiUrl}/token`. */
  readonly apiUrl: string;
  readonly authMethod: AuthMethod;
  /** A grpc-web base URL used as is for every Momento call (the local emulator), or null in production. */
  readonly momentoEndpointOverride: string | null;
  /** Ask the TVM for tokens of this lifetime (`ttlSeconds`), or null for the tier's default. */
  readonly tokenTtlSeconds: number | null;
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

/** Validates the raw `window.TVM_CONFIG` object. Pure. */
export function parseConfig(raw: unknown): ConfigResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {ok: false, problems: ['window.TVM_CONFIG is missing: config.js did not load or did not set it']};
  }
  const source = raw as Record<string, unknown>;
  const problems: string[] = [];

  const apiUrl = httpUrl(source['apiUrl'], 'apiUrl', problems);

  const method = source['authMethod'];
  const authMethod = AUTH_METHODS.find(m => m === method) ?? null;
  if (authMethod === null) {
    problems.push(`authMethod must be one of ${AUTH_METHODS.join(', ')}`);
  }

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

  if (problems.length > 0 || apiUrl === null || authMethod === null) {
    return {ok: false, problems};
  }
  return {ok: true, config: {apiUrl, authMethod, momentoEndpointOverride, tokenTtlSeconds}};
}

// Runtime settings, read once from `window.TVM_CONFIG` (set by ./config.js, loaded before the app).
// Nothing here is a secret; the site is built once and configured wherever it is served.

export type AuthMethod = 'Open' | 'LambdaAuthorizer' | 'AmazonCognito';

export const AUTH_METHODS: readonly AuthMethod[] = ['Open', 'LambdaAuthorizer', 'AmazonCognito'];

/** Where the site signs users in, in AmazonCognito mode (config.js `cognito`; docs: README.md). */
export interface CognitoConfig {
  readonly region: string;
  readonly userPoolId: string;
  /** The app client (no secret): InitiateAuth's ClientId, and the ID token's `aud` the TVM's JWT authorizer checks. */
  readonly clientId: string;
  /** The Cognito IdP API's base URL (local moto only), or null for `https://cognito-idp.<region>.amazonaws.com`. */
  readonly endpoint: string | null;
}

export interface AppConfig {
  /** The TVM's base URL, without a trailing slash: tokens come from `${apiUrl}/token`. */
  readonly apiUrl: string;
  readonly authMethod: AuthMethod;
  /** A grpc-web base URL used as is for every Momento call (the local emulator), or null in production. */
  readonly momentoEndpointOverride: string | null;
  /** Ask the TVM for tokens of this lifetime (`ttlSeconds`), or null for the tier's default. */
  readonly tokenTtlSeconds: number | null;
  /** Set exactly when authMethod is 'AmazonCognito'. */
  readonly cognito: CognitoConfig | null;
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

  const cognito = authMethod === 'AmazonCognito' ? parseCognito(source['cognito'], problems) : null;

  if (problems.length > 0 || apiUrl === null || authMethod === null) {
    return {ok: false, problems};
  }
  return {ok: true, config: {apiUrl, authMethod, momentoEndpointOverride, tokenTtlSeconds, cognito}};
}

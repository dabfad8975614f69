// Amazon Cognito sign-in, without the SDK: the port the SDK adapter (cognitoClient.ts) implements, the typed errors,
// and the signed-in identity that keeps the tokens (in memory only) and refreshes them for the TVM.
//
// The TVM gets the ID token as `Authorization: Bearer <IdToken>` (its `aud` is the app client, and it carries
// `cognito:username` and `cognito:groups`). The site decodes the ID token's `exp`/`iat` only to know when to refresh;
// it never trusts its claims: the TVM's JWT authorizer verifies the token.

/** Tokens from a sign-in (InitiateAuth / RespondToAuthChallenge) or a refresh (REFRESH_TOKEN_AUTH). */
export interface CognitoTokens {
  readonly idToken: string;
  readonly accessToken: string;
  /** From a sign-in; a refresh answers with none (or a new one, when the client rotates refresh tokens). */
  readonly refreshToken: string | null;
  /** How long the ID token lives, in seconds (its `exp - iat` when readable, else the answer's ExpiresIn). */
  readonly lifetimeSeconds: number;
}

/** What a sign-in step led to. */
export type CognitoAuthStep =
  | {readonly kind: 'tokens'; readonly tokens: CognitoTokens}
  /** A temporary password (AdminCreateUser): the user must choose a new one (RespondToAuthChallenge). */
  | {readonly kind: 'new_password'; readonly username: string; readonly session: string}
  /** MFA, a custom challenge, ...: not something this site can answer. */
  | {readonly kind: 'unsupported_challenge'; readonly challenge: string};

/**
 * Cognito's public (unauthenticated) calls the site makes. Every method rejects with a CognitoError only.
 * `signal` aborts the request (the person cancelled, or signed out).
 */
export interface CognitoPort {
  /** InitiateAuth USER_PASSWORD_AUTH. */
  signIn(username: string, password: string, signal?: AbortSignal): Promise<CognitoAuthStep>;
  /** RespondToAuthChallenge NEW_PASSWORD_REQUIRED. */
  completeNewPassword(username: string, newPassword: string, session: string, signal?: AbortSignal): Promise<CognitoAuthStep>;
  /** InitiateAuth REFRESH_TOKEN_AUTH. */
  refresh(refreshToken: string, signal?: AbortSignal): Promise<CognitoTokens>;
  /** RevokeToken: the refresh token (and the tokens it issued) stop working. */
  revoke(refreshToken: string): Promise<void>;
}

/**
 * What went wrong, by what the page should do about it:
 * - bad_credentials: NotAuthorizedException or UserNotFoundException at sign-in, deliberately one kind with one
 *   message (the deployed pool sets PreventUserExistenceErrors; moto does not, and the site must not tell them apart);
 * - session_expired: a refresh token or a challenge session no longer accepted: sign in again;
 * - password_rejected: the new password breaks the pool's policy (InvalidPasswordException; its message is shown);
 * - not_confirmed, reset_required: the account needs the operator;
 * - refused: another client error (a wrong client id, a disabled flow...): shown with its code, not retried;
 * - unavailable: a network failure, a timeout, throttling or a 5xx: retried with backoff;
 * - bad_response: an answer without the tokens it should carry.
 */
export type CognitoErrorKind =
  | 'bad_credentials'
  | 'session_expired'
  | 'password_rejected'
  | 'not_confirmed'
  | 'reset_required'
  | 'refused'
  | 'unavailable'
  | 'bad_response';

export class CognitoError extends Error {
  override readonly name = 'CognitoError';
  /** Cognito sends no Retry-After; here for the session's backoff, which reads it from either error type. */
  readonly retryAfterMs: number | null = null;

  /** `code`: the Cognito exception's name, or 'network' / 'timeout' / 'cancelled' when no answer came. */
  constructor(
    readonly kind: CognitoErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.kind === 'unavailable' || this.kind === 'bad_response';
  }
}

/** Which call failed: the same exception means different things at sign-in, in a challenge and on a refresh. */
export type CognitoStage = 'sign_in' | 'new_password' | 'refresh';

const UNAVAILABLE_CODES = new Set([
  'TooManyRequestsException',
  'InternalErrorException',
  'LimitExceededException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** The one text for a wrong password and an unknown user. */
export const BAD_CREDENTIALS_MESSAGE = 'Incorrect username or password.';

/**
 * Maps what the SDK threw to a CognitoError. The SDK's service errors carry `name` (the exception), `$fault` and
 * `$metadata.httpStatusCode`; a request that got no answer throws a plain error (fetch's TypeError, a TimeoutError, an
 * AbortError). Messages are kept only where the person needs them (the password policy): others may hold whatever the
 * server put there (moto echoes sessions), so they are replaced.
 */
export function classifyCognitoError(error: unknown, stage: CognitoStage): CognitoError {
  if (error instanceof CognitoError) {
    return error;
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const name = typeof e['name'] === 'string' ? e['name'] : '';
  const metadata = e['$metadata'];
  const rawStatus =
    typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['httpStatusCode'] : null;
  const status = typeof rawStatus === 'number' ? rawStatus : null;
  const fault = e['$fault'];
  const message = typeof e['message'] === 'string' ? e['message'] : '';

  if (name === 'AbortError') {
    return new CognitoError('unavailable', 'The request was cancelled.', null, 'cancelled');
  }
  if (name === 'TimeoutError') {
    return new CognitoError('unavailable', 'Amazon Cognito did not answer in time.', null, 'timeout');
  }
  if (fault !== 'client' && fault !== 'server') {
    // Not a Cognito answer: no connection (status null), or a page that is not Cognito's JSON (a proxy's 502, a
    // server without the operation).
    if (status === null) {
      return new CognitoError('unavailable', 'Amazon Cognito could not be reached.', null, 'network');
    }
    return status >= 500 || status === 408 || status === 429
      ? new CognitoError('unavailable', `Amazon Cognito answered HTTP ${status}.`, status, null)
      : new CognitoError('refused', `Amazon Cognito answered HTTP ${status}.`, status, null);
  }
  if (fault === 'server' || UNAVAILABLE_CODES.has(name) || (status !== null && status >= 500)) {
    return new CognitoError('unavailable', `Amazon Cognito is unavailable (${name || `HTTP ${status ?? '?'}`}).`, status, name || null);
  }
  switch (name) {
    case 'NotAuthorizedException':
    case 'UserNotFoundException':
      if (stage === 'sign_in') {
        return new CognitoError('bad_credentials', BAD_CREDENTIALS_MESSAGE, status, 'NotAuthorizedException');
      }
      return new CognitoError('session_expired', 'The Cognito session is no longer valid.', status, name);
    case 'InvalidPasswordException':
      return new CognitoError('password_rejected', message || 'The password does not meet the pool’s policy.', status, name);
    case 'UserNotConfirmedException':
      return new CognitoError('not_confirmed', 'This account is not confirmed yet.', status, name);
    case 'PasswordResetRequiredException':
      return new CognitoError('reset_required', 'This account needs a password reset.', status, name);
    case 'ExpiredCodeException':
    case 'CodeMismatchException':
      return new CognitoError('session_expired', 'The sign-in session expired.', status, name);
    default:
      return new CognitoError('refused', `Amazon Cognito refused the request (${name || `HTTP ${status ?? '?'}`}).`, status, name || null);
  }
}

/** A JWT's payload claims, decoded but NOT verified (only for timing; the TVM verifies). Null when unreadable. */
export function jwtClaims(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (part === undefined || part === '') {
    return null;
  }
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, c => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The ID token's lifetime in seconds: `exp - iat` (both on the issuer's clock), else `expiresIn`, else an hour. */
export function idTokenLifetimeSeconds(idToken: string, expiresIn: number | undefined): number {
  const claims = jwtClaims(idToken);
  const exp = claims?.['exp'];
  const iat = claims?.['iat'];
  if (typeof exp === 'number' && typeof iat === 'number' && exp > iat) {
    return exp - iat;
  }
  return typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : 3600;
}

/** The slice of InitiateAuth's / RespondToAuthChallenge's output read here (the SDK's types are wider). */
export interface AuthOutput {
  readonly AuthenticationResult?:
    | {
        readonly IdToken?: string | undefined;
        readonly AccessToken?: string | undefined;
        readonly RefreshToken?: string | undefined;
        readonly ExpiresIn?: number | undefined;
      }
    | undefined;
  readonly ChallengeName?: string | undefined;
  readonly Session?: string | undefined;
  readonly ChallengeParameters?: Record<string, string> | undefined;
}

/** Tokens from an output, or a CognitoError('bad_response'). `previousRefresh` is kept when a refresh sends none. */
export function tokensFrom(output: AuthOutput, previousRefresh: string | null = null): CognitoTokens {
  const result = output.AuthenticationResult;
  if (result === undefined || !result.IdToken || !result.AccessToken) {
    throw new CognitoError('bad_response', 'Amazon Cognito answered without tokens.');
  }
  return {
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    refreshToken: result.RefreshToken || previousRefresh,
    lifetimeSeconds: idTokenLifetimeSeconds(result.IdToken, result.ExpiresIn),
  };
}

/** What a sign-in output leads to: tokens, the new-password form, or a challenge this site cannot answer. */
export function authStepFrom(output: AuthOutput, username: string): CognitoAuthStep {
  const challenge = output.ChallengeName;
  if (challenge === undefined || challenge === '') {
    const tokens = tokensFrom(output);
    if (tokens.refreshToken === null) {
      throw new CognitoError('bad_response', 'Amazon Cognito answered without a refresh token.');
    }
    return {kind: 'tokens', tokens};
  }
  if (challenge === 'NEW_PASSWORD_REQUIRED') {
    if (!output.Session) {
      throw new CognitoError('bad_response', 'Amazon Cognito asked for a new password without a session.');
    }
    // The challenge is answered for the pool's username (the person may have typed an alias such as an email).
    const params = output.ChallengeParameters ?? {};
    return {kind: 'new_password', username: params['USERNAME'] || params['USER_ID_FOR_SRP'] || username, session: output.Session};
  }
  return {kind: 'unsupported_challenge', challenge};
}

/** Refresh this long before the ID token expires (at the latest), on the local clock. */
export const ID_TOKEN_REFRESH_MARGIN_MS = 120_000;

export interface IdentityDeps {
  readonly now: () => number;
}

/**
 * A signed-in Cognito user, for this tab: the tokens in memory (never in storage), refreshed with REFRESH_TOKEN_AUTH
 * for the TVM. The password is not kept: a refresh needs only the refresh token.
 */
export class CognitoIdentity {
  private tokens: CognitoTokens | null;
  private receivedAtMs: number;
  private refreshing: Promise<string> | null = null;
  /** How many refreshes succeeded (the test hook shows it; no token in it). */
  refreshCount = 0;

  constructor(
    /** As typed at sign-in (who the page says is signing in; the verified name is the TVM token's id). */
    readonly username: string,
    tokens: CognitoTokens,
    private readonly port: CognitoPort,
    private readonly deps: IdentityDeps,
  ) {
    this.tokens = tokens;
    this.receivedAtMs = deps.now();
  }

  get signedIn(): boolean {
    return this.tokens !== null;
  }

  /** When the ID token expires, on the local clock (its lifetime counted from when it arrived), or null. */
  get idTokenExpiryMs(): number | null {
    return this.tokens === null ? null : this.receivedAtMs + this.tokens.lifetimeSeconds * 1000;
  }

  /**
   * The ID token for the next TVM request. Refreshed first when `renew` (a scheduled renewal: a group change then
   * shows on the next Momento token) or when it expires within ID_TOKEN_REFRESH_MARGIN_MS (or half its lifetime, if
   * shorter). Rejects with a CognitoError: 'session_expired' when the refresh token is no longer accepted.
   */
  async bearer(renew: boolean, signal?: AbortSignal): Promise<string> {
    const tokens = this.tokens;
    if (tokens === null) {
      throw new CognitoError('session_expired', 'Signed out.');
    }
    const expiry = this.receivedAtMs + tokens.lifetimeSeconds * 1000;
    const margin = Math.min(ID_TOKEN_REFRESH_MARGIN_MS, (tokens.lifetimeSeconds * 1000) / 2);
    if (!renew && this.deps.now() < expiry - margin) {
      return tokens.idToken;
    }
    return this.refresh(signal);
  }

  private refresh(signal?: AbortSignal): Promise<string> {
    if (this.refreshing === null) {
      this.refreshing = this.doRefresh(signal).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(signal?: AbortSignal): Promise<string> {
    const current = this.tokens;
    if (current === null || current.refreshToken === null) {
      throw new CognitoError('session_expired', 'No refresh token.');
    }
    const fresh = await this.port.refresh(current.refreshToken, signal);
    if (this.tokens !== current) {
      throw new CognitoError('session_expired', 'Signed out.'); // signed out (or replaced) meanwhile
    }
    this.tokens = {...fresh, refreshToken: fresh.refreshToken ?? current.refreshToken};
    this.receivedAtMs = this.deps.now();
    this.refreshCount += 1;
    return fresh.idToken;
  }

  /** The tokens, for the user's other tabs in this browser (tabs.ts: in memory only), or null once signed out. */
  share(): CognitoTokens | null {
    return this.tokens;
  }

  /** Forgets every token at once and revokes the refresh token in the background (best effort: errors ignored). */
  signOut(): void {
    const refreshToken = this.tokens?.refreshToken ?? null;
    this.tokens = null;
    if (refreshToken !== null) {
      this.port.revoke(refreshToken).catch(() => undefined);
    }
  }
}

/**
 * A port whose real one is loaded on first use (the AWS SDK is a chunk of its own, fetched only in AmazonCognito
 * mode). A chunk that cannot be fetched is Cognito being unavailable (retried); the next call loads it again.
 */
export function lazyCognitoPort(load: () => Promise<CognitoPort>): CognitoPort & {preload(): void} {
  let loading: Promise<CognitoPort> | null = null;
  const port = (): Promise<CognitoPort> => {
    if (loading === null) {
      const attempt = load().catch(() => {
        loading = null;
        throw new CognitoError('unavailable', 'The sign-in code could not be loaded.', null, 'network');
      });
      loading = attempt;
    }
    return loading;
  };
  return {
    preload: () => void port().catch(() => undefined),
    signIn: async (username, password, signal) => (await port()).signIn(username, password, signal),
    completeNewPassword: async (username, newPassword, session, signal) =>
      (await port()).completeNewPassword(username, newPassword, session, signal),
    refresh: async (refreshToken, signal) => (await port()).refresh(refreshToken, signal),
    revoke: async refreshToken => (await port()).revoke(refreshToken),
  };
}

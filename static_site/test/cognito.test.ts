import {
  InternalErrorException,
  InvalidPasswordException,
  NotAuthorizedException,
  TooManyRequestsException,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import {beforeEach, describe, expect, it} from 'vitest';
import {
  authStepFrom,
  classifyCognitoError,
  CognitoError,
  CognitoIdentity,
  idTokenLifetimeSeconds,
  jwtClaims,
  lazyCognitoPort,
  tokensFrom,
} from '../src/cognito';
import {cognitoErrorText} from '../src/notices';
import {fakeJwt, FakeClock, FakeCognito} from './fakes';

const meta = (httpStatusCode: number) => ({$metadata: {httpStatusCode}});

describe('classifyCognitoError', () => {
  it('makes a wrong password and an unknown user one and the same error at sign-in', () => {
    const wrong = classifyCognitoError(
      new NotAuthorizedException({message: 'Incorrect username or password.', ...meta(400)}),
      'sign_in',
    );
    const unknown = classifyCognitoError(new UserNotFoundException({message: 'User does not exist.', ...meta(400)}), 'sign_in');
    expect(wrong.kind).toBe('bad_credentials');
    // Everything the page could show is identical: kind, message, code, status.
    expect([unknown.kind, unknown.message, unknown.code, unknown.status]).toEqual([wrong.kind, wrong.message, wrong.code, wrong.status]);
    expect(cognitoErrorText(unknown)).toBe(cognitoErrorText(wrong));
    expect(cognitoErrorText(wrong)).toBe('Wrong username or password.');
    expect(wrong.retryable).toBe(false);
  });

  it('treats a refused refresh or challenge session as an ended session, not a wrong password', () => {
    const revoked = new NotAuthorizedException({message: 'Refresh Token has been revoked', ...meta(400)});
    expect(classifyCognitoError(revoked, 'refresh').kind).toBe('session_expired');
    expect(classifyCognitoError(revoked, 'new_password').kind).toBe('session_expired');
  });

  it('keeps the password policy’s words for a rejected new password', () => {
    const error = classifyCognitoError(
      new InvalidPasswordException({message: 'Password did not conform with policy: Password must have symbol characters', ...meta(400)}),
      'new_password',
    );
    expect(error.kind).toBe('password_rejected');
    expect(cognitoErrorText(error)).toBe(
      'The new password was not accepted: Password did not conform with policy: Password must have symbol characters',
    );
  });

  it('calls throttling, 5xx, timeouts and no connection unavailable (retried), never a refusal', () => {
    const cases: [unknown, string | null, number | null][] = [
      [new TooManyRequestsException({message: 'Rate exceeded', ...meta(400)}), 'TooManyRequestsException', 400],
      [new InternalErrorException({message: 'boom', ...meta(500)}), 'InternalErrorException', 500],
      [Object.assign(new SyntaxError('Unexpected token <'), meta(502)), null, 502], // a proxy's HTML page
      [Object.assign(new TypeError('Failed to fetch'), {$metadata: {attempts: 1}}), 'network', null],
      [Object.assign(new Error('timed out'), {name: 'TimeoutError'}), 'timeout', null],
    ];
    for (const [raw, code, status] of cases) {
      const error = classifyCognitoError(raw, 'sign_in');
      expect([error.kind, error.code, error.status, error.retryable]).toEqual(['unavailable', code, status, true]);
      expect(cognitoErrorText(error)).not.toMatch(/password/i);
    }
  });

  it('shows other client errors by their code only (moto puts sessions in messages)', () => {
    const error = classifyCognitoError(
      Object.assign(new Error('9b173642-d105-session'), {name: 'ResourceNotFoundException', $fault: 'client', ...meta(400)}),
      'new_password',
    );
    expect(error.kind).toBe('refused');
    expect(cognitoErrorText(error)).toBe('Amazon Cognito refused the sign-in (ResourceNotFoundException).');
  });
});

describe('tokens and steps', () => {
  it('reads the ID token lifetime from exp - iat (issuer clock), else ExpiresIn', () => {
    const id = fakeJwt({iat: 1_000, exp: 1_300, 'cognito:username': 'alice'});
    expect(jwtClaims(id)?.['cognito:username']).toBe('alice');
    expect(idTokenLifetimeSeconds(id, 3600)).toBe(300);
    expect(idTokenLifetimeSeconds('not-a-jwt', 900)).toBe(900);
    expect(jwtClaims('a.!!!.c')).toBeNull();
  });

  it('maps sign-in outputs to tokens, the new-password form or an unsupported challenge', () => {
    const IdToken = fakeJwt({iat: 0, exp: 3600});
    expect(
      authStepFrom({AuthenticationResult: {IdToken, AccessToken: 'a', RefreshToken: 'r', ExpiresIn: 3600}}, 'alice'),
    ).toEqual({kind: 'tokens', tokens: {idToken: IdToken, accessToken: 'a', refreshToken: 'r', lifetimeSeconds: 3600}});
    expect(
      authStepFrom({ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 's', ChallengeParameters: {USERNAME: 'pool-name'}}, 'typed'),
    ).toEqual({kind: 'new_password', username: 'pool-name', session: 's'});
    expect(authStepFrom({ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 's'}, 'alice')).toEqual({
      kind: 'unsupported_challenge',
      challenge: 'SOFTWARE_TOKEN_MFA',
    });
    expect(() => authStepFrom({}, 'alice')).toThrow(CognitoError);
    expect(() => authStepFrom({AuthenticationResult: {IdToken, AccessToken: 'a'}}, 'alice')).toThrow(/refresh token/);
    expect(tokensFrom({AuthenticationResult: {IdToken, AccessToken: 'a'}}, 'kept').refreshToken).toBe('kept');
  });
});

describe('CognitoIdentity', () => {
  let clock: FakeClock;
  let pool: FakeCognito;

  beforeEach(() => {
    clock = new FakeClock();
    pool = new FakeCognito(() => clock.now);
  });

  const signedIn = (): CognitoIdentity => new CognitoIdentity('alice', pool.tokens('alice', true), pool, {now: () => clock.now});

  it('hands out the ID token as is while it is fresh, and refreshes on a renewal', async () => {
    const identity = signedIn();
    const first = await identity.bearer(false);
    expect(await identity.bearer(false)).toBe(first);
    expect(pool.count('refresh')).toBe(0);
    const renewed = await identity.bearer(true);
    expect(renewed).not.toBe(first);
    expect(pool.count('refresh')).toBe(1);
    expect(identity.refreshCount).toBe(1);
    expect(await identity.bearer(false)).toBe(renewed);
  });

  it('refreshes when the ID token is about to expire, on the local clock', async () => {
    pool.lifetimeSeconds = 300;
    const identity = signedIn();
    await clock.advance(300_000 - 121_000);
    await identity.bearer(false);
    expect(pool.count('refresh')).toBe(0);
    await clock.advance(2_000);
    await identity.bearer(false);
    expect(pool.count('refresh')).toBe(1);
    expect(identity.idTokenExpiryMs).toBe(clock.now + 300_000);
  });

  it('keeps its refresh token across refreshes and revokes it at sign-out, forgetting every token', async () => {
    const identity = signedIn();
    const [refreshToken] = [...pool.refreshTokens];
    await identity.bearer(true);
    await identity.bearer(true);
    expect(pool.calls.filter(c => c.op === 'refresh').map(c => c.args[0])).toEqual([refreshToken, refreshToken]);
    identity.signOut();
    expect(identity.signedIn).toBe(false);
    expect(pool.revoked).toEqual([refreshToken]);
    await expect(identity.bearer(false)).rejects.toMatchObject({kind: 'session_expired'});
  });

  it('shares one refresh between concurrent callers, and reports a revoked session', async () => {
    const identity = signedIn();
    const [a, b] = await Promise.all([identity.bearer(true), identity.bearer(true)]);
    expect(a).toBe(b);
    expect(pool.count('refresh')).toBe(1);
    pool.refreshTokens.clear(); // revoked elsewhere (an admin signed the user out, the user was deleted)
    await expect(identity.bearer(true)).rejects.toMatchObject({kind: 'session_expired'});
  });

  it('a sign-out while a refresh is under way throws the refreshed tokens away', async () => {
    const identity = signedIn();
    const pending = identity.bearer(true);
    identity.signOut();
    await expect(pending).rejects.toMatchObject({kind: 'session_expired'});
    expect(identity.signedIn).toBe(false);
  });
});

describe('lazyCognitoPort', () => {
  it('loads the real port once, and loads again after a chunk that could not be fetched', async () => {
    const pool = new FakeCognito();
    pool.users.set('alice', {password: 'pw', temporary: false});
    let loads = 0;
    const port = lazyCognitoPort(async () => {
      loads += 1;
      if (loads === 1) {
        throw new TypeError('Failed to fetch dynamically imported module');
      }
      return pool;
    });
    await expect(port.signIn('alice', 'pw')).rejects.toMatchObject({kind: 'unavailable', code: 'network'});
    expect((await port.signIn('alice', 'pw')).kind).toBe('tokens');
    await port.signIn('alice', 'pw');
    expect(loads).toBe(2);
  });
});

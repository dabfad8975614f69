import {describe, expect, it} from 'vitest';
import {classifyCognitoError, CognitoError} from '../src/cognito';
import {
  cognitoErrorText,
  lastErrorText,
  renewalRetryText,
  sessionStatusText,
  signedOutText,
  signInErrorText,
  signInProgressText,
  tokenWaitText,
  unavailableReason,
  unreachableRoomText,
  WRONG_CREDENTIALS_TEXT,
} from '../src/notices';
import {formatClock} from '../src/messages';
import {classifyFailure, TvmError} from '../src/tvm';

const GATEWAY_500 = classifyFailure(500, {message: 'Internal Server Error'}, null);

describe('what the sign-in form says', () => {
  it('says the service is unavailable and when it retries, for what means "cannot check now"', () => {
    const retrying = {kind: 'retrying', attempt: 1, retryAtMs: 4_000, error: GATEWAY_500} as const;
    expect(signInProgressText(retrying, 0, null)).toBe(
      'The sign-in service is unavailable (HTTP 500); retrying in 4 s…',
    );
    expect(signInProgressText({kind: 'fetching'}, 4_000, GATEWAY_500)).toBe(
      'The sign-in service is unavailable (HTTP 500); trying again…',
    );
    expect(signInProgressText({kind: 'fetching'}, 0, null)).toBeNull(); // the first attempt: "Signing in…"
  });

  it('never mentions the password for an unavailable service, whatever the answer was', () => {
    const errors = [
      GATEWAY_500,
      classifyFailure(502, null, null),
      classifyFailure(503, {error: {code: 'upstream_unavailable', message: 'Momento'}}, 2_000),
      classifyFailure(504, {message: 'Service Unavailable'}, null),
      new TvmError('unavailable', 'The token service could not be reached.', null, 'network'),
      new TvmError('unavailable', 'The token service did not answer in time.', null, 'timeout'),
    ];
    for (const error of errors) {
      expect(error.kind).toBe('unavailable');
      const status = {kind: 'retrying', attempt: 1, retryAtMs: 1_000, error} as const;
      for (const text of [
        signInProgressText(status, 0, null),
        signInErrorText(error, 'LambdaAuthorizer'),
        signInErrorText(error, 'Open'),
      ]) {
        expect(text).toMatch(/unavailable/);
        expect(text).not.toMatch(/password|wrong|refused|forbidden/i);
      }
    }
  });

  it('says "too many token requests" for a 429 (the TVM\'s or the gateway\'s), never a refusal or the password', () => {
    const answers = [
      classifyFailure(429, {error: {code: 'rate_limited', message: 'try again in 7 s'}}, 7_000),
      classifyFailure(429, {error: {code: 'quota_exceeded', message: 'busy'}}, 2_000),
      classifyFailure(429, {message: 'Too Many Requests'}, null), // API Gateway's own throttle
    ];
    for (const error of answers) {
      const retrying = {kind: 'retrying', attempt: 1, retryAtMs: 7_000, error} as const;
      expect(signInProgressText(retrying, 0, null)).toBe('Too many token requests; retrying in 7 s…');
      expect(signInProgressText(retrying, 5_200, null)).toBe('Too many token requests; retrying in 2 s…'); // counts down
      expect(signInProgressText({kind: 'fetching'}, 7_000, error)).toBe('Too many token requests; trying again…');
      for (const text of [signInErrorText(error, 'LambdaAuthorizer'), signInErrorText(error, 'Open')]) {
        expect(text).toBe('Too many token requests. Try again in a moment.');
      }
    }
  });

  it('names why in a few words', () => {
    expect(unavailableReason(GATEWAY_500)).toBe('HTTP 500');
    expect(unavailableReason(new TvmError('unavailable', 'x', null, 'network'))).toBe('no connection');
    expect(unavailableReason(new TvmError('unavailable', 'x', null, 'timeout'))).toBe('no answer in time');
  });

  it('keeps "wrong password" for the gateway\'s own 403, and says what other refusals are', () => {
    expect(signInErrorText(classifyFailure(403, {message: 'Forbidden'}, null), 'LambdaAuthorizer')).toBe(
      'Wrong username or password.',
    );
    expect(signInErrorText(classifyFailure(401, {message: 'Unauthorized'}, null), 'LambdaAuthorizer')).toMatch(
      /401 Unauthorized\). Check your username and password/,
    );
    expect(signInErrorText(classifyFailure(403, '<html>', null), 'LambdaAuthorizer')).toBe(
      'The token service refused the request (HTTP 403).',
    );
    expect(
      signInErrorText(classifyFailure(403, {error: {code: 'scope_denied', message: 'no tier'}}, null), 'Open'),
    ).toBe('Your account has no access to chat rooms: no tier');
  });
});

describe('what the sign-in form says in AmazonCognito mode', () => {
  it('gives a wrong password and an unknown user the one text, the same as LambdaAuthorizer mode', () => {
    const wrong = classifyCognitoError(Object.assign(new Error('Incorrect username or password.'), {name: 'NotAuthorizedException', $fault: 'client'}), 'sign_in');
    const unknown = classifyCognitoError(Object.assign(new Error('User does not exist.'), {name: 'UserNotFoundException', $fault: 'client'}), 'sign_in');
    expect(signInErrorText(wrong, 'AmazonCognito')).toBe(WRONG_CREDENTIALS_TEXT);
    expect(signInErrorText(unknown, 'AmazonCognito')).toBe(WRONG_CREDENTIALS_TEXT);
    expect(signInErrorText(classifyFailure(403, {message: 'Forbidden'}, null), 'LambdaAuthorizer')).toBe(WRONG_CREDENTIALS_TEXT);
  });

  it('says Cognito is unavailable (and retrying) without a word about the password', () => {
    const error = new CognitoError('unavailable', 'x', 500, 'InternalErrorException');
    expect(signInProgressText({kind: 'retrying', attempt: 1, retryAtMs: 4_000, error}, 0, null)).toBe(
      'The sign-in service is unavailable (HTTP 500); retrying in 4 s…',
    );
    expect(signInErrorText(error, 'AmazonCognito')).not.toMatch(/password|wrong/i);
  });

  it('names the TVM refusing a Cognito sign-in, and accounts the operator must fix', () => {
    expect(signInErrorText(classifyFailure(401, {message: 'Unauthorized'}, null), 'AmazonCognito')).toBe(
      'The token service did not accept your Cognito sign-in (401 Unauthorized).',
    );
    expect(cognitoErrorText(new CognitoError('not_confirmed', 'x'))).toMatch(/not confirmed/);
    expect(cognitoErrorText(new CognitoError('reset_required', 'x'))).toMatch(/password reset/);
    expect(signedOutText(classifyFailure(403, {message: 'Forbidden'}, null))).toBe(
      'You were signed out: the token service no longer accepts your credentials (HTTP 403).',
    );
  });
});

describe('what the chat view says while a service is down', () => {
  it('counts down to the renewal retry (Retry-After included)', () => {
    const error = classifyFailure(503, {error: {code: 'upstream_unavailable', message: 'x'}}, 3_000);
    const retrying = {kind: 'retrying', attempt: 1, retryAtMs: 3_000, error} as const;
    expect(renewalRetryText(retrying, 0)).toBe('renewal retrying in 3 s (HTTP 503)');
    expect(renewalRetryText({kind: 'fetching'}, 0)).toBe('renewing');
    expect(renewalRetryText({kind: 'ok'}, 0)).toBe('');
    expect(sessionStatusText(600_000, 0, retrying, 0).renewal).toBe('Renewal retrying in 3 s (HTTP 503)');
  });

  it('counts down a 429\'s wait on the session line: "Too many token requests; retrying in 7 s"', () => {
    const error = classifyFailure(429, {error: {code: 'rate_limited', message: 'x'}}, 7_000);
    const retrying = {kind: 'retrying', attempt: 1, retryAtMs: 7_000, error} as const;
    expect(sessionStatusText(600_000, 0, retrying, 0).renewal).toBe('Too many token requests; retrying in 7 s');
    expect(sessionStatusText(600_000, 0, retrying, 1_000).renewal).toBe('Too many token requests; retrying in 6 s');
    expect(sessionStatusText(600_000, 0, retrying, 6_500).renewal).toBe('Too many token requests; retrying in 1 s');
    const gateway = {...retrying, error: classifyFailure(429, {message: 'Too Many Requests'}, null)};
    expect(renewalRetryText(gateway, 4_000)).toBe('too many token requests; retrying in 3 s');
  });

  it('says the page waits for a new token once the old one ran out, and why', () => {
    const throttled = classifyFailure(429, {error: {code: 'quota_exceeded', message: 'x'}}, 3_000);
    expect(tokenWaitText({kind: 'retrying', attempt: 2, retryAtMs: 12_000, error: throttled}, 5_000)).toBe(
      'too many token requests; retrying in 7 s',
    );
    const down = classifyFailure(503, {error: {code: 'upstream_unavailable', message: 'x'}}, 3_000);
    expect(tokenWaitText({kind: 'retrying', attempt: 1, retryAtMs: 3_000, error: down}, 0)).toBe(
      'waiting for a new token: the token service is unavailable (HTTP 503); retrying in 3 s',
    );
    expect(tokenWaitText({kind: 'fetching'}, 0)).toBe('waiting for a new token');
    expect(tokenWaitText(null, 0)).toBe('waiting for a new token');
  });

  it('names a 429 in the session panel\'s last error, with its code', () => {
    const at = new Date(2026, 0, 1, 14, 2, 11).getTime();
    const when = formatClock(new Date(at));
    const limited = classifyFailure(429, {error: {code: 'rate_limited', message: 'x'}}, 7_000);
    expect(lastErrorText({error: limited, atWallMs: at})).toBe(`Too many token requests (HTTP 429, rate_limited) at ${when}`);
    const gateway = classifyFailure(429, {message: 'Too Many Requests'}, null);
    expect(lastErrorText({error: gateway, atWallMs: at})).toBe(`Too many token requests (HTTP 429) at ${when}`);
  });

  it('says when the next attempt to reach Momento is', () => {
    expect(unreachableRoomText(2_500, 0)).toBe('chat service unreachable, next try in 3 s');
    expect(unreachableRoomText(null, 0)).toBe('chat service unreachable, retrying');
  });
});

describe('what the account says about the session', () => {
  const MINUTE = 60_000;

  it('says renewal is automatic, with the next renewal and the token\'s validity as times', () => {
    // A 60-minute token renewed at 45 minutes, a second after it was vended.
    const text = sessionStatusText(60 * MINUTE, 45 * MINUTE, {kind: 'ok'}, 1_000);
    expect(text).toEqual({
      summary: 'Access renews automatically',
      renewal: 'Next renewal in 44:59',
      validity: 'Token valid for 59:59',
    });
    expect(Object.values(text).join(' ')).not.toMatch(/\bleft\b/); // no countdown to zero
  });

  it('says a renewal under way, or one past its time, is happening now', () => {
    expect(sessionStatusText(60 * MINUTE, 45 * MINUTE, {kind: 'fetching'}, MINUTE).renewal).toBe('Renewing now');
    expect(sessionStatusText(60 * MINUTE, 45 * MINUTE, {kind: 'ok'}, 46 * MINUTE).renewal).toBe('Renewing now');
    expect(sessionStatusText(60 * MINUTE, 45 * MINUTE, null, MINUTE).renewal).toBe('Next renewal in 44:00');
  });

  it('says an expired token is being renewed, and why a retry waits', () => {
    const error = classifyFailure(500, {message: 'Internal Server Error'}, null);
    const text = sessionStatusText(MINUTE, 45_000, {kind: 'retrying', attempt: 3, retryAtMs: 64_000, error}, 61_000);
    expect(text).toEqual({
      summary: 'Access expired; renewing automatically',
      renewal: 'Renewal retrying in 3 s (HTTP 500)',
      validity: 'Token expired',
    });
  });
});

describe('an operator cutting access off', () => {
  it('is said as it is, in every sign-in mode', () => {
    const error = classifyFailure(403, {error: {code: 'revoked', message: 'your access to tokens has been revoked'}}, null);
    for (const method of ['LambdaAuthorizer', 'AmazonCognito', 'Open', 'Session'] as const) {
      expect(signInErrorText(error, method)).toBe('Your access to the chat has been revoked. Contact the site\'s administrator.');
    }
    const paused = classifyFailure(403, {error: {code: 'vending_paused', message: 'token vending is paused'}}, null);
    expect(signInErrorText(paused, 'LambdaAuthorizer')).toBe('The chat is paused. Try again later.');
  });
});

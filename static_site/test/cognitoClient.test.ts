// The real AWS SDK client (cognitoClient.ts) against a fake HTTP handler that answers as Cognito's JSON 1.1 API does:
// what goes on the wire (unsigned, the right target and parameters) and how Cognito's answers come back.

import {AdminGetUserCommand} from '@aws-sdk/client-cognito-identity-provider';
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';
import {cognitoPort, createCognitoClient} from '../src/cognitoClient';
import type {CognitoConfig} from '../src/config';
import {fakeJwt} from './fakes';

const CONFIG: CognitoConfig = {region: 'us-east-1', userPoolId: 'us-east-1_Pool', clientId: 'client123', endpoint: 'http://127.0.0.1:5999'};

interface WireRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
}

type WireAnswer = {status: number; body: string; headers?: Record<string, string>} | Error;

/** The SDK's HttpHandler shape: records requests, answers from `answers` (first in first out). */
class CognitoWire {
  readonly requests: WireRequest[] = [];
  readonly answers: WireAnswer[] = [];

  async handle(request: {
    protocol: string;
    hostname: string;
    port?: number;
    path: string;
    headers: Record<string, string>;
    body?: unknown;
  }): Promise<{response: {statusCode: number; headers: Record<string, string>; body: unknown}}> {
    const raw = request.body instanceof Uint8Array ? new TextDecoder().decode(request.body) : request.body;
    const body = typeof raw === 'string' ? (JSON.parse(raw) as Record<string, unknown>) : {};
    this.requests.push({
      url: `${request.protocol}//${request.hostname}${request.port === undefined ? '' : `:${request.port}`}${request.path}`,
      headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
      body,
    });
    const answer = this.answers.shift() ?? {status: 500, body: '{"__type":"InternalErrorException","message":"no answer scripted"}'};
    if (answer instanceof Error) {
      throw answer;
    }
    return {
      response: {
        statusCode: answer.status,
        headers: {'content-type': 'application/x-amz-json-1.1', ...answer.headers},
        body: new Response(answer.body).body,
      },
    };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
}

const error = (type: string, message: string, status = 400): WireAnswer => ({
  status,
  body: JSON.stringify({__type: type, message}),
  headers: {'x-amzn-errortype': `${type}:`},
});

describe('the Cognito port on the real SDK', () => {
  let wire: CognitoWire;

  beforeEach(() => {
    wire = new CognitoWire();
    // AWS credentials in reach must still not be used: these calls are public, and sent unsigned.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAEXAMPLEEXAMPLE00');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'session');
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const port = () => cognitoPort(CONFIG, createCognitoClient(CONFIG, wire as never));

  it('signs in with USER_PASSWORD_AUTH, unsigned, at the configured endpoint', async () => {
    const IdToken = fakeJwt({iat: 100, exp: 3700});
    wire.answers.push({
      status: 200,
      body: JSON.stringify({AuthenticationResult: {IdToken, AccessToken: 'acc', RefreshToken: 'ref', ExpiresIn: 3600, TokenType: 'Bearer'}}),
    });
    const step = await port().signIn('alice', 'alice-password');
    expect(step).toEqual({kind: 'tokens', tokens: {idToken: IdToken, accessToken: 'acc', refreshToken: 'ref', lifetimeSeconds: 3600}});
    const [request] = wire.requests;
    expect(request?.url).toBe('http://127.0.0.1:5999/');
    expect(request?.headers['x-amz-target']).toBe('AWSCognitoIdentityProviderService.InitiateAuth');
    expect(request?.headers['content-type']).toBe('application/x-amz-json-1.1');
    for (const signed of ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256']) {
      expect(request?.headers).not.toHaveProperty(signed);
    }
    expect(request?.body).toEqual({
      ClientId: 'client123',
      AuthFlow: 'USER_PASSWORD_AUTH',
      AuthParameters: {USERNAME: 'alice', PASSWORD: 'alice-password'},
    });
    expect(request?.headers['amz-sdk-request']).toBe('attempt=1; max=1'); // the site retries, not the SDK
  });

  it('would sign an admin call with those credentials (so the unsigned checks above mean something)', async () => {
    wire.answers.push({status: 200, body: JSON.stringify({Username: 'alice', UserAttributes: []})});
    await createCognitoClient(CONFIG, wire as never).send(new AdminGetUserCommand({UserPoolId: CONFIG.userPoolId, Username: 'alice'}));
    expect(wire.requests[0]?.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE00\//);
  });

  it('uses the region’s public endpoint when config.js gives none', async () => {
    wire.answers.push(error('NotAuthorizedException', 'Incorrect username or password.'));
    const config = {...CONFIG, endpoint: null, region: 'eu-west-2'};
    await expect(cognitoPort(config, createCognitoClient(config, wire as never)).signIn('a', 'b')).rejects.toBeDefined();
    expect(wire.requests[0]?.url).toBe('https://cognito-idp.eu-west-2.amazonaws.com/');
  });

  it('answers a wrong password and an unknown user (moto tells them apart) with the same error', async () => {
    wire.answers.push(error('NotAuthorizedException', 'Incorrect username or password.'), error('UserNotFoundException', 'User does not exist.'));
    const wrong = await port().signIn('alice', 'nope').catch((e: unknown) => e);
    const unknown = await port().signIn('nobody', 'nope').catch((e: unknown) => e);
    expect(wrong).toMatchObject({name: 'CognitoError', kind: 'bad_credentials'});
    expect(unknown).toEqual(wrong);
    expect(String((unknown as Error).message)).not.toMatch(/exist/);
  });

  it('carries a temporary password through NEW_PASSWORD_REQUIRED, with the policy error on the way', async () => {
    wire.answers.push(
      {status: 200, body: JSON.stringify({ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 'sess-1', ChallengeParameters: {USERNAME: 'newbie'}})},
      error('InvalidPasswordException', 'Password did not conform with policy: Password not long enough'),
      {status: 200, body: JSON.stringify({AuthenticationResult: {IdToken: fakeJwt({iat: 0, exp: 3600}), AccessToken: 'a', RefreshToken: 'r'}})},
    );
    const step = await port().signIn('newbie', 'temporary');
    expect(step).toEqual({kind: 'new_password', username: 'newbie', session: 'sess-1'});
    await expect(port().completeNewPassword('newbie', 'short', 'sess-1')).rejects.toMatchObject({
      kind: 'password_rejected',
      message: 'Password did not conform with policy: Password not long enough',
    });
    expect((await port().completeNewPassword('newbie', 'long enough', 'sess-1')).kind).toBe('tokens');
    const last = wire.requests.at(-1);
    expect(last?.headers['x-amz-target']).toBe('AWSCognitoIdentityProviderService.RespondToAuthChallenge');
    expect(last?.body).toEqual({
      ClientId: 'client123',
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      Session: 'sess-1',
      ChallengeResponses: {USERNAME: 'newbie', NEW_PASSWORD: 'long enough'},
    });
  });

  it('refreshes with REFRESH_TOKEN_AUTH, and a revoked refresh token ends the session', async () => {
    const IdToken = fakeJwt({iat: 0, exp: 3600});
    wire.answers.push(
      {status: 200, body: JSON.stringify({AuthenticationResult: {IdToken, AccessToken: 'a2', ExpiresIn: 3600}})},
      error('NotAuthorizedException', 'Refresh Token has been revoked'),
    );
    expect(await port().refresh('ref')).toEqual({idToken: IdToken, accessToken: 'a2', refreshToken: null, lifetimeSeconds: 3600});
    expect(wire.requests[0]?.body).toEqual({ClientId: 'client123', AuthFlow: 'REFRESH_TOKEN_AUTH', AuthParameters: {REFRESH_TOKEN: 'ref'}});
    await expect(port().refresh('ref')).rejects.toMatchObject({kind: 'session_expired'});
  });

  it('revokes the refresh token with RevokeToken, unsigned', async () => {
    wire.answers.push({status: 200, body: '{}'});
    await port().revoke('ref');
    expect(wire.requests[0]?.headers['x-amz-target']).toBe('AWSCognitoIdentityProviderService.RevokeToken');
    expect(wire.requests[0]?.headers).not.toHaveProperty('authorization');
    expect(wire.requests[0]?.body).toEqual({ClientId: 'client123', Token: 'ref'});
  });

  it('reports no connection, 5xx, throttling and a non-JSON page as unavailable, each tried once', async () => {
    wire.answers.push(
      new TypeError('Failed to fetch'),
      error('InternalErrorException', 'internal', 500),
      error('TooManyRequestsException', 'Too many requests'),
      {status: 502, body: '<html>Bad Gateway</html>', headers: {'content-type': 'text/html'}},
    );
    const kinds = [];
    for (let i = 0; i < 4; i++) {
      const e = (await port().signIn('alice', 'pw').catch((x: unknown) => x)) as {kind: string; code: string | null; status: number | null};
      kinds.push([e.kind, e.code, e.status]);
    }
    expect(kinds).toEqual([
      ['unavailable', 'network', null],
      ['unavailable', 'InternalErrorException', 500],
      ['unavailable', 'TooManyRequestsException', 400],
      ['unavailable', null, 502],
    ]);
    expect(wire.requests).toHaveLength(4);
  });
});

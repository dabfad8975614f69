// The only AWS SDK code: @aws-sdk/client-cognito-identity-provider's bare client and the three commands the site uses,
// adapted to cognito.ts's CognitoPort.
//
// No AWS credentials anywhere: InitiateAuth, RespondToAuthChallenge and RevokeToken are public operations (the
// service model gives them Smithy's noAuth scheme), so the SDK sends them unsigned. The SDK's own retries are off
// (maxAttempts 1): the site backs off itself and says so on the page (notices.ts).

import {
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
  RevokeTokenCommand,
  type CognitoIdentityProviderClientConfig,
} from '@aws-sdk/client-cognito-identity-provider';
import {cognitoEndpoint, type CognitoConfig} from './config';
import {authStepFrom, classifyCognitoError, tokensFrom, type CognitoPort} from './cognito';

/** A Cognito call with no answer in this long is 'unavailable' (timeout), as a TVM call is (session.ts). */
export const COGNITO_TIMEOUT_MS = 15_000;

/** `requestHandler`: tests pass a fake HTTP handler; the browser uses the SDK's fetch handler with a timeout. */
export function createCognitoClient(
  config: CognitoConfig,
  requestHandler?: CognitoIdentityProviderClientConfig['requestHandler'],
): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient({
    region: config.region,
    endpoint: cognitoEndpoint(config),
    maxAttempts: 1,
    requestHandler: requestHandler ?? {requestTimeout: COGNITO_TIMEOUT_MS},
  });
}

export function cognitoPort(config: CognitoConfig, client: CognitoIdentityProviderClient = createCognitoClient(config)): CognitoPort {
  const clientId = config.clientId;
  return {
    async signIn(username, password, signal) {
      try {
        const output = await client.send(
          new InitiateAuthCommand({
            ClientId: clientId,
            AuthFlow: 'USER_PASSWORD_AUTH',
            AuthParameters: {USERNAME: username, PASSWORD: password},
          }),
          signal === undefined ? {} : {abortSignal: signal},
        );
        return authStepFrom(output, username);
      } catch (error) {
        throw classifyCognitoError(error, 'sign_in');
      }
    },

    async completeNewPassword(username, newPassword, session, signal) {
      try {
        const output = await client.send(
          new RespondToAuthChallengeCommand({
            ClientId: clientId,
            ChallengeName: 'NEW_PASSWORD_REQUIRED',
            Session: session,
            ChallengeResponses: {USERNAME: username, NEW_PASSWORD: newPassword},
          }),
          signal === undefined ? {} : {abortSignal: signal},
        );
        return authStepFrom(output, username);
      } catch (error) {
        throw classifyCognitoError(error, 'new_password');
      }
    },

    async refresh(refreshToken, signal) {
      try {
        const output = await client.send(
          new InitiateAuthCommand({
            ClientId: clientId,
            AuthFlow: 'REFRESH_TOKEN_AUTH',
            AuthParameters: {REFRESH_TOKEN: refreshToken},
          }),
          signal === undefined ? {} : {abortSignal: signal},
        );
        return tokensFrom(output, null);
      } catch (error) {
        throw classifyCognitoError(error, 'refresh');
      }
    },

    async revoke(refreshToken) {
      try {
        await client.send(new RevokeTokenCommand({ClientId: clientId, Token: refreshToken}));
      } catch (error) {
        throw classifyCognitoError(error, 'refresh');
      }
    },
  };
}

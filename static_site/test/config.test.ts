import {describe, expect, it} from 'vitest';
import {cognitoEndpoint, parseConfig} from '../src/config';

describe('parseConfig', () => {
  it('reads a local configuration', () => {
    expect(
      parseConfig({
        apiUrl: 'http://127.0.0.1:3000/',
        authMethod: 'LambdaAuthorizer',
        momentoEndpointOverride: 'http://127.0.0.1:8081',
        tokenTtlSeconds: 20,
      }),
    ).toEqual({
      ok: true,
      config: {
        apiUrl: 'http://127.0.0.1:3000',
        authMethod: 'LambdaAuthorizer',
        momentoEndpointOverride: 'http://127.0.0.1:8081',
        tokenTtlSeconds: 20,
        cognito: null,
      },
    });
  });

  it('reads a production configuration (no override, no TTL)', () => {
    expect(parseConfig({apiUrl: 'https://abc.execute-api.us-west-2.amazonaws.com', authMethod: 'Open'})).toEqual({
      ok: true,
      config: {
        apiUrl: 'https://abc.execute-api.us-west-2.amazonaws.com',
        authMethod: 'Open',
        momentoEndpointOverride: null,
        tokenTtlSeconds: null,
        cognito: null,
      },
    });
  });

  it('keeps a stage path in the API URL', () => {
    const result = parseConfig({apiUrl: 'https://api.example.com/prod/', authMethod: 'Open'});
    expect(result.ok && result.config.apiUrl).toBe('https://api.example.com/prod');
  });

  it('explains what is wrong', () => {
    expect(parseConfig(undefined)).toMatchObject({ok: false});
    const result = parseConfig({
      apiUrl: 'ftp://x',
      authMethod: 'Basic',
      momentoEndpointOverride: 'not a url',
      tokenTtlSeconds: 5,
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toHaveLength(4);
  });

  it('reads the Cognito settings in AmazonCognito mode (the local endpoint optional)', () => {
    const cognito = {region: 'us-east-1', userPoolId: 'us-east-1_bb12f8e70dd8', clientId: '2f6252e651af9a24fc69502610'};
    const local = parseConfig({apiUrl: 'http://127.0.0.1:3000', authMethod: 'AmazonCognito', cognito: {...cognito, endpoint: 'http://127.0.0.1:5000/'}});
    expect(local.ok && local.config.cognito).toEqual({...cognito, endpoint: 'http://127.0.0.1:5000'});
    const deployed = parseConfig({apiUrl: 'https://api.example.com', authMethod: 'AmazonCognito', cognito});
    expect(deployed.ok && deployed.config.cognito).toEqual({...cognito, endpoint: null});
    expect(deployed.ok && cognitoEndpoint(deployed.config.cognito!)).toBe('https://cognito-idp.us-east-1.amazonaws.com');
    // Other modes ignore it.
    const open = parseConfig({apiUrl: 'https://api.example.com', authMethod: 'Open', cognito});
    expect(open.ok && open.config.cognito).toBeNull();
  });

  it('says what is wrong with the Cognito settings', () => {
    const problems = (cognito: unknown): string[] => {
      const result = parseConfig({apiUrl: 'https://api.example.com', authMethod: 'AmazonCognito', cognito});
      return result.ok ? [] : result.problems;
    };
    expect(problems(undefined)).toEqual([
      'cognito must be an object {region, userPoolId, clientId, endpoint?} when authMethod is AmazonCognito',
    ]);
    expect(problems({region: 'us-east-1', userPoolId: 'eu-west-1_Abc', clientId: 'abc'})).toEqual([
      'cognito.userPoolId is not a pool of cognito.region (us-east-1)',
    ]);
    expect(problems({region: 'Virginia', userPoolId: 'x', clientId: 'a b', endpoint: 'ftp://x'})).toHaveLength(4);
  });
});

import {describe, expect, it} from 'vitest';
import {parseConfig} from '../src/config';

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
});

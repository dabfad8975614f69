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
        session: null,
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
        session: null,
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

  describe('Session mode (the host app’s own cookie login)', () => {
    const PAGE = 'http://127.0.0.1:8000/chat/?room=room-a';
    const session = {loginUrl: '/login', logoutUrl: '/logout'};
    const problems = (raw: Record<string, unknown>, page: string | null = PAGE): string[] => {
      const result = parseConfig({authMethod: 'Session', session, ...raw}, page);
      return result.ok ? [] : result.problems;
    };

    it("resolves a path apiUrl and the login and logout paths against the page's origin", () => {
      const result = parseConfig(
        {
          authMethod: 'Session',
          apiUrl: '/api/momento/',
          session,
          momentoEndpointOverride: 'http://127.0.0.1:8081',
          tokenTtlSeconds: 60,
        },
        PAGE,
      );
      expect(result).toEqual({
        ok: true,
        config: {
          apiUrl: 'http://127.0.0.1:8000/api/momento',
          authMethod: 'Session',
          momentoEndpointOverride: 'http://127.0.0.1:8081',
          tokenTtlSeconds: 60,
          cognito: null,
          session: {loginUrl: 'http://127.0.0.1:8000/login', logoutUrl: 'http://127.0.0.1:8000/logout'},
        },
      });
    });

    it("takes absolute URLs of the page's own origin, and a login URL with a query of its own", () => {
      const result = parseConfig(
        {
          authMethod: 'Session',
          apiUrl: 'http://127.0.0.1:8000/api/momento',
          session: {loginUrl: 'http://127.0.0.1:8000/accounts/login?provider=local', logoutUrl: '/accounts/logout'},
        },
        PAGE,
      );
      expect(result.ok && result.config.apiUrl).toBe('http://127.0.0.1:8000/api/momento');
      expect(result.ok && result.config.session).toEqual({
        loginUrl: 'http://127.0.0.1:8000/accounts/login?provider=local',
        logoutUrl: 'http://127.0.0.1:8000/accounts/logout',
      });
    });

    it('refuses an apiUrl of any other origin (the cookie must not go there), or not a path', () => {
      for (const apiUrl of [
        'http://127.0.0.1:9000/api/momento', // another port
        'https://127.0.0.1:8000/api/momento', // another scheme
        'http://localhost:8000/api/momento', // another host, even if the same machine
        'https://tvm.example.com/api/momento',
        '//tvm.example.com/api/momento', // protocol-relative: another host
        '/\\tvm.example.com/api/momento', // parsed by browsers as //tvm.example.com
      ]) {
        expect(problems({apiUrl}), apiUrl).toEqual([
          expect.stringMatching(/^apiUrl must be a path starting with \/ or a URL of this page's origin \(http:\/\/127\.0\.0\.1:8000\), not /),
        ]);
      }
      expect(problems({apiUrl: 'api/momento'})).toEqual([
        "apiUrl must be a path starting with / or a URL of this page's origin (http://127.0.0.1:8000)",
      ]);
      expect(problems({apiUrl: '/api/momento?x=1'})).toEqual(['apiUrl must not carry a query, a fragment or credentials']);
      expect(problems({apiUrl: ''})).toHaveLength(1);
    });

    it('needs session {loginUrl, logoutUrl}, each on the same origin', () => {
      expect(problems({apiUrl: '/api/momento', session: undefined})).toEqual([
        'session must be an object {loginUrl, logoutUrl} when authMethod is Session',
      ]);
      expect(problems({apiUrl: '/api/momento', session: {loginUrl: '/login'}})).toEqual([
        "session.logoutUrl must be a non-empty string (a path such as /api/momento, or a URL of this page's origin)",
      ]);
      expect(
        problems({apiUrl: '/api/momento', session: {loginUrl: 'https://id.example.com/login', logoutUrl: '/logout#now'}}),
      ).toEqual([
        "session.loginUrl must be a path starting with / or a URL of this page's origin (http://127.0.0.1:8000), not https://id.example.com",
        'session.logoutUrl must not carry a fragment or credentials',
      ]);
    });

    it('needs the page served over http(s): a file:// page has no origin to share a cookie with', () => {
      for (const page of [null, 'file:///srv/site/index.html']) {
        expect(problems({apiUrl: '/api/momento'}, page)).toEqual([
          'apiUrl: Session mode needs the page served over http:// or https://',
          'session.loginUrl: Session mode needs the page served over http:// or https://',
          'session.logoutUrl: Session mode needs the page served over http:// or https://',
        ]);
      }
    });

    it('keeps the other modes as they were: an absolute apiUrl, no session settings', () => {
      expect(parseConfig({apiUrl: '/api/momento', authMethod: 'Open'}, PAGE)).toEqual({
        ok: false,
        problems: ['apiUrl is not a valid URL'],
      });
      const open = parseConfig({apiUrl: 'https://api.example.com', authMethod: 'Open', session}, PAGE);
      expect(open.ok && open.config.session).toBeNull();
      expect(parseConfig({apiUrl: 'https://api.example.com', authMethod: 'Cookie'}, PAGE)).toEqual({
        ok: false,
        problems: ['authMethod must be one of Open, LambdaAuthorizer, AmazonCognito, Session'],
      });
    });
  });
});

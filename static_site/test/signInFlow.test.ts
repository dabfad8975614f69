// Signing in and out (signInFlow.ts, authModes.ts), through the state and its view model: what the sign-in screen
// says and does, per auth mode. The chat itself is a stand-in here (it needs Momento): entering it is recorded.

import {beforeEach, describe, expect, it} from 'vitest';
import * as S from '../src/appState';
import * as C from '../src/chatState';
import {AUTH_MODES, exportCredentials} from '../src/authModes';
import {parseConfig, type AppConfig} from '../src/config';
import {Context, type AppDeps} from '../src/runtime';
import type {ActiveToken} from '../src/session';
import {SignInFlow} from '../src/signInFlow';
import {Store} from '../src/store';
import {testState} from '../src/testHook';
import {viewModel, type SignInVm} from '../src/viewModel';
import {fakeScheduler} from './appFakes';
import {FakeClock, FakeHost, flush} from './fakes';

const PAGE = 'http://127.0.0.1:8000/';

function config(raw: Record<string, unknown>): AppConfig {
  const result = parseConfig({tokenTtlSeconds: 20, ...raw}, PAGE);
  if (!result.ok) {
    throw new Error(result.problems.join('; '));
  }
  return result.config;
}

const SESSION = {authMethod: 'Session', apiUrl: '/api/momento', session: {loginUrl: '/login', logoutUrl: '/logout'}};
const LAMBDA = {authMethod: 'LambdaAuthorizer', apiUrl: 'http://127.0.0.1:8000/api/momento'};
const OPEN = {authMethod: 'Open', apiUrl: 'http://127.0.0.1:8000/api/momento'};

class Page {
  readonly clock = new FakeClock();
  readonly store: Store;
  readonly flow: SignInFlow;
  readonly entered: ActiveToken[] = [];

  constructor(cfg: AppConfig, fetchFn: typeof fetch) {
    const deps: AppDeps = {
      fetchFn,
      scheduler: fakeScheduler(this.clock),
      hidden: () => false,
      online: () => true,
      tabs: {locks: null, openChannel: null, tabId: 'tab-1'},
      storage: null,
      topics: () => {
        throw new Error('no Momento here');
      },
      cognito: null,
      events: null,
    };
    this.store = new Store(S.initialState([], AUTH_MODES[cfg.authMethod].form));
    const ctx = new Context(cfg, deps, this.store);
    this.flow = new SignInFlow(ctx, {
      enter: (tab, first) => {
        ctx.handles.tab = tab;
        this.entered.push(first);
        this.store.update(s => C.enterChat(s, first, 'room-lobby'));
      },
      tabEvents: () => ({onToken() {}, onStatus() {}, onFatal() {}, onSignedOutElsewhere() {}, onCutOff() {}, onRole() {}}),
      onToken: () => {},
      onFatal: () => {},
    });
  }

  get signIn(): SignInVm {
    const vm = viewModel(this.store.state, {session: this.clock.now, wall: this.clock.now});
    if (vm.screen !== 'sign-in') {
      throw new Error('not on a sign-in screen');
    }
    return vm.signIn;
  }

  get view(): string {
    return testState(viewModel(this.store.state, {session: this.clock.now, wall: this.clock.now})).view;
  }
}

describe('Session mode', () => {
  let host: FakeHost;
  let page: Page;

  beforeEach(() => {
    const clock = new FakeClock();
    host = new FakeHost(() => clock.now);
    page = new Page(config(SESSION), host.fetch);
  });

  it('checks the host’s cookie first; nobody signed in: the signed-out screen, no error', async () => {
    page.flow.start();
    expect(page.view).toBe('login');
    expect(page.signIn).toMatchObject({form: 'host', busy: true, progress: 'Checking your sign-in…'});
    await flush();
    expect(page.view).toBe('signed-out');
    expect(page.signIn).toMatchObject({busy: false, error: null, progress: ''});
    expect(host.tokenRequests()).toHaveLength(1);
  });

  it('someone signed in on the host: the chat, with their token', async () => {
    host.user = 'alice';
    page.flow.start();
    await flush();
    expect(page.view).toBe('chat');
    expect(page.entered.map(t => t.token.tokenId)).toEqual(['alice']);
  });

  it('a token service that cannot answer: retrying, said with when, and “Try now” tries at once', async () => {
    host.user = 'alice';
    const down = (): Response => Response.json({error: {code: 'upstream_unavailable', message: 'x'}}, {status: 503});
    host.answers.push(down, down);
    page.flow.start();
    await flush();
    expect(page.signIn.busy).toBe(true);
    expect(page.signIn.canRetryNow).toBe(true);
    expect(page.signIn.progress).toMatch(/^The sign-in service is unavailable \(HTTP 503.*\); retrying in \d+ s…$/);
    expect(host.tokenRequests()).toHaveLength(1);
    page.flow.retryNow();
    await flush();
    expect(host.tokenRequests()).toHaveLength(2);
    await page.clock.advance(15_000);
    expect(page.view).toBe('chat');
  });

  it('Cancel stops the check: the signed-out screen, and the late answer is ignored', async () => {
    host.user = 'alice';
    host.answers.push(() => Response.json({error: {code: 'upstream_unavailable', message: 'x'}}, {status: 503}));
    page.flow.start();
    await flush();
    page.flow.cancel();
    expect(page.view).toBe('signed-out');
    await page.clock.advance(30_000);
    expect(page.view).toBe('signed-out');
    expect(page.entered).toEqual([]);
  });

  it('Log out ends the host’s login, then the signed-out screen says so; a failure to end it is said', async () => {
    host.user = 'alice';
    page.flow.start();
    await flush();
    page.flow.signOut();
    expect(page.signIn).toMatchObject({busy: true, progress: 'Signing out…'});
    await flush();
    expect(page.signIn).toMatchObject({busy: false, notice: 'You are signed out.', error: null});
    expect(host.user).toBeNull();

    host.user = 'alice';
    page.flow.checkHostSession();
    await flush();
    expect(page.view).toBe('chat');
    host.logoutAnswer = () => new Response(null, {status: 500});
    page.flow.signOut();
    await flush();
    expect(page.signIn.notice).toBeNull();
    expect(page.signIn.error?.text).toMatch(/HTTP 500/);
  });
});

describe('LambdaAuthorizer mode', () => {
  const requests: string[] = [];
  let answer: () => Response;
  const fetchFn = (async (url: RequestInfo | URL) => {
    requests.push(String(url));
    return answer();
  }) as typeof fetch;

  beforeEach(() => {
    requests.length = 0;
    answer = () => new Response('{"message":"Unauthorized"}', {status: 401});
  });

  it('asks for what is missing, on that field, without a request', () => {
    const page = new Page(config(LAMBDA), fetchFn);
    page.flow.submit(['alice', '']);
    expect(page.signIn.error).toMatchObject({text: 'Enter your password.', field: 'password'});
    page.flow.submit(['  ', 'pw']);
    expect(page.signIn.error).toMatchObject({text: 'Enter your username.', field: 'first'});
    expect(requests).toEqual([]);
  });

  it('a wrong password: said on the form, the focus on the password', async () => {
    const page = new Page(config(LAMBDA), fetchFn);
    page.flow.submit(['alice', 'wrong']);
    expect(page.signIn).toMatchObject({busy: true, progress: 'Signing in…'});
    await flush();
    expect(page.signIn).toMatchObject({busy: false, error: {field: 'password'}});
    expect(page.signIn.error?.text).toMatch(/Wrong username or password|did not accept/);
  });
});

describe('Open mode', () => {
  it('refuses an empty display name on the form, without a request', () => {
    let asked = 0;
    const page = new Page(config(OPEN), (async () => {
      asked += 1;
      return new Response('{}', {status: 500});
    }) as typeof fetch);
    page.flow.submit(['   ']);
    expect(page.signIn.error?.field).toBe('first');
    expect(page.signIn.error?.text).not.toBe('');
    expect(asked).toBe(0);
  });
});

describe('the auth modes', () => {
  it('each has its own sign-in screen and words', () => {
    expect(AUTH_MODES.Open).toMatchObject({form: 'login', title: 'Join as a guest', submitText: 'Join the chat'});
    expect(AUTH_MODES.Open.fields.map(f => f.label)).toEqual(['Display name']);
    expect(AUTH_MODES.LambdaAuthorizer.fields.map(f => f.label)).toEqual(['Username', 'Password']);
    expect(AUTH_MODES.AmazonCognito.help).toMatch(/goes to Amazon Cognito only/);
    expect(AUTH_MODES.Session).toMatchObject({form: 'host', title: 'Sign in to chat', fields: []});
  });

  it('a Cognito password goes to Cognito, never to the TVM as Basic credentials', () => {
    expect(AUTH_MODES.AmazonCognito.request(['carol', 'pw'])).toEqual({kind: 'cognito', username: 'carol', password: 'pw'});
    expect(AUTH_MODES.LambdaAuthorizer.request([' bob ', 'pw'])).toEqual({
      kind: 'session',
      credentials: {kind: 'basic', username: 'bob', password: 'pw'},
    });
  });

  it('credentials travel to the user’s other tabs, except a bare bearer token', () => {
    expect(exportCredentials({kind: 'open', name: 'Ann'})).toEqual({kind: 'open', name: 'Ann'});
    expect(exportCredentials({kind: 'cookie'})).toEqual({kind: 'cookie'});
    expect(exportCredentials({kind: 'bearer', token: 'x'})).toBeNull();
  });
});

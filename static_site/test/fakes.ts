// Test doubles: a manual clock with timers, a fake Momento topics service, and a fake Cognito user pool.

import {
  BAD_CREDENTIALS_MESSAGE,
  CognitoError,
  type CognitoAuthStep,
  type CognitoPort,
  type CognitoTokens,
} from '../src/cognito';
import type {PortHandlers, PortResult, ResumePoint, SubscribeResult, SubscriptionLike, TopicsPort} from '../src/rooms';

export class FakeClock {
  now = 1_000_000;
  private timers = new Map<number, {at: number; fn: () => void}>();
  private nextId = 1;

  readonly setTimer = (fn: () => void, ms: number): number => {
    const id = this.nextId++;
    this.timers.set(id, {at: this.now + Math.max(0, ms), fn});
    return id;
  };

  readonly clearTimer = (id: number): void => {
    this.timers.delete(id);
  };

  pending(): number {
    return this.timers.size;
  }

  /** Runs every timer due within `ms`, in order, letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await flush();
      let next: [number, {at: number; fn: () => void}] | null = null;
      for (const entry of this.timers) {
        if (entry[1].at <= end && (next === null || entry[1].at < next[1].at)) {
          next = entry;
        }
      }
      if (next === null) {
        break;
      }
      this.timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
    }
    this.now = end;
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise<void>(resolve => setTimeout(resolve, 0));
  }
}

export class FakeSubscription implements SubscriptionLike {
  isSubscribed = true;
  unsubscribe(): void {
    this.isSubscribed = false;
  }
}

export interface FakeStream {
  readonly port: FakePort;
  readonly topic: string;
  readonly handlers: PortHandlers;
  readonly subscription: FakeSubscription;
  /** Where it was asked to resume (null: the live end). */
  readonly resume: ResumePoint | null;
  settle(result?: SubscribeResult): void;
}

/** One token's client. `hold` keeps subscribes pending until settled by hand. */
export class FakePort implements TopicsPort {
  readonly streams: FakeStream[] = [];
  readonly published: {topic: string; value: string}[] = [];
  hold = false;
  failWith: {code: string; message: string} | null = null;
  publishResult: PortResult = {ok: true};

  constructor(readonly name: string) {}

  subscribe(_cache: string, topic: string, handlers: PortHandlers, resume: ResumePoint | null = null): Promise<SubscribeResult> {
    return new Promise(resolve => {
      const subscription = new FakeSubscription();
      const stream: FakeStream = {
        port: this,
        topic,
        handlers,
        subscription,
        resume,
        settle: (result?: SubscribeResult) => resolve(result ?? {ok: true, subscription}),
      };
      this.streams.push(stream);
      if (this.failWith !== null) {
        subscription.isSubscribed = false;
        resolve({ok: false, ...this.failWith});
      } else if (!this.hold) {
        handlers.onHeartbeat();
        stream.settle();
      }
    });
  }

  async publish(_cache: string, topic: string, value: string): Promise<PortResult> {
    this.published.push({topic, value});
    return this.publishResult;
  }

  open(topic: string): FakeStream[] {
    return this.streams.filter(s => s.topic === topic && s.subscription.isSubscribed);
  }
}

/** Delivers one message to every open stream of `topic` on the given ports (what Momento does). */
export function deliver(
  ports: readonly FakePort[],
  topic: string,
  sequenceNumber: number,
  page: number | null = null,
  tokenId = 'alice',
): void {
  for (const port of ports) {
    for (const stream of port.open(topic)) {
      stream.handlers.onItem({value: `m${sequenceNumber}`, sequenceNumber, page, tokenId});
    }
  }
}

/** An unsigned JWT-shaped token with these claims (the site reads `exp`/`iat` only for timing; the TVM verifies). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown): string => {
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  return `${part({alg: 'RS256', kid: 'test'})}.${part(claims)}.sig`;
}

/** One call the fake Cognito got, and what it answers: a step, tokens, or a CognitoError (thrown). */
export type FakeCognitoAnswer = CognitoAuthStep | CognitoTokens | CognitoError;

/**
 * A fake Cognito user pool behind the CognitoPort seam: users with passwords (some temporary), refresh tokens it
 * issued, and scripted answers (`answers`, first in first out) that override it, e.g. an unavailable service.
 */
export class FakeCognito implements CognitoPort {
  readonly calls: {op: 'signIn' | 'completeNewPassword' | 'refresh' | 'revoke'; args: string[]}[] = [];
  readonly answers: FakeCognitoAnswer[] = [];
  readonly users = new Map<string, {password: string; temporary: boolean}>();
  readonly refreshTokens = new Set<string>();
  readonly revoked: string[] = [];
  /** Lifetime of the ID tokens it issues, in seconds. */
  lifetimeSeconds = 3600;
  private serial = 0;

  constructor(private readonly now: () => number = () => Date.now()) {}

  tokens(username: string, withRefresh: boolean): CognitoTokens {
    this.serial += 1;
    const iat = Math.floor(this.now() / 1000);
    const idToken = fakeJwt({'cognito:username': username, iat, exp: iat + this.lifetimeSeconds, n: this.serial});
    const refreshToken = withRefresh ? `refresh-${username}-${this.serial}` : null;
    if (refreshToken !== null) {
      this.refreshTokens.add(refreshToken);
    }
    return {idToken, accessToken: `access-${this.serial}`, refreshToken, lifetimeSeconds: this.lifetimeSeconds};
  }

  private scripted(): FakeCognitoAnswer | null {
    const answer = this.answers.shift();
    if (answer instanceof CognitoError) {
      throw answer;
    }
    return answer ?? null;
  }

  async signIn(username: string, password: string, _signal?: AbortSignal): Promise<CognitoAuthStep> {
    this.calls.push({op: 'signIn', args: [username]});
    const scripted = this.scripted();
    if (scripted !== null) {
      return scripted as CognitoAuthStep;
    }
    const user = this.users.get(username);
    if (user === undefined) {
      throw new CognitoError('bad_credentials', BAD_CREDENTIALS_MESSAGE, 400, 'NotAuthorizedException');
    }
    if (user.password !== password) {
      throw new CognitoError('bad_credentials', BAD_CREDENTIALS_MESSAGE, 400, 'NotAuthorizedException');
    }
    if (user.temporary) {
      return {kind: 'new_password', username, session: `session-${username}`};
    }
    return {kind: 'tokens', tokens: this.tokens(username, true)};
  }

  async completeNewPassword(
    username: string,
    newPassword: string,
    session: string,
    _signal?: AbortSignal,
  ): Promise<CognitoAuthStep> {
    this.calls.push({op: 'completeNewPassword', args: [username, session]});
    const scripted = this.scripted();
    if (scripted !== null) {
      return scripted as CognitoAuthStep;
    }
    if (session !== `session-${username}`) {
      throw new CognitoError('session_expired', 'The Cognito session is no longer valid.', 400, 'NotAuthorizedException');
    }
    if (newPassword.length < 8) {
      throw new CognitoError('password_rejected', 'Password did not conform with policy: Password not long enough', 400, 'InvalidPasswordException');
    }
    this.users.set(username, {password: newPassword, temporary: false});
    return {kind: 'tokens', tokens: this.tokens(username, true)};
  }

  async refresh(refreshToken: string, _signal?: AbortSignal): Promise<CognitoTokens> {
    this.calls.push({op: 'refresh', args: [refreshToken]});
    const scripted = this.scripted();
    if (scripted !== null) {
      return scripted as CognitoTokens;
    }
    if (!this.refreshTokens.has(refreshToken)) {
      throw new CognitoError('session_expired', 'The Cognito session is no longer valid.', 400, 'NotAuthorizedException');
    }
    const username = refreshToken.split('-')[1] ?? '?';
    return this.tokens(username, false);
  }

  async revoke(refreshToken: string): Promise<void> {
    this.calls.push({op: 'revoke', args: [refreshToken]});
    this.refreshTokens.delete(refreshToken);
    this.revoked.push(refreshToken);
  }

  count(op: 'signIn' | 'completeNewPassword' | 'refresh' | 'revoke'): number {
    return this.calls.filter(c => c.op === op).length;
  }
}

/** One request the fake host app got, as its server would see it (the cookie is there or not). */
export interface HostRequest {
  readonly method: string;
  readonly url: string;
  /** Whether the browser attached the login cookie (same origin, and `credentials` not 'omit'). */
  readonly cookie: boolean;
  readonly authorization: string | null;
  readonly credentials: RequestCredentials | undefined;
}

/**
 * A fake host app (Session mode) behind the fetch seam, reached by a browser whose page is on `origin`: a cookie
 * login (`user`, null when nobody is signed in), `GET {apiPath}/token` (the library's 401 `unauthenticated` without
 * the cookie, else a token for `user`) and `POST {logoutPath}` (ends the login). The cookie goes with a request as
 * a browser sends it: only to the page's origin, and only when `credentials` is not 'omit'. `answers` (first in
 * first out) override the token route, e.g. a 503.
 */
export class FakeHost {
  user: string | null = null;
  /** A deployment with `topic_patterns: exact`: a request naming no topics is 403 scope_denied ("name the topics"). */
  exactNames = false;
  readonly requests: HostRequest[] = [];
  readonly answers: (() => Response)[] = [];
  /** The control channel the tokens list (the TVM's `control`), or none. */
  control: {cache: string; topics: string[]} | null = null;
  /** An operator's block (`revoked`, `tier_paused`, `vending_paused`): the token and explain routes answer 403. */
  blocked: string | null = null;
  /** What POST {logoutPath} answers (after ending the login), or a thrown error (no connection). */
  logoutAnswer: () => Response = () => new Response(null, {status: 204});

  constructor(
    private readonly now: () => number,
    readonly origin = 'http://127.0.0.1:8000',
    readonly apiPath = '/api/momento',
    readonly logoutPath = '/logout',
  ) {}

  readonly fetch = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const headers = new Headers(init?.headers);
    const cookie = url.origin === this.origin && init?.credentials !== 'omit' && this.user !== null;
    this.requests.push({method, url: url.href, cookie, authorization: headers.get('authorization'), credentials: init?.credentials});
    if (url.origin !== this.origin) {
      throw new TypeError('Failed to fetch'); // nothing listens there
    }
    if (method === 'POST' && url.pathname === this.logoutPath) {
      this.user = null;
      return this.logoutAnswer();
    }
    if (method === 'GET' && url.pathname === `${this.apiPath}/token/explain`) {
      if (!cookie || this.user === null) {
        return Response.json({error: {code: 'unauthenticated', message: 'Sign in first.'}}, {status: 401});
      }
      if (this.blocked !== null) {
        return Response.json({error: {code: this.blocked, message: 'Blocked by the operator.'}}, {status: 403});
      }
      const scope = {tier: 'readwrite', cache: 'c', topics: {role: 'publish_subscribe', cache: 'c', all: false, names: [], prefixes: ['room-']}};
      return Response.json({tokenId: this.user, rule: "default -> tier 'readwrite'", ttlSeconds: 3600, scope});
    }
    if (method === 'GET' && url.pathname === `${this.apiPath}/token`) {
      if (this.blocked !== null && cookie) {
        return Response.json({error: {code: this.blocked, message: 'Blocked by the operator.'}}, {status: 403});
      }
      const answer = this.answers.shift();
      if (answer !== undefined) {
        return answer();
      }
      if (!cookie || this.user === null) {
        return Response.json({error: {code: 'unauthenticated', message: 'Sign in first.'}}, {status: 401});
      }
      const named = url.searchParams.get('topics');
      if (named === null && this.exactNames) {
        return Response.json(
          {error: {code: 'scope_denied', message: "tier 'readwrite' allows topics by pattern: name the topics you want"}},
          {status: 403},
        );
      }
      const ttl = Number(url.searchParams.get('ttlSeconds') ?? '3600');
      const nowSec = Math.floor(this.now() / 1000);
      return Response.json({
        authToken: `tok-${this.user}-${this.now()}`,
        expiresAt: nowSec + ttl,
        now: nowSec,
        tokenId: this.user,
        endpoint: '127.0.0.1:8080',
        scope: {
          tier: 'readwrite',
          cache: 'c',
          topics:
            named === null
              ? {role: 'publish_subscribe', cache: 'c', all: false, names: [], prefixes: ['room-', 'chat-']}
              : {role: 'publish_subscribe', cache: 'c', all: false, names: named.split(','), prefixes: []},
        },
        ...(this.control === null ? {} : {control: this.control}),
      });
    }
    return Response.json({error: {code: 'not_found', message: 'No such route.'}}, {status: 404});
  }) as typeof fetch;

  /** The requests to the token route. */
  tokenRequests(): HostRequest[] {
    return this.requests.filter(r => new URL(r.url).pathname === `${this.apiPath}/token`);
  }
}

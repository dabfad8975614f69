// How a token session and a tab session are built for this page: the scheduler seam for their timers, and the
// credentials as they travel between the tabs of one user (authModes.ts exports them; a Cognito identity is rebuilt
// from its tokens here, and signed out at sign-out like one signed in here).

import {exportCredentials} from './authModes';
import {CognitoIdentity} from './cognito';
import type {Context} from './runtime';
import {Session, TVM_TIMEOUT_MS, type SessionCredentials, type SessionEvents} from './session';
import type {SharedCredentials, TabSessionDeps} from './tabs';
import {requestExplanation, type Credentials, type Explanation} from './tvm';

export function makeSession(ctx: Context, credentials: SessionCredentials, topics: readonly string[], events: SessionEvents): Session {
  return new Session(ctx.config, credentials, topics, events, {fetchFn: ctx.deps.fetchFn, ...ctx.deps.scheduler});
}

export function tabDeps(ctx: Context): TabSessionDeps {
  return {
    ...ctx.deps.scheduler,
    tabs: ctx.deps.tabs,
    makeSession: (credentials, topics, events) => makeSession(ctx, credentials, topics, events),
    exportCredentials,
    importCredentials: shared => importCredentials(ctx, shared),
    // Before acting on a peer's request: look for a sleep, so "expired" is judged on time.
    beforePeerRequest: () => ctx.renewal.checkSleep(),
  };
}

/**
 * `GET /token/explain` for `topics` (none: everything the tier allows) with a session's credentials, a Cognito
 * identity asking with its current ID token. It mints nothing. Rejects with a TvmError or a CognitoError.
 */
export async function explainWith(ctx: Context, credentials: SessionCredentials, topics: readonly string[]): Promise<Explanation> {
  const asked: Credentials = credentials.kind === 'identity' ? {kind: 'bearer', token: await credentials.source.bearer(false)} : credentials;
  return requestExplanation(ctx.config, asked, {topics, ttlSeconds: null}, {
    fetchFn: ctx.deps.fetchFn,
    now: ctx.deps.scheduler.wallNow,
    timeoutMs: TVM_TIMEOUT_MS,
  });
}

/** Credentials from the leading tab: a Cognito identity is rebuilt from its tokens (and signed out at logout). */
function importCredentials(ctx: Context, shared: SharedCredentials): SessionCredentials {
  if (shared.kind !== 'cognito') {
    return shared;
  }
  const port = ctx.deps.cognito;
  if (port === null) {
    return {kind: 'bearer', token: shared.tokens.idToken};
  }
  ctx.handles.identity = new CognitoIdentity(shared.username, shared.tokens, port, {now: ctx.deps.scheduler.wallNow});
  return {kind: 'identity', source: ctx.handles.identity};
}

// How a token session and a tab session are built for this page: the scheduler seam for their timers, and the
// credentials as they travel between the tabs of one user (authModes.ts exports them; a Cognito identity is rebuilt
// from its tokens here, and signed out at sign-out like one signed in here).

import {exportCredentials} from './authModes';
import {CognitoIdentity} from './cognito';
import type {Context} from './runtime';
import {Session, type SessionCredentials, type SessionEvents} from './session';
import type {SharedCredentials, TabSessionDeps} from './tabs';

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

// What the page says about failures (the TVM's answers, Momento being unreachable): pure, so the wording is tested
// where the mapping is.
//
// The rule it keeps: an answer that means "the service cannot check right now" (TvmError kind 'unavailable':
// network, timeout, 408, 429, any 5xx, the gateway's own 500 when its authorizer fails) is never shown as a
// refusal, and never mentions the password. A 429 says what it is: "Too many token requests; retrying in 7 s".

import type {CognitoError} from './cognito';
import type {AuthMethod} from './config';
import {formatClock, formatRemaining} from './messages';
import type {SessionError, SessionStatus} from './session';
import {scopeCovers, TvmError, type Explanation, type TokenScope, type TopicScope} from './tvm';

/** Why the service is unavailable, in a few words: "HTTP 500", "no connection", "no answer in time". */
export function unavailableReason(error: Pick<SessionError, 'status' | 'code'>): string {
  if (error.status !== null) {
    return `HTTP ${error.status}`;
  }
  return error.code === 'timeout' ? 'no answer in time' : 'no connection';
}

/** A 429 from the token route (the TVM's rate_limited or quota_exceeded, or the gateway's own throttle). */
function throttled(error: SessionError): boolean {
  return error instanceof TvmError && error.throttled;
}

/** What a 429 says while its wait runs: "Too many token requests; retrying in 7 s". */
export function throttledText(seconds: number): string {
  return `Too many token requests; retrying in ${seconds} s`;
}

/** Whole seconds until `atMs`, at least 1 (a countdown never says 0 before the attempt). */
function secondsUntil(atMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((atMs - nowMs) / 1000));
}

/** The login form's progress line while the first token is being fetched, or null for the plain "Signing in…". */
export function signInProgressText(status: SessionStatus, nowMs: number, lastError: SessionError | null): string | null {
  if (status.kind === 'retrying') {
    if (throttled(status.error)) {
      return `${throttledText(secondsUntil(status.retryAtMs, nowMs))}…`;
    }
    const seconds = Math.max(1, Math.round((status.retryAtMs - nowMs) / 1000));
    return `The sign-in service is unavailable (${unavailableReason(status.error)}); retrying in ${seconds} s…`;
  }
  if (status.kind === 'fetching' && lastError !== null) {
    return throttled(lastError)
      ? 'Too many token requests; trying again…'
      : `The sign-in service is unavailable (${unavailableReason(lastError)}); trying again…`;
  }
  return null;
}

/** The one message for a wrong password and, in Cognito mode, an unknown user (never told apart). */
export const WRONG_CREDENTIALS_TEXT = 'Wrong username or password.';

/** The login form's error for a sign-in refused for good (never called for 'unavailable': that retries). */
export function signInErrorText(error: SessionError, method: AuthMethod): string {
  if (error.name === 'CognitoError') {
    return cognitoErrorText(error);
  }
  switch (error.kind) {
    case 'bad_credentials':
      return method === 'LambdaAuthorizer' ? WRONG_CREDENTIALS_TEXT : 'The token service refused the request (403 Forbidden).';
    case 'unauthenticated':
      return method === 'AmazonCognito'
        ? 'The token service did not accept your Cognito sign-in (401 Unauthorized).'
        : method === 'Session'
          ? 'You are not signed in (401 Unauthorized). Sign in to continue.'
          : 'The token service did not accept the sign-in (401 Unauthorized). Check your username and password.';
    case 'scope_denied':
      return `Your account has no access to chat rooms: ${error.message}`;
    case 'blocked':
      return error.message;
    case 'refused':
      return `The token service refused the request (HTTP ${error.status ?? '?'}).`;
    case 'invalid_request':
      return `The token service rejected the request: ${error.message}`;
    case 'unavailable':
      return throttled(error)
        ? 'Too many token requests. Try again in a moment.'
        : `The sign-in service is unavailable (${unavailableReason(error)}). Try again in a moment.`;
    case 'bad_response':
      return `Sign-in failed: ${error.message}`;
  }
}

/**
 * What the form says when Amazon Cognito refused a sign-in step. A wrong password and an unknown user are one kind
 * (cognito.ts) and get one text; the password policy's own words are shown for a rejected new password.
 */
export function cognitoErrorText(error: CognitoError): string {
  switch (error.kind) {
    case 'bad_credentials':
      return WRONG_CREDENTIALS_TEXT;
    case 'session_expired':
      return 'Your sign-in session expired. Sign in again.';
    case 'password_rejected':
      return `The new password was not accepted: ${error.message}`;
    case 'not_confirmed':
      return 'This account is not confirmed yet. Ask the operator to confirm it.';
    case 'reset_required':
      return 'This account needs a password reset. Ask the operator for a new temporary password.';
    case 'refused':
      return `Amazon Cognito refused the sign-in (${error.code ?? `HTTP ${error.status ?? '?'}`}).`;
    case 'unavailable':
      return `The sign-in service is unavailable (${unavailableReason(error)}). Try again in a moment.`;
    case 'bad_response':
      return `Sign-in failed: ${error.message}`;
  }
}

/** Why a session ended on its own (a renewal refused for good), for the notice on the sign-in form. */
export function signedOutText(error: SessionError, method: AuthMethod | null = null): string {
  if (method === 'Session' && error.name === 'TvmError' && error.kind === 'unauthenticated') {
    return SESSION_ENDED_TEXT;
  }
  if (error.name === 'CognitoError') {
    return error.kind === 'session_expired'
      ? 'You were signed out: your Cognito session ended (expired or revoked). Sign in again.'
      : `You were signed out: ${cognitoErrorText(error)}`;
  }
  const reason =
    error.kind === 'bad_credentials' || error.kind === 'unauthenticated'
      ? 'the token service no longer accepts your credentials'
      : error.message;
  return `You were signed out: ${reason} (HTTP ${error.status ?? '?'}).`;
}

/** Session mode: a renewal got 401, the host app's login is over (signed out in another tab, or expired). */
export const SESSION_ENDED_TEXT = 'You were signed out: your session on this site ended (signed out or expired). Sign in again.';

/** The control channel said this user was revoked (controlFlow.ts): the page dropped its token at once. */
export const REVOKED_NOTICE = "Your access was revoked by the site's operator. Contact them to get it back.";

/** The control channel (or a refused renewal) said the service is paused: the page waits for it (control.ts). */
export const PAUSED_NOTICE = 'The chat was paused by the operator. This page comes back by itself when it resumes.';

/** The paused page's progress line while it asks, now and then, whether the service is back. */
export const PAUSED_PROGRESS = 'Paused by the operator; waiting for the chat to resume…';

/** Served again: the page waits its turn (a random part of half a minute) before it asks for a token. */
export const RESUMING_PROGRESS = 'The chat has resumed; reconnecting in a moment…';

/** The notice after the person signed out (every mode). */
export const SIGNED_OUT_TEXT = 'You are signed out.';

/** Session mode: the host did not confirm `POST {logoutUrl}` (`reason`: "HTTP 403", "no connection"...). */
export function signOutFailedText(reason: string): string {
  return `You are signed out of the chat on this page, but the site did not confirm the sign-out (${reason}): your session there may still be active.`;
}

/**
 * A renewal's note: "renewal retrying in 3 s (HTTP 503)" (Retry-After included), "too many token requests; retrying
 * in 7 s" after a 429, or "renewing".
 */
export function renewalRetryText(status: SessionStatus, nowMs: number): string {
  if (status.kind !== 'retrying') {
    return status.kind === 'fetching' ? 'renewing' : '';
  }
  const seconds = secondsUntil(status.retryAtMs, nowMs);
  if (throttled(status.error)) {
    return `too many token requests; retrying in ${seconds} s`;
  }
  return `renewal retrying in ${seconds} s (${unavailableReason(status.error)})`;
}

/**
 * The open room's state while the token has expired and a new one is awaited (the connection says "Waiting for a new
 * token…"): why, and when the next request is.
 */
export function tokenWaitText(status: SessionStatus | null, nowMs: number): string {
  if (status === null || status.kind !== 'retrying') {
    return 'waiting for a new token';
  }
  const seconds = secondsUntil(status.retryAtMs, nowMs);
  if (throttled(status.error)) {
    return `too many token requests; retrying in ${seconds} s`;
  }
  return `waiting for a new token: the token service is unavailable (${unavailableReason(status.error)}); retrying in ${seconds} s`;
}

/** The open room's state while Momento is unreachable: when the next attempt is, if one is waiting for its time. */
export function unreachableRoomText(nextRetryAtMs: number | null, nowMs: number): string {
  if (nextRetryAtMs === null || nextRetryAtMs <= nowMs) {
    return 'chat service unreachable, retrying';
  }
  return `chat service unreachable, next try in ${Math.max(1, Math.ceil((nextRetryAtMs - nowMs) / 1000))} s`;
}

/** The account's session lines (sessionStatusText). */
export interface SessionStatusText {
  /** "Access renews automatically": never a countdown that reads as if something happens at zero. */
  readonly summary: string;
  /** For the curious: when the next renewal is, or that it is under way, or retrying and why. */
  readonly renewal: string;
  /** How long the current token stays valid. */
  readonly validity: string;
}

/** What the account says about the session's token: renewal is automatic; the times are there for the curious. */
export function sessionStatusText(
  expiryMs: number,
  refreshAtMs: number,
  status: SessionStatus | null,
  nowMs: number,
): SessionStatusText {
  const expired = expiryMs <= nowMs;
  let renewal: string;
  if (status !== null && status.kind === 'retrying') {
    const text = renewalRetryText(status, nowMs);
    renewal = text.charAt(0).toUpperCase() + text.slice(1);
  } else if ((status !== null && status.kind === 'fetching') || refreshAtMs <= nowMs) {
    renewal = 'Renewing now';
  } else {
    renewal = `Next renewal in ${formatRemaining(refreshAtMs - nowMs)}`;
  }
  return {
    summary: expired ? 'Access expired; renewing automatically' : 'Access renews automatically',
    renewal,
    validity: expired ? 'Token expired' : `Token valid for ${formatRemaining(expiryMs - nowMs)}`,
  };
}

// --- the session panel ---------------------------------------------------------------------------------------------

/** "every topic of default-cache", "topics starting with chat- or room-", "room-a and room-b", or a mix of them. */
export function topicsText(topics: TopicScope): string {
  if (topics.all) {
    return `every topic of ${topics.cache}`;
  }
  const parts: string[] = [];
  if (topics.prefixes.length > 0) {
    parts.push(`topics starting with ${listText(topics.prefixes, 'or')}`);
  }
  if (topics.names.length > 0) {
    parts.push(listText(topics.names, 'and'));
  }
  return parts.length === 0 ? 'no topic' : parts.join(', and ');
}

function listText(items: readonly string[], joiner: 'and' | 'or'): string {
  if (items.length <= 1) {
    return items.join('');
  }
  return `${items.slice(0, -1).join(', ')} ${joiner} ${items[items.length - 1]}`;
}

const ROLE_WORDS: Readonly<Record<TopicScope['role'], string>> = {
  publish_subscribe: 'send and read',
  subscribe_only: 'read',
  publish_only: 'send',
};

/** The token's scope in words: "Tier readwrite: send and read on every topic of default-cache". */
export function scopeText(scope: TokenScope): string {
  const topics = scope.topics;
  return topics === null
    ? `Tier ${scope.tier}: no chat rooms`
    : `Tier ${scope.tier}: ${ROLE_WORDS[topics.role]} on ${topicsText(topics)}`;
}

/** What went wrong last, and when: "HTTP 503 at 14:02:11". */
export function lastErrorText(last: {readonly error: SessionError; readonly atWallMs: number} | null): string {
  if (last === null) {
    return 'None';
  }
  const error = last.error;
  const what = throttled(error)
    ? `too many token requests (HTTP 429${error.code === null ? '' : `, ${error.code}`})`
    : error.name === 'TvmError' && error.kind === 'unavailable'
      ? `the token service was unavailable (${unavailableReason(error)})`
      : error.name === 'CognitoError' && error.kind === 'unavailable'
        ? `Amazon Cognito was unavailable (${unavailableReason(error)})`
        : `${error.message} (${error.status === null ? error.kind : `HTTP ${error.status}`})`;
  return `${what.charAt(0).toUpperCase()}${what.slice(1)} at ${formatClock(new Date(last.atWallMs))}`;
}

/** Who renews: this tab, or another tab of the same user in this browser. */
export function tabRoleText(role: 'solo' | 'leader' | 'follower'): string {
  switch (role) {
    case 'solo':
      return 'This tab renews its own access';
    case 'leader':
      return 'This tab renews the access for your tabs in this browser';
    case 'follower':
      return 'Shared with your other tab in this browser, which renews it';
  }
}

/** How far this device's clock is from the server's, when it matters (over 2 s), else null. */
export function clockOffsetText(offsetMs: number | null): string | null {
  if (offsetMs === null || Math.abs(offsetMs) < 2000) {
    return null;
  }
  const seconds = Math.round(Math.abs(offsetMs) / 1000);
  const amount = seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${seconds} s`;
  return `This device's clock is ${amount} ${offsetMs > 0 ? 'behind' : 'ahead of'} the server's; renewal follows the server's`;
}

/**
 * The answer to "why can't I send?" for `room`, from `GET /token/explain` (what a token for the room would grant)
 * or its refusal, and the token held now.
 */
export function explainText(room: string, result: {ok: true; explanation: Explanation} | {ok: false; error: SessionError}): string {
  if (!result.ok) {
    const error = result.error;
    if (error.name === 'TvmError' && error.kind === 'scope_denied') {
      return `You may not use ${room}: ${error.message}`;
    }
    if (error.kind === 'unavailable') {
      return `The token service cannot answer now (${unavailableReason(error)}). Try again in a moment.`;
    }
    return `The token service refused to explain (${error.status === null ? error.kind : `HTTP ${error.status}`}): ${error.message}`;
  }
  const {explanation} = result;
  const topics = explanation.scope.topics;
  const rule = explanation.rule === '' ? '' : ` (decided by ${explanation.rule})`;
  const covered = topics !== null && scopeCovers(topics, room);
  if (topics === null || !covered) {
    return `Your tier ${explanation.scope.tier} does not include ${room}${rule}.`;
  }
  if (topics.role === 'subscribe_only') {
    return `Your tier ${explanation.scope.tier} may read ${room} but not send to it${rule}.`;
  }
  return `Your tier ${explanation.scope.tier} may send to ${room}${rule}. If sending fails, the chat service could not be reached: see the connection state.`;
}

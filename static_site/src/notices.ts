// What the page says about failures (the TVM's answers, Momento being unreachable): pure, so the wording is tested
// where the mapping is.
//
// The rule it keeps: an answer that means "the service cannot check right now" (TvmError kind 'unavailable':
// network, timeout, 408, 429, any 5xx, the gateway's own 500 when its authorizer fails) is never shown as a
// refusal, and never mentions the password.

import type {AuthMethod} from './config';
import type {SessionStatus} from './session';
import type {TvmError} from './tvm';

/** Why the service is unavailable, in a few words: "HTTP 500", "no connection", "no answer in time". */
export function unavailableReason(error: TvmError): string {
  if (error.status !== null) {
    return `HTTP ${error.status}`;
  }
  return error.code === 'timeout' ? 'no answer in time' : 'no connection';
}

/** The login form's progress line while the first token is being fetched, or null for the plain "Signing in…". */
export function signInProgressText(status: SessionStatus, nowMs: number, lastError: TvmError | null): string | null {
  if (status.kind === 'retrying') {
    const seconds = Math.max(1, Math.round((status.retryAtMs - nowMs) / 1000));
    return `The sign-in service is unavailable (${unavailableReason(status.error)}); retrying in ${seconds} s…`;
  }
  if (status.kind === 'fetching' && lastError !== null) {
    return `The sign-in service is unavailable (${unavailableReason(lastError)}); trying again…`;
  }
  return null;
}

/** The login form's error for a sign-in the TVM refused for good (never called for 'unavailable': that retries). */
export function signInErrorText(error: TvmError, method: AuthMethod): string {
  switch (error.kind) {
    case 'bad_credentials':
      return method === 'LambdaAuthorizer'
        ? 'Wrong username or password.'
        : 'The token service refused the request (403 Forbidden).';
    case 'unauthenticated':
      return 'The token service did not accept the sign-in (401 Unauthorized). Check your username and password.';
    case 'scope_denied':
      return `Your account has no access to chat rooms: ${error.message}`;
    case 'refused':
      return `The token service refused the request (HTTP ${error.status ?? '?'}).`;
    case 'invalid_request':
      return `The token service rejected the request: ${error.message}`;
    case 'unavailable':
      return `The sign-in service is unavailable (${unavailableReason(error)}). Try again in a moment.`;
    case 'bad_response':
      return `Sign-in failed: ${error.message}`;
  }
}

/** The token timer's note on a renewal: "renewal retrying in 3 s (HTTP 503)" (Retry-After included), or "renewing". */
export function renewalRetryText(status: SessionStatus, nowMs: number): string {
  if (status.kind !== 'retrying') {
    return status.kind === 'fetching' ? 'renewing' : '';
  }
  const seconds = Math.max(1, Math.ceil((status.retryAtMs - nowMs) / 1000));
  return `renewal retrying in ${seconds} s (${unavailableReason(status.error)})`;
}

/** The open room's state while Momento is unreachable: when the next attempt is, if one is waiting for its time. */
export function unreachableRoomText(nextRetryAtMs: number | null, nowMs: number): string {
  if (nextRetryAtMs === null || nextRetryAtMs <= nowMs) {
    return 'chat service unreachable, retrying';
  }
  return `chat service unreachable, next try in ${Math.max(1, Math.ceil((nextRetryAtMs - nowMs) / 1000))} s`;
}

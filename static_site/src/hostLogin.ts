// Session mode's two calls on the host app's own login: the "Sign in" link (to the host's login page, which brings
// the person back here) and signing out (`POST {logoutUrl}` with the cookie). Pure or behind a fetch seam, so both
// are unit-tested. The cookie itself is the browser's business: the page never reads it.

import type {HostLoginConfig} from './config';

/**
 * The "Sign in" link: `{loginUrl}?next=<path+search>`, with `next` this page's own path and query (never a full URL,
 * so the host cannot be made to send anyone elsewhere by it). Same origin, so written as a path.
 */
export function signInHref(login: Pick<HostLoginConfig, 'loginUrl'>, page: {readonly pathname: string; readonly search: string}): string {
  const url = new URL(login.loginUrl);
  url.searchParams.set('next', `${page.pathname}${page.search}`);
  return `${url.pathname}${url.search}`;
}

/** How the host answered the sign-out: `ok`, or why not in a few words ("HTTP 403", "no connection"). */
export type SignOutResult = {readonly ok: true} | {readonly ok: false; readonly reason: string};

export interface SignOutDeps {
  readonly fetchFn: typeof fetch;
  readonly timeoutMs: number;
}

/**
 * `POST {logoutUrl}` with the cookie (the browser adds `Origin`, which the host checks). A 2xx or a redirect (the
 * host sending the browser to its login page) is done, and so is a 401 (no session left to end); anything else,
 * or no answer, means the host's session may still be alive. Never rejects.
 */
export async function signOutOfHost(login: Pick<HostLoginConfig, 'logoutUrl'>, deps: SignOutDeps): Promise<SignOutResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deps.timeoutMs);
  try {
    const response = await deps.fetchFn(login.logoutUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {Accept: 'application/json'},
      cache: 'no-store',
      redirect: 'manual',
      signal: controller.signal,
    });
    const redirected = response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400);
    if (response.ok || redirected || response.status === 401) {
      return {ok: true};
    }
    return {ok: false, reason: `HTTP ${response.status}`};
  } catch {
    return {ok: false, reason: controller.signal.aborted ? 'no answer in time' : 'no connection'};
  } finally {
    clearTimeout(timer);
  }
}

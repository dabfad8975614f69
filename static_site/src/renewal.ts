// Every page-level renewal trigger, in one place with one set of constants. The session (session.ts) renews on its
// own timer; the page asks it to renew early when it has reason to think that timer did not run on time, or when
// something is waiting for a token:
// - every second: a sleep detected (the clocks jumped), a renewal overdue (a throttled timer), a follower whose token
//   ran out (tabs.ts);
// - back online, or the tab shown again: at once, for an expired or overdue token;
// - before a publish: an expired token is renewed first and the publish waits for it (TokenWaiters);
// - Momento rejected the token ('auth').

import type {ActiveToken} from './session';

/**
 * A renewal counts as overdue this long after it was due (the session clock): its timer was throttled or the tab
 * slept. The page asks at this point and the session, asked, acts only past this same point (session.ts imports
 * it), so a timer that is merely a tick late still runs on its own. 2 s: one tick of the page's 1 s ticker, plus
 * a tick of margin; it is also the gap at which clock.ts calls a jump of the clocks a sleep (SLEEP_GAP_MS).
 */
export const OVERDUE_AFTER_MS = 2_000;
/** The page's tick: renewal checks, the countdowns, the connection state. */
export const TICK_MS = 1_000;
/** How long a publish that hit an expired token waits for the renewed one before giving up. */
export const TOKEN_WAIT_MS = 10_000;

export type RenewReason = 'auth' | 'overdue' | 'expired';

/** What renews the token (TabSession; the sign-in's Session has the same methods but `tick`). */
export interface TokenSource {
  refreshNow(reason: RenewReason): void;
  resync(): void;
  expired(): boolean;
  tick?(): void;
}

export interface RenewalDeps {
  /** This tab's token source once signed in, and the sign-in's session before that (either may be null). */
  readonly sources: () => readonly (TokenSource | null)[];
  readonly now: () => number;
  /** Looks for a sleep (clock.ts): the gap added to the session clock, 0 when there was none. */
  readonly checkSleep: () => number;
}

/** Whether the renewal due at `token.refreshAtMs` is overdue at `now` (session clock). */
export function isOverdue(token: ActiveToken | null, now: number): boolean {
  return token !== null && now >= token.refreshAtMs + OVERDUE_AFTER_MS;
}

export class RenewalTriggers {
  constructor(private readonly deps: RenewalDeps) {}

  /** A sleep since the last look (the wall clock ran ahead of the monotonic one): timers due meanwhile run now. */
  checkSleep(): void {
    if (this.deps.checkSleep() > 0) {
      for (const source of this.deps.sources()) {
        source?.resync();
      }
    }
  }

  /** Every TICK_MS while in the chat, with the token in use. */
  tick(token: ActiveToken | null): void {
    this.checkSleep();
    const [tab] = this.deps.sources();
    tab?.tick?.();
    if (isOverdue(token, this.deps.now())) {
      tab?.refreshNow('overdue');
    }
  }

  /** Back online, or the tab shown again (background timers are throttled, a laptop may have slept): catch up now. */
  wake(): void {
    this.checkSleep();
    const [tab] = this.deps.sources();
    tab?.refreshNow('expired');
    tab?.refreshNow('overdue');
  }

  /** Before a publish: true when the token has expired and a renewal was asked for (wait for it, then publish). */
  beforePublish(): boolean {
    this.checkSleep();
    const [tab] = this.deps.sources();
    if (tab === null || tab === undefined || !tab.expired()) {
      return false;
    }
    tab.refreshNow('expired');
    return true;
  }

  /** Momento rejected the token. */
  rejected(): void {
    this.deps.sources()[0]?.refreshNow('auth');
  }
}

/** Publishes waiting for the next token: resolved true when it comes, false at sign-out or after TOKEN_WAIT_MS. */
export class TokenWaiters {
  private waiters: ((ok: boolean) => void)[] = [];

  constructor(private readonly timers: {setTimer: (fn: () => void, ms: number) => number; clearTimer: (id: number) => void}) {}

  next(): Promise<boolean> {
    return new Promise(resolve => {
      const timer = this.timers.setTimer(() => {
        this.waiters = this.waiters.filter(w => w !== done);
        resolve(false);
      }, TOKEN_WAIT_MS);
      const done = (ok: boolean): void => {
        this.timers.clearTimer(timer);
        resolve(ok);
      };
      this.waiters.push(done);
    });
  }

  /** A token came (true), or the page signed out (false). */
  settle(ok: boolean): void {
    for (const resolve of this.waiters.splice(0)) {
      resolve(ok);
    }
  }
}

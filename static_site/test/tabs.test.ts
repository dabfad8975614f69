import {beforeEach, describe, expect, it} from 'vitest';
import type {AppConfig} from '../src/config';
import {basicAuthorization} from '../src/tvm';
import {Session, type ActiveToken, type SessionCredentials, type SessionError, type SessionStatus} from '../src/session';
import {
  CONTINUE_TIMEOUT_MS,
  liveUsers,
  TabSession,
  type ChannelLike,
  type LockManagerLike,
  type SharedCredentials,
  type TabRole,
  type CutOff,
  type TabSessionDeps,
} from '../src/tabs';
import {FakeClock, flush} from './fakes';

const CONFIG: AppConfig = {
  apiUrl: 'http://api',
  authMethod: 'LambdaAuthorizer',
  momentoEndpointOverride: null,
  tokenTtlSeconds: 20,
  cognito: null,
  session: null,
};
const DEPLOYMENT = 'LambdaAuthorizer http://api';

/** Web Locks for several tabs of one browser: exclusive, queued in order, released when the holder ends or the tab closes. */
class FakeLocks {
  private readonly held = new Map<string, string>();
  private readonly queues = new Map<string, {tab: string; grant: () => void; drop: () => void}[]>();

  view(tab: string): LockManagerLike {
    return {
      request: (name, options, callback) => {
        if (options.ifAvailable === true && options.signal !== undefined) {
          return Promise.reject(new Error('NotSupportedError: ifAvailable and signal cannot be used together'));
        }
        if (options.signal?.aborted === true) {
          return Promise.reject(new Error('AbortError'));
        }
        if (!this.held.has(name)) {
          return this.grant(name, tab, callback);
        }
        if (options.ifAvailable === true) {
          return Promise.resolve(callback(null));
        }
        return new Promise((resolve, reject) => {
          const entry = {
            tab,
            grant: () => resolve(this.grant(name, tab, callback)),
            drop: () => reject(new Error('AbortError')),
          };
          const queue = this.queues.get(name) ?? [];
          queue.push(entry);
          this.queues.set(name, queue);
          options.signal?.addEventListener('abort', () => {
            this.queues.set(name, (this.queues.get(name) ?? []).filter(e => e !== entry));
            entry.drop();
          });
        });
      },
      query: async () => ({held: [...this.held.keys()].map(name => ({name}))}),
    };
  }

  /** The browser closed the tab: its locks are released and its queued requests dropped, whatever its code did. */
  closeTab(tab: string): void {
    for (const [name, queue] of this.queues) {
      this.queues.set(name, queue.filter(e => e.tab !== tab));
    }
    for (const [name, holder] of [...this.held]) {
      if (holder === tab) {
        this.release(name);
      }
    }
  }

  private grant(name: string, tab: string, callback: (lock: unknown) => unknown): Promise<unknown> {
    this.held.set(name, tab);
    return Promise.resolve(callback({name})).finally(() => {
      if (this.held.get(name) === tab) {
        this.release(name);
      }
    });
  }

  private release(name: string): void {
    this.held.delete(name);
    const next = (this.queues.get(name) ?? []).shift();
    next?.grant();
  }
}

/** BroadcastChannel between the tabs of one browser: same name, other tabs, asynchronously; `log` keeps everything. */
class FakeChannels {
  private readonly open = new Set<{name: string; tab: string; channel: ChannelLike}>();
  readonly log: {name: string; tab: string; message: unknown}[] = [];

  opener(tab: string): (name: string) => ChannelLike {
    return name => {
      const entry = {
        name,
        tab,
        channel: {
          onmessage: null,
          postMessage: (message: unknown) => {
            this.log.push({name, tab, message});
            const copy: unknown = structuredClone(message);
            for (const other of this.open) {
              if (other.name === name && other.channel !== entry.channel) {
                queueMicrotask(() => other.channel.onmessage?.({data: copy}));
              }
            }
          },
          close: () => {
            this.open.delete(entry);
          },
        } as ChannelLike,
      };
      this.open.add(entry);
      return entry.channel;
    };
  }

  closeTab(tab: string): void {
    for (const entry of [...this.open]) {
      if (entry.tab === tab) {
        this.open.delete(entry);
      }
    }
  }
}

interface Tab {
  readonly id: string;
  readonly tokens: ActiveToken[];
  readonly statuses: SessionStatus[];
  readonly fatal: SessionError[];
  readonly cutOffs: CutOff[];
  readonly shownTabs: number[];
  readonly roles: TabRole[];
  signedOutElsewhere: number;
  /** This tab's sleep (its session clock is ahead of the FakeClock by this much). */
  sleptMs: number;
  readonly deps: TabSessionDeps;
  tab: TabSession | null;
}

describe('tabs of one user share one token and one renewal', () => {
  let clock: FakeClock;
  let locks: FakeLocks;
  let channels: FakeChannels;
  /** Every request the TVM got: who asked (Authorization) and what. */
  let vends: {authorization: string | null; url: string}[];
  /** A deployment granting exact names only. */
  let exactNames: boolean;

  const fetchFn = (async (url: string, init?: RequestInit) => {
    const authorization = new Headers(init?.headers).get('Authorization');
    vends.push({authorization, url});
    const named = new URL(url).searchParams.get('topics');
    if (named === null && exactNames) {
      return Response.json({error: {code: 'scope_denied', message: 'name the topics'}}, {status: 403});
    }
    const user = authorization === null ? 'guest' : atob(authorization.replace('Basic ', '')).split(':')[0];
    const nowSec = Math.floor(clock.now / 1000);
    return Response.json({
      authToken: `tok-${user}-${vends.length}`,
      expiresAt: nowSec + 20,
      now: nowSec,
      tokenId: user,
      endpoint: 'e',
      scope: {
        tier: 'readwrite',
        cache: 'c',
        topics:
          named === null
            ? {role: 'publish_subscribe', cache: 'c', all: false, names: [], prefixes: ['room-']}
            : {role: 'publish_subscribe', cache: 'c', all: false, names: named.split(','), prefixes: []},
      },
    });
  }) as typeof fetch;

  const sessionDeps = (tab: {sleptMs: number}) => ({
    fetchFn,
    now: () => clock.now + tab.sleptMs,
    wallNow: () => clock.now + tab.sleptMs,
    random: () => 0.5,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
  });

  const newTab = (id: string): Tab => {
    const record: Tab = {
      id,
      tokens: [],
      statuses: [],
      fatal: [],
      cutOffs: [],
      shownTabs: [],
      roles: [],
      signedOutElsewhere: 0,
      sleptMs: 0,
      tab: null,
      deps: null as unknown as TabSessionDeps,
    };
    (record as {deps: TabSessionDeps}).deps = {
      tabs: {locks: locks.view(id), openChannel: channels.opener(id), tabId: id},
      now: () => clock.now + record.sleptMs,
      wallNow: () => clock.now + record.sleptMs,
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
      makeSession: (credentials, topics, events) => new Session(CONFIG, credentials, topics, events, sessionDeps(record)),
      exportCredentials: (c: SessionCredentials): SharedCredentials | null =>
        c.kind === 'basic' || c.kind === 'open' || c.kind === 'cookie' ? c : null,
      importCredentials: (shared: SharedCredentials): SessionCredentials =>
        shared.kind === 'cognito' ? {kind: 'bearer', token: shared.tokens.idToken} : shared,
      beforePeerRequest: () => undefined,
    };
    return record;
  };

  const events = (record: Tab) => ({
    onToken: (a: ActiveToken) => record.tokens.push(a),
    onStatus: (s: SessionStatus) => record.statuses.push(s),
    onFatal: (e: SessionError) => record.fatal.push(e),
    onSignedOutElsewhere: () => {
      record.signedOutElsewhere += 1;
    },
    onCutOff: (event: CutOff) => record.cutOffs.push(event),
    onShownTabs: (count: number) => record.shownTabs.push(count),
    onRole: (role: TabRole) => record.roles.push(role),
  });

  /** A tab that signs in itself (the password typed): its own first token, then it leads or follows. */
  const signIn = async (record: Tab, username: string, topics = ['room-a']): Promise<TabSession> => {
    const relay = {
      onToken: (a: ActiveToken) => (record.tab !== null ? record.tab.sessionToken(a) : record.tokens.push(a)),
      onStatus: (s: SessionStatus) => (record.tab !== null ? record.tab.sessionStatus(s) : record.statuses.push(s)),
      onFatal: (e: SessionError) => (record.tab !== null ? record.tab.sessionFatal(e) : record.fatal.push(e)),
    };
    const session = new Session(CONFIG, {kind: 'basic', username, password: `${username}-pw`}, topics, relay, sessionDeps(record));
    const first = await session.start();
    record.tab = TabSession.afterSignIn(session, first, DEPLOYMENT, topics, events(record), record.deps);
    await flush();
    return record.tab;
  };

  const continueAs = async (record: Tab, user: string, topics = ['room-a']): Promise<TabSession | null> => {
    const pending = TabSession.continueAs(user, DEPLOYMENT, topics, events(record), record.deps);
    await flush();
    record.tab = await pending;
    await flush();
    return record.tab;
  };

  const renewalsBy = (user: string): number =>
    vends.filter(v => v.authorization === basicAuthorization(user, `${user}-pw`)).length;

  beforeEach(() => {
    clock = new FakeClock();
    clock.now = 1_700_000_000_000;
    locks = new FakeLocks();
    channels = new FakeChannels();
    vends = [];
    exactNames = false;
  });

  it('a second tab continues as alice with no vend, and one renewal per token lifetime serves both', async () => {
    const a = newTab('A');
    const b = newTab('B');
    const tabA = await signIn(a, 'alice');
    expect(tabA.tabRole).toBe('leader');
    expect(await liveUsers(locks.view('B'), DEPLOYMENT)).toEqual(['alice']);
    const tabB = await continueAs(b, 'alice');
    expect(tabB?.tabRole).toBe('follower');
    expect(tabB?.current?.token.authToken).toBe(tabA.current?.token.authToken);
    expect(vends).toHaveLength(1);

    await clock.advance(15_000);
    await clock.advance(15_000);
    expect(vends).toHaveLength(3); // the sign-in and two renewals, all from the leading tab
    expect(a.tokens.map(t => t.serial)).toEqual([2, 3]);
    expect(b.tokens.map(t => t.token.authToken)).toEqual(a.tokens.map(t => t.token.authToken));
    expect(tabB?.renewals).toBe(2);
    // Its expiry is the leader's, on its own clock (durations travel, not times).
    expect(tabB?.current?.expiryMs).toBe(tabA.current?.expiryMs);
  });

  it('when the leading tab closes, the other takes over the renewal on schedule, with the credentials it received', async () => {
    const a = newTab('A');
    const b = newTab('B');
    await signIn(a, 'alice');
    const tabB = await continueAs(b, 'alice');
    await clock.advance(5_000);
    locks.closeTab('A'); // the browser ends the tab: its lock goes to the next in the queue
    channels.closeTab('A');
    a.tab?.stop();
    await flush();
    expect(tabB?.tabRole).toBe('leader');
    expect(b.roles).toContain('leader');
    expect(vends).toHaveLength(1); // no request at the takeover
    await clock.advance(9_400);
    expect(vends).toHaveLength(1);
    await clock.advance(200); // the renewal that was due at 14.5 s
    expect(vends).toHaveLength(2);
    expect(vends[1]?.authorization).toBe(basicAuthorization('alice', 'alice-pw'));
    expect(b.tokens.map(t => t.serial)).toEqual([2]);
  });

  it('tabs of alice and bob share nothing: own tokens, own renewals, own channels', async () => {
    const a = newTab('A');
    const b = newTab('B');
    const c = newTab('C');
    await signIn(a, 'alice');
    const tabB = await signIn(b, 'bob');
    expect(tabB.tabRole).toBe('leader'); // bob's own lock
    expect(await liveUsers(locks.view('C'), DEPLOYMENT)).toEqual(['alice', 'bob']);
    await continueAs(c, 'alice');
    await clock.advance(15_000);
    expect(renewalsBy('alice')).toBe(2);
    expect(renewalsBy('bob')).toBe(2);
    expect(b.tokens.every(t => t.token.tokenId === 'bob')).toBe(true);
    expect(c.tokens.every(t => t.token.tokenId === 'alice')).toBe(true);
    const bobChannel = channels.log.filter(e => e.name.endsWith('/bob'));
    expect(bobChannel.length).toBeGreaterThan(0);
    expect(JSON.stringify(bobChannel)).not.toContain('alice');
    expect(channels.log.filter(e => e.tab === 'B').every(e => e.name.endsWith('/bob'))).toBe(true);
  });

  it('a tab that signs in itself as alice while another leads follows: its own token until the next renewal', async () => {
    const a = newTab('A');
    const b = newTab('B');
    await signIn(a, 'alice');
    await clock.advance(3_000);
    const tabB = await signIn(b, 'alice'); // its password was checked by its own vend
    expect(tabB.tabRole).toBe('follower');
    expect(vends).toHaveLength(2);
    const own = tabB.current?.token.authToken;
    expect(own).not.toBe(a.tab?.current?.token.authToken); // the leader's expires sooner: kept its own
    await clock.advance(11_600); // the leader renews at 14.5 s
    expect(vends).toHaveLength(3);
    expect(tabB.current?.token.authToken).toBe(a.tab?.current?.token.authToken);
    await clock.advance(20_000);
    expect(vends).toHaveLength(4); // still one renewal per lifetime: B's session stopped
  });

  it("a follower's Momento authentication error makes the leader renew, once", async () => {
    const a = newTab('A');
    const b = newTab('B');
    await signIn(a, 'alice');
    const tabB = await continueAs(b, 'alice');
    await clock.advance(6_000);
    tabB?.refreshNow('auth');
    tabB?.refreshNow('auth');
    await flush();
    expect(vends).toHaveLength(2);
    expect(b.tokens.map(t => t.serial)).toEqual([2]);
  });

  it('a follower whose token ran out (the machine slept) asks, and the leader renews at once', async () => {
    const a = newTab('A');
    const b = newTab('B');
    await signIn(a, 'alice');
    const tabB = await continueAs(b, 'alice');
    a.sleptMs = 60_000; // both tabs slept; neither timer has fired yet
    b.sleptMs = 60_000;
    expect(tabB?.expired()).toBe(true);
    tabB?.tick();
    await flush();
    expect(vends).toHaveLength(2);
    expect(tabB?.expired()).toBe(false);
  });

  it('logging out in any tab of alice signs out her other tabs, not bob', async () => {
    const a = newTab('A');
    const b = newTab('B');
    const c = newTab('C');
    await signIn(a, 'alice');
    await signIn(c, 'bob');
    const tabB = await continueAs(b, 'alice');
    tabB?.logout();
    await flush();
    expect(a.signedOutElsewhere).toBe(1);
    expect(c.signedOutElsewhere).toBe(0);
    expect(await liveUsers(locks.view('D'), DEPLOYMENT)).toEqual(['bob']);
    await clock.advance(30_000);
    expect(renewalsBy('alice')).toBe(1); // nobody renews for alice any more
  });

  it('a renewal refused for good in the leader signs every tab of alice out', async () => {
    const a = newTab('A');
    const b = newTab('B');
    await signIn(a, 'alice');
    await continueAs(b, 'alice');
    const session = (a.tab as unknown as {session: Session}).session;
    (session as unknown as {deps: {fetchFn: typeof fetch}}).deps = {
      ...sessionDeps(a),
      fetchFn: (async () => new Response('{"message":"Forbidden"}', {status: 403})) as typeof fetch,
    };
    await clock.advance(15_000);
    expect(a.fatal.map(e => e.kind)).toEqual(['bad_credentials']);
    expect(b.fatal.map(e => e.kind)).toEqual(['bad_credentials']);
  });

  it("a cut-off heard by alice's leading tab reaches each of her tabs, only hers, and only the leader listens", async () => {
    const a = newTab('A');
    const b = newTab('B');
    const c = newTab('C');
    const tabA = await signIn(a, 'alice');
    const tabB = await continueAs(b, 'alice');
    const tabC = await signIn(c, 'bob');
    expect([tabA.listensForCutOff, tabB?.listensForCutOff, tabC.listensForCutOff]).toEqual([true, false, true]);
    tabA.cutOff('paused');
    await flush();
    expect([a.cutOffs, b.cutOffs, c.cutOffs]).toEqual([['paused'], ['paused'], []]);
    // A follower keeps its credentials until the page has acted (a pause asks with them later).
    expect(tabB?.sessionCredentials).toEqual({kind: 'basic', username: 'alice', password: 'alice-pw'});
    tabA.cutOff('revoked');
    await flush();
    expect(b.cutOffs).toEqual(['paused', 'revoked']);
    tabA.stop();
    expect(tabA.listensForCutOff).toBe(false);
  });

  it("counts the user's shown tabs in the browser, as they show, hide and close", async () => {
    const a = newTab('A');
    const b = newTab('B');
    const tabA = await signIn(a, 'alice');
    const tabB = await continueAs(b, 'alice');
    tabA.setShown(true);
    tabB?.setShown(true);
    await flush();
    expect([tabA.shownTabs, tabB?.shownTabs]).toEqual([2, 2]);
    tabB?.setShown(false);
    await flush();
    expect([tabA.shownTabs, tabB?.shownTabs]).toEqual([1, 1]);
    tabB?.setShown(true);
    tabB?.bye();
    await flush();
    expect(tabA.shownTabs).toBe(1);
    expect(a.shownTabs).toEqual([2, 1, 2, 1]);
  });

  it('where the deployment grants names only, the leader asks for the rooms of every tab', async () => {
    exactNames = true;
    const a = newTab('A');
    const b = newTab('B');
    await signIn(a, 'alice', ['room-a']);
    const tabB = await continueAs(b, 'alice', ['room-a']);
    tabB?.setTopics(['room-b', 'room-a']);
    await flush();
    expect(vends.map(v => new URL(v.url).searchParams.get('topics'))).toEqual([null, 'room-a', 'room-a,room-b']);
    expect(tabB?.current?.token.scope.topics?.names).toEqual(['room-a', 'room-b']);
    expect(tabB?.namesRooms).toBe(true);
  });

  it('continuing as someone no tab answers for gives up after a few seconds', async () => {
    const b = newTab('B');
    const pending = TabSession.continueAs('alice', DEPLOYMENT, ['room-a'], events(b), b.deps);
    await clock.advance(CONTINUE_TIMEOUT_MS + 10);
    expect(await pending).toBeNull();
    expect(vends).toHaveLength(0);
  });

  it('without Web Locks every tab is on its own (no channel, no sharing)', async () => {
    const a = newTab('A');
    (a.deps as {tabs: unknown}).tabs = {locks: null, openChannel: null, tabId: 'A'};
    const tabA = await signIn(a, 'alice');
    expect(tabA.tabRole).toBe('solo');
    expect(channels.log).toEqual([]);
    await clock.advance(15_000);
    expect(a.tokens.map(t => t.serial)).toEqual([2]);
    expect(
      await TabSession.continueAs('alice', DEPLOYMENT, [], events(a), {...a.deps, tabs: {locks: null, openChannel: null, tabId: 'X'}}),
    ).toBeNull();
  });

  it('only the leading tab talks to the TVM, and credentials go only to the channel of their user', async () => {
    const a = newTab('A');
    const b = newTab('B');
    await signIn(a, 'alice');
    await continueAs(b, 'alice');
    const withPassword = channels.log.filter(e => JSON.stringify(e.message).includes('alice-pw'));
    expect(withPassword.length).toBeGreaterThan(0);
    expect(withPassword.every(e => e.name.endsWith('/alice') && e.tab === 'A')).toBe(true);
  });
});

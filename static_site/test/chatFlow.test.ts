// The chat (chatFlow.ts, sendFlow.ts) end to end in Node: signed in through Session mode's cookie (FakeHost), the
// rooms on a fake Momento (FakePort), observed through the view model and the test hook as the browser tests do.

import {beforeEach, describe, expect, it} from 'vitest';
import * as S from '../src/appState';
import {AUTH_MODES} from '../src/authModes';
import {ChatFlow, RECENT_ROOMS_KEY} from '../src/chatFlow';
import {parseConfig} from '../src/config';
import {PAUSED_NOTICE, PAUSED_PROGRESS, RESUMING_PROGRESS, REVOKED_NOTICE} from '../src/notices';
import {PERMISSION_ERROR} from '../src/rooms';
import {Context, type AppDeps, type ChatActions} from '../src/runtime';
import {SendFlow} from '../src/sendFlow';
import {SignInFlow} from '../src/signInFlow';
import {Store} from '../src/store';
import {testMessages, testState} from '../src/testHook';
import {viewModel, type ChatVm} from '../src/viewModel';
import {fakeScheduler} from './appFakes';
import {deliver, FakeClock, FakeHost, FakePort, flush} from './fakes';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

class Page {
  readonly clock = new FakeClock();
  readonly host = new FakeHost(() => this.clock.now);
  readonly ports: FakePort[] = [];
  readonly storage = new MemoryStorage();
  readonly actions: string[] = [];
  readonly store: Store;
  readonly chat: ChatFlow;
  readonly signIn: SignInFlow;
  readonly send: SendFlow;

  constructor(recent: readonly string[] = []) {
    const result = parseConfig(
      {authMethod: 'Session', apiUrl: '/api/momento', session: {loginUrl: '/login', logoutUrl: '/logout'}, tokenTtlSeconds: 20},
      'http://127.0.0.1:8000/',
    );
    if (!result.ok) {
      throw new Error(result.problems.join('; '));
    }
    this.storage.setItem(RECENT_ROOMS_KEY, JSON.stringify(recent));
    const deps: AppDeps = {
      fetchFn: this.host.fetch,
      scheduler: fakeScheduler(this.clock),
      hidden: () => false,
      online: () => true,
      tabs: {locks: null, openChannel: null, tabId: 'tab-1'},
      storage: this.storage as unknown as Storage,
      topics: token => {
        const port = new FakePort(token.authToken);
        this.ports.push(port);
        return port;
      },
      cognito: null,
      events: null,
    };
    this.store = new Store(S.initialState(recent, AUTH_MODES.Session.form));
    const ctx = new Context(result.config, deps, this.store);
    const record = (name: string) => () => void this.actions.push(name);
    const actions: ChatActions = {focusComposer: record('focus'), clearComposer: record('clear'), clearJoin: record('clear join')};
    ctx.actions = actions;
    this.chat = new ChatFlow(ctx);
    this.signIn = new SignInFlow(ctx, this.chat);
    this.chat.signIn = this.signIn;
    this.send = new SendFlow(ctx);
  }

  async signedIn(user = 'alice'): Promise<void> {
    this.host.user = user;
    this.signIn.start();
    await flush();
  }

  get port(): FakePort {
    const port = this.ports.at(-1);
    if (port === undefined) {
      throw new Error('no Momento client yet');
    }
    return port;
  }

  get vm(): ChatVm {
    const vm = viewModel(this.store.state, {session: this.clock.now, wall: this.clock.now});
    if (vm.screen !== 'chat') {
      throw new Error('not in the chat');
    }
    return vm.chat;
  }

  get hook(): ReturnType<typeof testState> {
    return testState(viewModel(this.store.state, {session: this.clock.now, wall: this.clock.now}));
  }
}

describe('the chat', () => {
  let page: Page;

  beforeEach(async () => {
    page = new Page(['room-a', 'room-b']);
    await page.signedIn();
  });

  it('opens the most recent room, subscribes the recent ones, and is live', () => {
    expect(page.hook).toMatchObject({view: 'chat', activeRoom: 'room-a', connection: 'live', canSend: true});
    expect(page.port.open('room-a')).toHaveLength(1);
    expect(page.port.open('room-b')).toHaveLength(1);
    expect(page.vm.composer).toMatchObject({allowed: true, note: ''});
  });

  it('joins a room by name (the prefix added), remembers it, and says what is wrong with a bad name', () => {
    page.chat.join('general');
    expect(page.hook.activeRoom).toBe('room-general');
    expect(page.port.open('room-general')).toHaveLength(1);
    expect(JSON.parse(page.storage.getItem(RECENT_ROOMS_KEY) ?? '[]')).toEqual(['room-general', 'room-a', 'room-b']);
    expect(page.actions).toContain('clear join');
    page.chat.join('no way!');
    expect(page.vm.joinError?.text).toBe('Use only letters, digits, "-", "_" and ".".');
    expect(page.hook.activeRoom).toBe('room-general');
  });

  it('counts a message in another room as unread until that room is opened, and shows it there', () => {
    deliver([page.port], 'room-b', 1, null, 'bob');
    expect(page.hook.rooms.find(r => r.room === 'room-b')?.unread).toBe(1);
    expect(page.vm.messages).toEqual([]);
    page.chat.select('room-b');
    expect(page.hook.rooms.find(r => r.room === 'room-b')?.unread).toBe(0);
    expect(page.vm.messages.map(m => m.sender.label)).toEqual(['bob']);
    expect(testMessages(viewModel(page.store.state, {session: 0, wall: 0}), 'room-b')).toHaveLength(1);
  });

  it('leaving a room forgets it and its messages, closes its stream, and opens the next one', () => {
    deliver([page.port], 'room-a', 1, null, 'bob');
    page.chat.leave('room-a');
    expect(page.hook.activeRoom).toBe('room-b');
    expect(page.hook.rooms.map(r => r.room)).toEqual(['room-b']);
    expect(page.port.open('room-a')).toHaveLength(0);
    expect(testMessages(viewModel(page.store.state, {session: 0, wall: 0}), 'room-a')).toEqual([]);
    page.chat.leave('room-b');
    expect(page.vm.composer).toMatchObject({allowed: false, note: 'Join a room to chat.'});
  });

  it('sends to the open room and empties the composer', async () => {
    await page.send.send('  hello  ');
    expect(page.port.published.map(p => [p.topic, JSON.parse(p.value).text])).toEqual([['room-a', 'hello']]);
    expect(page.actions.at(-1)).toBe('clear');
    expect(page.vm.composer).toMatchObject({sending: false, error: ''});
  });

  it('a refused send keeps the message and says why', async () => {
    page.port.publishResult = {ok: false, code: PERMISSION_ERROR, message: 'no'};
    await page.send.send('hello');
    expect(page.vm.composer.error).toBe('Not sent: your account (tier readwrite) may not send to room-a.');
    expect(page.actions).not.toContain('clear');
  });

  it('a tab resumed after its token expired renews before it publishes, on the new token', async () => {
    expect(page.host.tokenRequests()).toHaveLength(1);
    page.clock.now += 30_000; // asleep: no timer ran, the token (20 s) is past its expiry
    const sent = page.send.send('after the sleep');
    await flush();
    await sent;
    expect(page.host.tokenRequests()).toHaveLength(2);
    expect(page.hook.renewalsBeforePublish).toBe(1);
    expect(page.port.published.map(p => JSON.parse(p.value).text)).toEqual(['after the sleep']);
    expect(page.ports).toHaveLength(2); // the publish went out on the new token's client
  });

  it('renews on its own schedule, and counts it', async () => {
    await page.clock.advance(18_000);
    expect(page.host.tokenRequests()).toHaveLength(2);
    expect(page.hook.refreshCount).toBe(1);
    expect(page.vm.panel.renewals).toMatch(/^1 so far, the last at /);
  });

  it('signing out closes every stream and replaces the chat with the signed-out screen', async () => {
    deliver([page.port], 'room-a', 1, null, 'bob');
    page.signIn.signOut();
    await flush();
    expect(page.hook).toMatchObject({view: 'signed-out', activeRoom: null, tokenId: null, rooms: []});
    expect(page.port.open('room-a')).toHaveLength(0);
    expect(testMessages(viewModel(page.store.state, {session: 0, wall: 0}))).toEqual([]);
    await page.clock.advance(60_000);
    expect(page.host.tokenRequests()).toHaveLength(1); // nothing renews after sign-out
    expect(page.store.state.recent).toEqual(['room-a', 'room-b']);
  });
});

describe('the control channel', () => {
  const CONTROL = {cache: 'c', topics: ['tvm-control-user', 'tvm-control-tier', 'tvm-control-all']};
  let page: Page;

  /** What the operator's command publishes: the event only, with the API key (an empty publisher id). */
  const tell = (topic: string, event: string, publisher = '', sequenceNumber = 1): void => {
    for (const port of page.ports) {
      for (const stream of port.open(topic)) {
        stream.handlers.onItem({value: JSON.stringify({v: 1, event}), sequenceNumber, page: null, tokenId: publisher});
      }
    }
  };
  const openStreams = (): number => page.ports.reduce((sum, port) => sum + port.streams.filter(s => s.subscription.isSubscribed).length, 0);
  const explains = (): number => page.host.requests.filter(r => r.url.endsWith('/token/explain')).length;

  beforeEach(async () => {
    page = new Page(['room-a', 'room-b', 'room-c', 'room-d']);
    page.host.control = CONTROL;
    await page.signedIn();
  });

  it("listens on each of the token's control topics, and the rooms give way to stay within the connection budget", () => {
    expect(page.hook.controlStreams).toBe(3);
    for (const topic of CONTROL.topics) {
      expect(page.port.open(topic)).toHaveLength(1);
    }
    // 3 control streams leave 2 rooms: 5 streams, one connection of the browser's six left for publishing.
    expect(page.hook.rooms.filter(r => r.status === 'live').map(r => r.room)).toEqual(['room-a', 'room-b']);
    expect(page.hook.streams).toBe(2);
  });

  it('moves the control streams to each new token (the old stream closes once the new one is live)', async () => {
    tell('tvm-control-user', 'restored'); // a lift it did not need: nothing happens
    const first = page.port;
    await page.clock.advance(18_000);
    expect(page.host.tokenRequests()).toHaveLength(2);
    expect(page.hook.view).toBe('chat');
    expect(page.port).not.toBe(first);
    for (const topic of CONTROL.topics) {
      expect([first.open(topic).length, page.port.open(topic).length]).toEqual([0, 1]);
    }
    expect(openStreams()).toBe(5);
  });

  it('ignores what a token published, and anything that is not a known event', async () => {
    for (const topic of CONTROL.topics) {
      tell(topic, 'revoked', 'bob');
      tell(topic, 'paused', 'guest:Ann');
    }
    for (const port of page.ports) {
      for (const stream of port.open('tvm-control-user')) {
        stream.handlers.onItem({value: '{"v":2,"event":"revoked"}', sequenceNumber: 3, page: null, tokenId: ''});
        stream.handlers.onItem({value: 'revoked', sequenceNumber: 4, page: null, tokenId: ''});
      }
    }
    await flush();
    expect(page.hook).toMatchObject({view: 'chat', connection: 'live', controlStreams: 3});
  });

  it('revoked: the token and every stream go at once, the page says why, and nothing is asked again', async () => {
    tell('tvm-control-user', 'revoked');
    await flush();
    expect(page.hook).toMatchObject({view: 'signed-out', tokenId: null, controlStreams: 0, streams: 0});
    expect(openStreams()).toBe(0);
    const phase = page.store.state.phase;
    expect(phase.kind !== 'chat' && phase.screen.notice).toBe(REVOKED_NOTICE);
    await page.clock.advance(120_000);
    expect(page.host.tokenRequests()).toHaveLength(1);
    expect(explains()).toBe(0);
  });

  it('paused: the token goes, the page asks explain with backoff, and comes back once, after a random wait', async () => {
    page.host.blocked = 'tier_paused';
    tell('tvm-control-tier', 'paused');
    await flush();
    expect(openStreams()).toBe(0);
    let phase = page.store.state.phase;
    expect(phase.kind).toBe('signing-in');
    expect(phase.kind === 'signing-in' && [phase.screen.notice, phase.progress]).toEqual([PAUSED_NOTICE, PAUSED_PROGRESS]);
    await page.clock.advance(5_000);
    expect(explains()).toBe(0); // the first ask waits 5-10 s
    await page.clock.advance(5_000);
    expect(explains()).toBe(1);
    await page.clock.advance(60_000);
    const asked = explains();
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(asked).toBeLessThanOrEqual(4); // backing off: 10 s, then 20 s, then 40 s (times the jitter)
    expect(page.host.tokenRequests()).toHaveLength(1); // a paused page asks for no token

    page.host.blocked = null; // resume
    const resumedAt = page.clock.now;
    let said = '';
    while (page.hook.view !== 'chat' && page.clock.now - resumedAt < 120_000) {
      await page.clock.advance(1_000);
      phase = page.store.state.phase;
      said = phase.kind === 'signing-in' ? phase.progress : said;
    }
    expect(said).toBe(RESUMING_PROGRESS);
    // Back after the next ask (at most 40 s with the backoff) and the spread (0.5 x 30 s here): no sooner than 15 s.
    expect(page.clock.now - resumedAt).toBeGreaterThanOrEqual(15_000);
    expect(page.clock.now - resumedAt).toBeLessThanOrEqual(61_000);
    expect(page.hook.view).toBe('chat');
    expect(page.host.tokenRequests()).toHaveLength(2); // one token, after the spread
    expect(page.hook.controlStreams).toBe(3);
  });

  it('a renewal refused by a pause it did not hear about is a pause too, and Cancel ends it', async () => {
    page.host.blocked = 'vending_paused';
    await page.clock.advance(18_000);
    const phase = page.store.state.phase;
    expect(phase.kind === 'signing-in' && phase.progress).toBe(PAUSED_PROGRESS);
    page.signIn.cancel();
    const before = explains();
    await page.clock.advance(300_000);
    expect(explains()).toBe(before);
    expect(page.hook.view).toBe('signed-out');
  });

  it('a revocation found while paused signs out with why', async () => {
    page.host.blocked = 'tier_paused';
    tell('tvm-control-all', 'paused');
    page.host.blocked = 'revoked';
    await page.clock.advance(15_000);
    const phase = page.store.state.phase;
    expect(phase.kind !== 'chat' && phase.screen.notice).toBe(REVOKED_NOTICE);
    expect(page.hook.view).toBe('signed-out');
  });
});

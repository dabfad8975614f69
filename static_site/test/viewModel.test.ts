// What the page shows (viewModel.ts) and what the test hook reports (testHook.ts), from a state and the time.

import {describe, expect, it} from 'vitest';
import * as S from '../src/appState';
import * as C from '../src/chatState';
import type {SessionStatus} from '../src/session';
import {testMessages, testState} from '../src/testHook';
import {TvmError} from '../src/tvm';
import {viewModel, type ChatVm, type Now} from '../src/viewModel';
import {activeToken} from './appFakes';

const AT = (session: number): Now => ({session, wall: Date.UTC(2026, 0, 1, 12, 0, 0) + session});

function chatVm(state: S.AppState, now: Now = AT(1_000)): ChatVm {
  const vm = viewModel(state, now);
  if (vm.screen !== 'chat') {
    throw new Error('not the chat');
  }
  return vm.chat;
}

function signedIn(options: Parameters<typeof activeToken>[0] = {}, recent: readonly string[] = ['room-a']): S.AppState {
  return C.enterChat(S.initialState(recent, 'login'), activeToken(options), recent[0] ?? 'room-lobby');
}

/** The hub's rooms all live (as the store observes them). */
function allLive(state: S.AppState, rooms: readonly string[]): S.AppState {
  return rooms.reduce((s, room) => C.roomStatus(s, room, 'live', null), state);
}

describe('the composer', () => {
  it('sends to a room the token may publish to, with no note', () => {
    expect(chatVm(signedIn()).composer).toEqual({allowed: true, note: '', sending: false, error: ''});
  });

  it('says why it cannot send: a read-only tier, or no room open', () => {
    expect(chatVm(signedIn({role: 'subscribe_only', tier: 'readonly'})).composer).toMatchObject({
      allowed: false,
      note: 'Your account (tier readonly) can read but not send.',
    });
    const none = C.leaveRoom(signedIn(), 'room-a');
    expect(chatVm(none).composer).toMatchObject({allowed: false, note: 'Join a room to chat.'});
    expect(testState(viewModel(none, AT(1_000))).canSend).toBe(false);
  });

  it('shows a send under way and its error', () => {
    const state = C.composerError(C.sending(signedIn(), true), 'Not sent: still connecting. Try again in a moment.');
    expect(chatVm(state).composer).toMatchObject({sending: true, error: 'Not sent: still connecting. Try again in a moment.'});
  });
});

describe('the rooms and the connection', () => {
  it('is connecting until the rooms are live, then live', () => {
    const state = signedIn({}, ['room-a', 'room-b']);
    expect(chatVm(state).connection).toBe('connecting');
    expect(chatVm(state).roomState).toEqual({status: 'subscribing', text: 'connecting'});
    const live = allLive(state, ['room-a', 'room-b']);
    expect(chatVm(live).connection).toBe('live');
    expect(chatVm(live).rooms).toEqual([
      {room: 'room-a', active: true, status: 'live', unread: 0},
      {room: 'room-b', active: false, status: 'live', unread: 0},
    ]);
  });

  it('says a room the token does not cover is not readable, unless a renewal is under way', () => {
    const state = signedIn({prefixes: ['room-']}, ['chat-x']);
    expect(chatVm(state).roomState).toEqual({status: 'denied', text: 'Your account (tier readwrite) may not read this room.'});
    const renewing = C.tokenStatus(state, {kind: 'fetching'});
    expect(chatVm(renewing).roomState).toEqual({status: 'waiting', text: 'waiting for a token'});
  });

  it('keeps no room subscribed while the tab is hidden: paused, every room idle', () => {
    const state = allLive(signedIn(), ['room-a']);
    const hidden = {...state, live: {...state.live, hidden: true}};
    expect(chatVm(hidden).connection).toBe('paused');
    expect(chatVm(hidden).rooms[0]?.status).toBe('idle');
  });

  it('after the token expired with a 429’s wait longer than it had left: waiting for a token, and when the next try is', () => {
    const error = new TvmError('unavailable', 'Too many requests', 429, 'rate_limited');
    const status: SessionStatus = {kind: 'retrying', attempt: 1, retryAtMs: 90_000, error};
    const state = C.tokenStatus(signedIn({lifetimeMs: 60_000}), status);
    const vm = chatVm(state, AT(61_000));
    expect(vm.connection).toBe('awaiting-token');
    expect(vm.roomState.text).toBe('too many token requests; retrying in 29 s');
    expect(vm.session.summary).toBe('Access expired; renewing automatically');
  });

  it('says Momento is unreachable, and when the next try is', () => {
    const state = signedIn();
    const unreachable = {...state, live: {...state.live, unreachable: true, nextRetryAtMs: 4_000}};
    expect(chatVm(unreachable, AT(1_000)).roomState.text).toBe('chat service unreachable, next try in 3 s');
  });

  it('counts unread messages on the room buttons', () => {
    const state = C.received(signedIn({}, ['room-a', 'room-b']), {room: 'room-b', sequenceNumber: 1, page: null, tokenId: 'bob', value: 'x', receivedAtMs: 0}, {text: 'hi', raw: false, time: null}, 0);
    expect(chatVm(state).rooms.find(r => r.room === 'room-b')?.unread).toBe(1);
    expect(chatVm(state).messages).toEqual([]); // room-a is open
  });
});

describe('the account and session panel', () => {
  it('says renewal is automatic, when the next one is and how long the token is valid', () => {
    const vm = chatVm(signedIn({lifetimeMs: 60_000}), AT(15_000));
    expect(vm.session).toEqual({
      summary: 'Access renews automatically',
      renewal: 'Next renewal in 0:30',
      validity: 'Token valid for 0:45',
    });
    expect(vm.panel).toMatchObject({renewals: '0 so far', lastError: 'None', tab: 'This tab renews its own access', clock: null});
    expect(vm.me).toEqual({label: 'alice', kind: 'user', badge: 'readwrite'});
  });

  it('follows a renewed token’s tier, and counts the renewals', () => {
    let state = signedIn();
    state = C.renewed(state, activeToken({tier: 'premium', serial: 2}), Date.UTC(2026, 0, 1, 12, 0, 5));
    state = {...state, live: {...state.live, renewals: 1}};
    const vm = chatVm(state);
    expect(vm.me.badge).toBe('premium');
    expect(vm.panel.renewals).toMatch(/^1 so far, the last at \d\d:\d\d(:\d\d)?/);
    expect(testState(viewModel(state, AT(1_000))).refreshCount).toBe(1);
  });

  it('shows “Why can’t I send?” asked, then answered', () => {
    const asked = C.explanation(signedIn(), null);
    expect(chatVm(asked).explain).toEqual({pending: true, text: 'Asking the token service…'});
    expect(chatVm(C.explanation(asked, 'You may send')).explain).toEqual({pending: false, text: 'You may send'});
    expect(chatVm(signedIn()).explain).toEqual({pending: false, text: ''});
  });
});

describe('the test hook', () => {
  it('is the sign-in screen before the chat; Session mode’s idle screen is “signed-out”', () => {
    expect(testState(viewModel(S.initialState([], 'login'), AT(0))).view).toBe('login');
    const host = S.initialState([], 'host');
    expect(testState(viewModel(host, AT(0))).view).toBe('signed-out');
    expect(testState(viewModel(S.busy(host, 'Checking your sign-in…'), AT(0))).view).toBe('login');
  });

  it('reports the chat: the token, the rooms, what can be sent, and no secret', () => {
    const state = allLive(signedIn({}, ['room-a']), ['room-a']);
    const hooked = testState(viewModel({...state, live: {...state.live, hubRooms: [{room: 'room-a', status: 'live', detail: null, subscriptions: 1}]}}, AT(1_000)));
    expect(hooked).toMatchObject({
      view: 'chat',
      connection: 'live',
      tokenId: 'alice',
      tier: 'readwrite',
      activeRoom: 'room-a',
      rooms: [{room: 'room-a', status: 'live', subscriptions: 1, unread: 0}],
      streams: 1,
      canSend: true,
      tokenValidMs: 59_000,
    });
    expect(JSON.stringify(hooked)).not.toContain('secret-token');
  });

  it('lists the messages of a room, or of every room, in order', () => {
    let state = signedIn({}, ['room-a', 'room-b']);
    const at = (room: string, n: number, tokenId: string): S.AppState =>
      C.received(state, {room, sequenceNumber: n, page: null, tokenId, value: 'x', receivedAtMs: 0}, {text: `${room} ${n}`, raw: false, time: new Date(0)}, 0);
    state = at('room-a', 1, 'alice');
    state = at('room-b', 1, 'guest:Ann');
    state = at('room-a', 2, 'bob');
    const vm = viewModel(state, AT(0));
    expect(testMessages(vm).map(m => m.text)).toEqual(['room-a 1', 'room-a 2', 'room-b 1']);
    expect(testMessages(vm, 'room-b')).toEqual([
      {room: 'room-b', sequenceNumber: 1, page: null, sender: 'Ann', senderKind: 'guest', tokenId: 'guest:Ann', own: false, text: 'room-b 1', raw: false, time: '1970-01-01T00:00:00.000Z'},
    ]);
  });
});

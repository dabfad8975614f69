// The page's state (appState.ts): its phases, the rooms and messages of the chat, and sign-out as a new state.

import {describe, expect, it} from 'vitest';
import * as S from '../src/appState';
import * as C from '../src/chatState';
import type {ReceivedItem} from '../src/rooms';
import {activeToken} from './appFakes';

const TEXT = {raw: false, time: null};

function item(room: string, sequenceNumber: number, tokenId = 'bob'): ReceivedItem {
  return {room, sequenceNumber, page: null, tokenId, value: 'x', receivedAtMs: 0};
}

function say(state: S.AppState, room: string, n: number, tokenId = 'bob'): S.AppState {
  return C.received(state, item(room, n, tokenId), {...TEXT, text: `m${n}`}, 5_000);
}

function chat(state: S.AppState): S.Chat {
  if (state.phase.kind !== 'chat') {
    throw new Error(`not in the chat: ${state.phase.kind}`);
  }
  return state.phase;
}

const signedIn = (recent: readonly string[] = []): S.AppState =>
  C.enterChat(S.initialState(recent, 'login'), activeToken(), recent[0] ?? 'room-lobby');

describe('the sign-in phases', () => {
  it('starts signed out on the mode’s form, with the recent rooms it was given', () => {
    const state = S.initialState(['room-a'], 'host');
    expect(state.phase).toMatchObject({kind: 'signed-out', screen: {form: 'host', notice: null, error: null}});
    expect(state.recent).toEqual(['room-a']);
  });

  it('is signing in while busy, and signed out again with the error when the attempt fails', () => {
    const busy = S.busy(S.initialState([], 'login'), 'Signing in…');
    expect(busy.phase).toMatchObject({kind: 'signing-in', progress: 'Signing in…', canRetryNow: false});
    const failed = S.formError(busy, 'Wrong username or password.', 'password');
    expect(failed.phase).toMatchObject({kind: 'signed-out', screen: {error: {text: 'Wrong username or password.', field: 'password'}}});
    // The same words again are a new error (the form puts the focus back), and going busy clears it.
    const again = S.formError(S.busy(failed, 'Signing in…'), 'Wrong username or password.', 'password');
    const first = failed.phase.kind === 'signed-out' ? failed.phase.screen.error?.serial : null;
    const second = again.phase.kind === 'signed-out' ? again.phase.screen.error?.serial : null;
    expect(second).not.toBe(first);
    expect(S.busy(again, 'Signing in…').phase).toMatchObject({screen: {error: null}});
  });

  it('keeps the sign-in’s last failure for the next attempt’s progress line, until the screen goes idle', () => {
    const error = {name: 'TvmError', kind: 'unavailable'} as never;
    const state = S.signInFailure(S.busy(S.initialState([], 'login'), 'Signing in…'), error);
    expect(S.busy(state, 'retrying').phase).toMatchObject({lastError: error});
    expect(S.idle(state).phase.kind).toBe('signed-out');
  });

  it('offers other tabs’ users on the login and host screens, never on the new-password form', () => {
    const login = S.continueUsers(S.initialState([], 'login'), ['alice']);
    expect(login.phase).toMatchObject({screen: {continueUsers: ['alice']}});
    const newPassword = S.continueUsers(S.newPasswordForm(login, 'carol'), ['alice']);
    expect(newPassword.phase).toMatchObject({screen: {form: 'new-password', username: 'carol', continueUsers: []}});
  });
});

describe('the chat', () => {
  it('opens the given room first, at the top of the recent rooms', () => {
    const state = signedIn(['room-b', 'room-a']);
    expect(chat(state).active).toBe('room-b');
    expect(C.selectRoom(state, 'room-a').recent).toEqual(['room-a', 'room-b']);
  });

  it('counts unread messages in the rooms not open, and clears them when the room is opened', () => {
    let state = signedIn(['room-a', 'room-b']);
    state = say(say(say(state, 'room-a', 1), 'room-b', 1), 'room-b', 2);
    expect(chat(state).unread).toEqual({'room-a': 0, 'room-b': 2});
    state = C.selectRoom(state, 'room-b');
    expect(chat(state).unread['room-b']).toBe(0);
    expect(chat(state).messages['room-b']?.map(m => m.text)).toEqual(['m1', 'm2']);
  });

  it('marks my own messages, and dates a message without its own time by the wall clock', () => {
    const state = say(say(signedIn(['room-a']), 'room-a', 1, 'alice'), 'room-a', 2, 'bob');
    const [mine, theirs] = chat(state).messages['room-a'] ?? [];
    expect(mine?.sender.own).toBe(true);
    expect(theirs?.sender.own).toBe(false);
    expect(theirs?.time.getTime()).toBe(5_000);
  });

  it('keeps the newest messages of a room only', () => {
    let state = signedIn(['room-a']);
    for (let n = 1; n <= S.MAX_MESSAGES_PER_ROOM + 3; n++) {
      state = say(state, 'room-a', n);
    }
    const kept = chat(state).messages['room-a'] ?? [];
    expect(kept).toHaveLength(S.MAX_MESSAGES_PER_ROOM);
    expect(kept[0]?.sequenceNumber).toBe(4);
  });

  it('forgets a room left, and opens the most recent other one, or none', () => {
    let state = say(signedIn(['room-a', 'room-b']), 'room-a', 1);
    state = C.leaveRoom(state, 'room-a');
    expect(state.recent).toEqual(['room-b']);
    expect(chat(state).active).toBe('room-b');
    expect(chat(state).messages['room-a']).toBeUndefined();
    state = C.leaveRoom(state, 'room-b');
    expect(state.recent).toEqual([]);
    expect(chat(state).active).toBeNull();
  });

  it('tells each room opened (even the same one again) from the last', () => {
    const state = signedIn(['room-a']);
    expect(chat(C.selectRoom(state, 'room-a')).opened).not.toBe(chat(state).opened);
  });
});

describe('signing out', () => {
  it('replaces the chat with a fresh sign-in screen: no token, no messages, only the recent room names stay', () => {
    let state = say(say(signedIn(['room-a', 'room-b']), 'room-a', 1), 'room-b', 1);
    state = C.renewed(C.composerError(state, 'Not sent'), activeToken({serial: 2}), 9_000);
    const before = S.initialState([], 'login').phase;
    const out = S.signedOut(state, 'login', 'You are signed out.');
    expect(out.phase).toEqual({
      kind: 'signed-out',
      screen: {...(before.kind === 'signed-out' ? before.screen : {}), formSerial: expect.any(Number), notice: 'You are signed out.'},
    });
    expect(out.recent).toEqual(['room-a', 'room-b']);
    // Signing in again starts from nothing.
    const again = chat(C.enterChat(out, activeToken(), 'room-a'));
    expect(again.messages).toEqual({});
    expect(again.unread).toEqual({'room-a': 0});
    expect(again.refreshCount).toBe(0);
    expect(again.composerError).toBe('');
  });

  it('ignores what comes late for the chat once signed out (a message, a renewal)', () => {
    const out = S.signedOut(signedIn(['room-a']), 'login', null);
    expect(say(out, 'room-a', 1).phase).toBe(out.phase);
    expect(C.renewed(out, activeToken(), 1).phase).toBe(out.phase);
  });

  it('builds a new form each time (the form serial changes)', () => {
    const first = S.signedOut(S.initialState([], 'login'), 'login', null);
    const second = S.signedOut(first, 'login', null);
    const serial = (s: S.AppState): number => (s.phase.kind === 'chat' ? -1 : s.phase.screen.formSerial);
    expect(serial(second)).not.toBe(serial(first));
  });
});

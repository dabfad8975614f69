// The chat phase's pure transitions (appState.ts holds the state and the sign-in's): entering the chat, the rooms
// opened and left, messages kept and counted unread, what the hub and the session report, the composer's send.
// Each takes the whole state and returns the next; a late event for a chat already left changes nothing.

import {MAX_MESSAGES_PER_ROOM, type AppState, type Chat, type Live, type StoredMessage} from './appState';
import {describeSender} from './messages';
import type {ReceivedItem, RoomStatus} from './rooms';
import {forgetRecent, touchRecent} from './roomList';
import type {ActiveToken, SessionStatus} from './session';

export function enterChat(state: AppState, token: ActiveToken, active: string): AppState {
  const me = describeSender(token.token.tokenId, token.token.tokenId);
  const chat: Chat = {
    kind: 'chat',
    me,
    token,
    tokenStatus: null,
    active: null,
    opened: 0,
    messages: {},
    unread: {},
    roomStatus: {},
    everLive: false,
    refreshCount: 0,
    lastRenewalWallMs: null,
    renewalsBeforePublish: 0,
    sending: false,
    composerError: '',
    joinError: null,
    explanation: null,
  };
  return selectRoom({...state, phase: chat}, active);
}

/** Applies `change` to the chat phase; any other phase is left as it is (a late event after sign-out). */
export function inChat(state: AppState, change: (chat: Chat) => Partial<Chat>): AppState {
  return state.phase.kind === 'chat' ? {...state, phase: {...state.phase, ...change(state.phase)}} : state;
}

export function tokenStatus(state: AppState, status: SessionStatus | null): AppState {
  return inChat(state, () => ({tokenStatus: status}));
}

export function renewed(state: AppState, token: ActiveToken, wallMs: number): AppState {
  return inChat(state, chat => ({token, refreshCount: chat.refreshCount + 1, lastRenewalWallMs: wallMs}));
}

/** Opens a room (joined, picked, or the next after leaving one): it moves to the top of the recent list. */
export function selectRoom(state: AppState, room: string): AppState {
  if (state.phase.kind !== 'chat') {
    return state;
  }
  return {
    ...state,
    recent: touchRecent(state.recent, room),
    phase: {...state.phase, active: room, opened: state.serial, unread: {...state.phase.unread, [room]: 0}, composerError: ''},
    serial: state.serial + 1,
  };
}

/** Leaves a room: its messages are forgotten; the most recent other room opens, or none. */
export function leaveRoom(state: AppState, room: string): AppState {
  if (state.phase.kind !== 'chat') {
    return state;
  }
  const recent = forgetRecent(state.recent, room);
  const {[room]: _messages, ...messages} = state.phase.messages;
  const {[room]: _unread, ...unread} = state.phase.unread;
  const left: AppState = {
    ...state,
    recent,
    phase: {...state.phase, messages, unread, active: null, opened: state.serial, composerError: ''},
    serial: state.serial + 1,
  };
  const next = recent[0];
  return next === undefined ? left : selectRoom(left, next);
}

export function joinError(state: AppState, text: string | null): AppState {
  return {
    ...inChat(state, () => ({joinError: text === null ? null : {text, field: 'first', serial: state.serial}})),
    serial: state.serial + 1,
  };
}

/** A message came: kept (the newest MAX_MESSAGES_PER_ROOM per room), counted unread unless its room is open. */
export function received(state: AppState, item: ReceivedItem, decoded: {text: string; raw: boolean; time: Date | null}, wallMs: number): AppState {
  const chat = state.phase;
  if (chat.kind !== 'chat') {
    return state;
  }
  const message: StoredMessage = {
    id: state.serial,
    room: item.room,
    sequenceNumber: item.sequenceNumber,
    page: item.page,
    sender: describeSender(item.tokenId, chat.token.token.tokenId),
    text: decoded.text,
    raw: decoded.raw,
    time: decoded.time ?? new Date(wallMs),
  };
  const list = [...(chat.messages[item.room] ?? []), message].slice(-MAX_MESSAGES_PER_ROOM);
  const unread = item.room === chat.active ? chat.unread : {...chat.unread, [item.room]: (chat.unread[item.room] ?? 0) + 1};
  return {...state, serial: state.serial + 1, phase: {...chat, messages: {...chat.messages, [item.room]: list}, unread}};
}

export function roomStatus(state: AppState, room: string, status: RoomStatus, detail: string | null): AppState {
  return inChat(state, chat => ({roomStatus: {...chat.roomStatus, [room]: {status, detail}}}));
}

/** Forgets what the hub said of rooms it no longer holds (out of the budget, or the tab hidden). */
export function keepRoomStatus(state: AppState, live: readonly string[]): AppState {
  return inChat(state, chat => ({
    roomStatus: Object.fromEntries(Object.entries(chat.roomStatus).filter(([room]) => live.includes(room))),
  }));
}

export function sending(state: AppState, on: boolean): AppState {
  return inChat(state, () => ({sending: on}));
}

export function composerError(state: AppState, error: string): AppState {
  return inChat(state, () => ({composerError: error}));
}

export function renewedBeforePublish(state: AppState): AppState {
  return inChat(state, chat => ({renewalsBeforePublish: chat.renewalsBeforePublish + 1}));
}

export function explanation(state: AppState, text: string | null): AppState {
  return inChat(state, () => ({explanation: {text}}));
}

/** What the page read from the hub, the tab and the browser just now; `live` connections also mark the chat live. */
export function observe(state: AppState, live: Live, everLiveNow: boolean): AppState {
  const next = {...state, live};
  return everLiveNow ? inChat(next, chat => (chat.everLive ? {} : {everLive: true})) : next;
}

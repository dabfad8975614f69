// The one view model: everything the page shows, derived from the state and the time. Pure (no DOM, no timer), so
// what a user sees is unit-tested in Node; every view renders from it (screen.ts), and the test hook is a projection
// of it (testHook.ts).

import type {AppState, Chat, FormError, Live, SignInForm, StoredMessage} from './appState';
import {deriveConnectionState, type ConnectionState} from './connection';
import {describeSender, formatClock, formatRemaining, type SenderKind} from './messages';
import {
  clockOffsetText,
  lastErrorText,
  scopeText,
  sessionStatusText,
  tabRoleText,
  tokenWaitText,
  unreachableRoomText,
  type SessionStatusText,
} from './notices';
import type {RoomStatus} from './rooms';
import {roomBudget, selectLiveRooms} from './roomList';
import type {ActiveToken} from './session';
import {canPublish, canSubscribe} from './tvm';

/** The two clocks: the session clock (monotonic, sleeps included: clock.ts) for lifetimes, the wall clock for dates. */
export interface Now {
  readonly session: number;
  readonly wall: number;
}

/** A user another tab of this browser is signed in as: the button says `label`, choosing it passes `user`. */
export interface LiveUser {
  readonly user: string;
  readonly label: string;
}

export interface SignInVm {
  readonly form: SignInForm;
  /** A new serial: a fresh form (the view builds it again). */
  readonly formSerial: number;
  readonly notice: string | null;
  readonly username: string;
  readonly continueUsers: readonly LiveUser[];
  readonly busy: boolean;
  readonly progress: string;
  readonly canRetryNow: boolean;
  readonly error: FormError | null;
}

export interface RoomEntry {
  readonly room: string;
  readonly active: boolean;
  readonly status: RoomStatus | 'idle';
  readonly unread: number;
}

/** The session panel's lines (notices.ts words them). */
export interface SessionPanelInfo {
  readonly scope: string;
  readonly validity: string;
  readonly renewals: string;
  readonly lastError: string;
  readonly tab: string;
  /** This device's clock against the server's, when it is off; null: not shown. */
  readonly clock: string | null;
}

export interface ComposerVm {
  readonly allowed: boolean;
  /** Why sending is not possible ('' when it is). */
  readonly note: string;
  readonly sending: boolean;
  readonly error: string;
}

export interface ChatVm {
  readonly me: {readonly label: string; readonly kind: SenderKind; readonly badge: string};
  readonly connection: ConnectionState;
  readonly session: SessionStatusText;
  readonly panel: SessionPanelInfo;
  /** "Why can't I send?": `pending` while asked; `text` the answer ('' before it is asked). */
  readonly explain: {readonly pending: boolean; readonly text: string};
  readonly rooms: readonly RoomEntry[];
  readonly joinError: FormError | null;
  /** The open room (null: none), its state line and its messages. */
  readonly room: string | null;
  /** Changes each time a room is opened or left (appState.ts). */
  readonly opened: number;
  readonly roomState: {readonly status: RoomStatus | 'idle'; readonly text: string | null};
  readonly messages: readonly StoredMessage[];
  readonly composer: ComposerVm;
}

/** Counters and facts for the test hook only (testHook.ts); no view shows them. */
export interface Facts {
  readonly token: ActiveToken | null;
  readonly tokenStatus: Chat['tokenStatus'];
  readonly refreshCount: number;
  readonly renewalsBeforePublish: number;
  readonly tokenValidMs: number | null;
  readonly canSend: boolean;
  readonly live: Live;
  /** Every room's messages (the hook lists them; no view shows rooms not open). */
  readonly messagesByRoom: Readonly<Record<string, readonly StoredMessage[]>>;
}

export type ViewModel =
  | {readonly screen: 'sign-in'; readonly signIn: SignInVm; readonly facts: Facts}
  | {readonly screen: 'chat'; readonly chat: ChatVm; readonly facts: Facts};

const ROOM_STATUS_LABELS: Readonly<Record<RoomStatus | 'idle', string>> = {
  idle: 'not subscribed',
  waiting: 'waiting for a token',
  subscribing: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  denied: 'no access',
};

export function roomStatusLabel(status: RoomStatus | 'idle'): string {
  return ROOM_STATUS_LABELS[status];
}

/** "alice", or "Ann (guest)" for an Open-mode guest (`guest:Ann`). */
export function liveUserLabel(user: string): string {
  const sender = describeSender(user, null);
  return sender.kind === 'guest' ? `${sender.label} (guest)` : sender.label;
}

/** The rooms to keep subscribed: within the budget, and none while the tab is hidden. */
export function liveRooms(state: AppState): string[] {
  if (state.live.hidden) {
    return [];
  }
  if (state.phase.kind !== 'chat') {
    return selectLiveRooms(null, state.recent);
  }
  const control = state.phase.token.token.control;
  return selectLiveRooms(state.phase.active, state.recent, roomBudget(control?.topics.length ?? 0, state.live.shownTabs));
}

/** A room's state, including rooms the hub does not hold (not covered by the token, or beyond the budget). */
export function statusOf(state: AppState, chat: Chat, room: string): {status: RoomStatus | 'idle'; detail: string | null} {
  if (!liveRooms(state).includes(room)) {
    return {status: 'idle', detail: null};
  }
  const token = chat.token.token;
  if (!canSubscribe(token, room)) {
    const renewing = chat.tokenStatus !== null && chat.tokenStatus.kind !== 'ok';
    return renewing
      ? {status: 'waiting', detail: null}
      : {status: 'denied', detail: `Your account (tier ${token.scope.tier}) may not read this room.`};
  }
  return chat.roomStatus[room] ?? {status: 'subscribing', detail: null};
}

/** The one connection state the header shows (connection.ts), from the rooms that should be subscribed. */
export function connectionOf(state: AppState, now: Now): ConnectionState | null {
  const chat = state.phase;
  if (chat.kind !== 'chat') {
    return null;
  }
  const rooms = liveRooms(state)
    .map(room => statusOf(state, chat, room))
    .filter(s => s.status !== 'denied')
    .map(s => ({live: s.status === 'live'}));
  return deriveConnectionState({
    online: state.live.online,
    hasToken: now.session < chat.token.expiryMs,
    everLive: chat.everLive,
    rooms,
    serviceUnreachable: state.live.unreachable,
    hidden: state.live.hidden,
  });
}

/** Whether the composer may send to the open room and, if not, why (the note under it). */
export function composerNote(chat: Chat): {allowed: boolean; note: string} {
  const token = chat.token.token;
  if (chat.active === null) {
    return {allowed: false, note: 'Join a room to chat.'};
  }
  if (token.scope.topics?.role === 'subscribe_only') {
    return {allowed: false, note: `Your account (tier ${token.scope.tier}) can read but not send.`};
  }
  if (!canPublish(token, chat.active) && canSubscribe(token, chat.active)) {
    return {allowed: false, note: `Your account (tier ${token.scope.tier}) may not send to this room.`};
  }
  return {allowed: true, note: ''};
}

/** The open room's state line; while Momento is unreachable or the token is awaited, why and when the next try is. */
function roomState(state: AppState, chat: Chat, connection: ConnectionState, now: Now): ChatVm['roomState'] {
  if (chat.active === null) {
    return {status: 'idle', text: null};
  }
  const s = statusOf(state, chat, chat.active);
  const waiting = s.status !== 'live' && s.status !== 'denied';
  if (connection === 'unreachable' && waiting) {
    return {status: s.status, text: unreachableRoomText(state.live.nextRetryAtMs, now.session)};
  }
  if (connection === 'awaiting-token' && waiting) {
    // The token ran out before a new one came (a 429's wait, say): why, and when the next request is.
    return {status: s.status, text: tokenWaitText(chat.tokenStatus, now.session)};
  }
  return {status: s.status, text: s.detail ?? ROOM_STATUS_LABELS[s.status]};
}

function panel(state: AppState, chat: Chat, now: Now): SessionPanelInfo {
  const {live} = state;
  const token = chat.token;
  const validMs = token.expiryMs - now.session;
  return {
    scope: scopeText(token.token.scope) + (live.namesRooms ? ' (named rooms only)' : ''),
    validity:
      validMs <= 0 ? 'Expired; renewing' : `${formatRemaining(validMs)} (until ${formatClock(new Date(now.wall + validMs))} here)`,
    renewals:
      live.renewals === 0 || chat.lastRenewalWallMs === null
        ? `${live.renewals} so far`
        : `${live.renewals} so far, the last at ${formatClock(new Date(chat.lastRenewalWallMs))}`,
    lastError: lastErrorText(live.lastError),
    tab: tabRoleText(live.tabRole ?? 'solo'),
    clock: clockOffsetText(token.clockOffsetMs),
  };
}

function chatVm(state: AppState, chat: Chat, now: Now): ChatVm {
  const connection = connectionOf(state, now) ?? 'connecting';
  const token = chat.token;
  return {
    me: {label: chat.me.label, kind: chat.me.kind, badge: chat.me.kind === 'guest' ? 'guest' : token.token.scope.tier},
    connection,
    session: sessionStatusText(token.expiryMs, token.refreshAtMs, chat.tokenStatus, now.session),
    panel: panel(state, chat, now),
    explain: {pending: chat.explanation?.text === null, text: chat.explanation === null ? '' : (chat.explanation.text ?? 'Asking the token service…')},
    rooms: state.recent.map(room => ({
      room,
      active: room === chat.active,
      status: statusOf(state, chat, room).status,
      unread: chat.unread[room] ?? 0,
    })),
    joinError: chat.joinError,
    room: chat.active,
    opened: chat.opened,
    roomState: roomState(state, chat, connection, now),
    messages: chat.active === null ? [] : (chat.messages[chat.active] ?? []),
    composer: {...composerNote(chat), sending: chat.sending, error: chat.composerError},
  };
}

export function viewModel(state: AppState, now: Now): ViewModel {
  const {phase, live} = state;
  if (phase.kind === 'chat') {
    const facts: Facts = {
      token: phase.token,
      tokenStatus: phase.tokenStatus,
      refreshCount: phase.refreshCount,
      renewalsBeforePublish: phase.renewalsBeforePublish,
      tokenValidMs: phase.token.expiryMs - now.session,
      canSend: phase.active !== null && canPublish(phase.token.token, phase.active),
      live,
      messagesByRoom: phase.messages,
    };
    return {screen: 'chat', chat: chatVm(state, phase, now), facts};
  }
  const busy = phase.kind === 'signing-in';
  const signIn: SignInVm = {
    form: phase.screen.form,
    formSerial: phase.screen.formSerial,
    notice: phase.screen.notice,
    username: phase.screen.username,
    continueUsers: phase.screen.continueUsers.map(user => ({user, label: liveUserLabel(user)})),
    busy,
    progress: busy ? phase.progress : '',
    canRetryNow: busy && phase.canRetryNow,
    error: phase.screen.error,
  };
  const facts: Facts = {
    token: null,
    tokenStatus: null,
    refreshCount: 0,
    renewalsBeforePublish: 0,
    tokenValidMs: null,
    canSend: false,
    live,
    messagesByRoom: {},
  };
  return {screen: 'sign-in', signIn, facts};
}

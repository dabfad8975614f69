// `window.__chat`: the read-only view browser tests observe the page through (no credentials, no token). It is a
// projection of the view model (viewModel.ts), so a test sees what the views were given.

import type {ConnectionState} from './connection';
import type {SenderKind} from './messages';
import {lastErrorText} from './notices';
import type {RoomStatus} from './rooms';
import type {SessionStatus} from './session';
import type {Facts, ViewModel} from './viewModel';

/** What `window.__chat.state()` returns: read-only, JSON-serialisable, no secrets. */
export interface ChatTestState {
  /** 'signed-out': Session mode's signed-out screen (nobody signed in on the host); 'login' there while checking. */
  readonly view: 'login' | 'signed-out' | 'chat' | 'config-error';
  readonly connection: ConnectionState | null;
  readonly tokenExpiresAt: number | null;
  readonly tokenId: string | null;
  readonly tier: string | null;
  readonly role: string | null;
  readonly activeRoom: string | null;
  readonly rooms: readonly {room: string; status: RoomStatus | 'idle'; subscriptions: number; unread: number}[];
  readonly refreshCount: number;
  /** AmazonCognito: how many times the Cognito session was refreshed (REFRESH_TOKEN_AUTH) since sign-in; else 0. */
  readonly identityRefreshCount: number;
  readonly tokenStatus: SessionStatus['kind'] | null;
  readonly received: number;
  readonly duplicatesDropped: number;
  readonly canSend: boolean;
  /** 'leader': this tab renews for the user's tabs; 'follower': another tab does; 'solo': alone; null: signed out. */
  readonly tabRole: 'solo' | 'leader' | 'follower' | null;
  /** Token replacements since the user's first token (every tab of the user counts the same ones). */
  readonly renewals: number;
  readonly scopeAll: boolean;
  readonly scopePrefixes: readonly string[];
  readonly scopeNames: readonly string[];
  /** The requests name the rooms (a deployment that grants exact names only). */
  readonly namesRooms: boolean;
  readonly hidden: boolean;
  /** Subscriptions open now, over every room. */
  readonly streams: number;
  /** Control-channel subscriptions open now in this tab (controlFlow.ts): the tab listening for the user's tabs. */
  readonly controlStreams: number;
  /** Subscriptions that resumed after a mark (a tab shown again, a room back within the budget). */
  readonly resumedSubscriptions: number;
  /** Sleep detected (wall clock ahead of the monotonic one), ms. */
  readonly sleptMs: number;
  /** How long the token stays valid, on the session clock (ms), or null. */
  readonly tokenValidMs: number | null;
  /** Publishes that waited for a renewal because the token had expired (a tab resumed from sleep). */
  readonly renewalsBeforePublish: number;
  readonly lastError: string | null;
  /** Only when view is 'config-error': what is wrong with config.js. */
  readonly problems?: readonly string[];
}

export interface ChatTestMessage {
  readonly room: string;
  readonly sequenceNumber: number;
  readonly page: number | null;
  readonly sender: string;
  readonly senderKind: SenderKind;
  readonly tokenId: string;
  readonly own: boolean;
  readonly text: string;
  readonly raw: boolean;
  readonly time: string;
}

/** `state()` and `messages(room?)`, as main.ts exposes them. */
export interface ChatTestHook {
  state(): ChatTestState;
  messages(room?: string): ChatTestMessage[];
}

/**
 * `vm`: the view model the views were last given (what the page shows: the screen, the connection, the rooms);
 * `facts`: the counters read just now (the hub's streams, the tab's renewals), which change without a render.
 */
export function testState(vm: ViewModel, facts: Facts = vm.facts): ChatTestState {
  const {live} = facts;
  const token = facts.token?.token ?? null;
  const chat = vm.screen === 'chat' ? vm.chat : null;
  const hubRooms = new Map(live.hubRooms.map(r => [r.room, r]));
  return {
    view: chat !== null ? 'chat' : vm.screen === 'sign-in' && vm.signIn.form === 'host' && !vm.signIn.busy ? 'signed-out' : 'login',
    connection: chat?.connection ?? null,
    tokenExpiresAt: token?.expiresAt ?? null,
    tokenId: token?.tokenId ?? null,
    tier: token?.scope.tier ?? null,
    role: token?.scope.topics?.role ?? null,
    activeRoom: chat?.room ?? null,
    rooms: (chat?.rooms ?? []).map(entry => ({
      room: entry.room,
      status: entry.status,
      subscriptions: hubRooms.get(entry.room)?.subscriptions ?? 0,
      unread: entry.unread,
    })),
    refreshCount: facts.refreshCount,
    identityRefreshCount: live.identityRefreshCount,
    tokenStatus: facts.tokenStatus?.kind ?? null,
    received: live.received,
    duplicatesDropped: live.duplicates,
    canSend: facts.canSend,
    tabRole: chat !== null ? live.tabRole : null,
    renewals: live.renewals,
    scopeAll: token?.scope.topics?.all ?? false,
    scopePrefixes: token?.scope.topics?.prefixes ?? [],
    scopeNames: token?.scope.topics?.names ?? [],
    namesRooms: live.namesRooms,
    hidden: live.hidden,
    streams: live.hubRooms.reduce((sum, r) => sum + r.subscriptions, 0),
    controlStreams: live.controlStreams,
    resumedSubscriptions: live.resumes,
    sleptMs: live.sleptMs,
    tokenValidMs: facts.tokenValidMs,
    renewalsBeforePublish: facts.renewalsBeforePublish,
    lastError: live.lastError === null ? null : lastErrorText(live.lastError),
  };
}

export function testMessages(vm: ViewModel, room?: string): ChatTestMessage[] {
  const byRoom = vm.facts.messagesByRoom;
  const rooms = room === undefined ? Object.keys(byRoom) : [room];
  return rooms
    .flatMap(r => byRoom[r] ?? [])
    .map(m => ({
      room: m.room,
      sequenceNumber: m.sequenceNumber,
      page: m.page,
      sender: m.sender.label,
      senderKind: m.sender.kind,
      tokenId: m.sender.tokenId,
      own: m.sender.own,
      text: m.text,
      raw: m.raw,
      time: m.time.toISOString(),
    }));
}

/** The hook when config.js is wrong: nothing runs but the problems' screen. */
export function configErrorState(problems: readonly string[], hidden: boolean): ChatTestState {
  return {
    view: 'config-error',
    connection: null,
    tokenExpiresAt: null,
    tokenId: null,
    tier: null,
    role: null,
    activeRoom: null,
    rooms: [],
    refreshCount: 0,
    identityRefreshCount: 0,
    tokenStatus: null,
    received: 0,
    duplicatesDropped: 0,
    canSend: false,
    tabRole: null,
    renewals: 0,
    scopeAll: false,
    scopePrefixes: [],
    scopeNames: [],
    namesRooms: false,
    hidden,
    streams: 0,
    controlStreams: 0,
    resumedSubscriptions: 0,
    sleptMs: 0,
    tokenValidMs: null,
    renewalsBeforePublish: 0,
    lastError: null,
    problems,
  };
}

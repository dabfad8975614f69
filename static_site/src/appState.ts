// The page's one state: a discriminated phase (signed out, signing in, chat) and the small pure functions that change
// it (the sign-in's here, the chat's in chatState.ts). Nothing here touches the DOM, a timer or the network; the
// flows (signInFlow.ts, chatFlow.ts) call these and the views render what viewModel.ts derives from the result.
// Signing out replaces the phase: nothing is reset by hand.

import type {Sender} from './messages';
import type {RoomSnapshot, RoomStatus} from './rooms';
import type {ActiveToken, LastError, SessionError, SessionStatus} from './session';
import type {TabRole} from './tabs';

/** Messages kept per room in memory (the page only shows what arrived while it was open). */
export const MAX_MESSAGES_PER_ROOM = 500;

/** Which sign-in screen: the username/password (or display name) form, Cognito's new password, Session mode's. */
export type SignInForm = 'login' | 'new-password' | 'host';

/** An inline error on a form; `serial` tells the same words said again (the view puts the focus back each time). */
export interface FormError {
  readonly text: string;
  readonly field: 'first' | 'password';
  readonly serial: number;
}

/** The sign-in screen, in both phases that show it. A new `formSerial` is a fresh form (fields empty). */
export interface SignInScreen {
  readonly form: SignInForm;
  readonly formSerial: number;
  readonly notice: string | null;
  /** Cognito's new-password form: whose. */
  readonly username: string;
  /** Users signed in in other tabs of this browser ("Continue as …"). */
  readonly continueUsers: readonly string[];
  readonly error: FormError | null;
}

export interface SignedOut {
  readonly kind: 'signed-out';
  readonly screen: SignInScreen;
}

/** The sign-in screen is busy: checking, signing in (retrying, maybe), continuing as another tab, signing out. */
export interface SigningIn {
  readonly kind: 'signing-in';
  readonly screen: SignInScreen;
  readonly progress: string;
  /** A retry is waiting for its time: "Try now" is offered. */
  readonly canRetryNow: boolean;
  /** The last failure while signing in, for the progress line of the attempt that follows it. */
  readonly lastError: SessionError | null;
}

export interface StoredMessage {
  /** Increasing over the page's life: the message log appends those it has not shown yet. */
  readonly id: number;
  readonly room: string;
  readonly sequenceNumber: number;
  readonly page: number | null;
  readonly sender: Sender;
  readonly text: string;
  readonly raw: boolean;
  /** When the sender says it was sent, else when we received it. */
  readonly time: Date;
}

export interface Chat {
  readonly kind: 'chat';
  /** Who signed in (the header's name; the badge follows the token's tier). */
  readonly me: Sender;
  readonly token: ActiveToken;
  readonly tokenStatus: SessionStatus | null;
  readonly active: string | null;
  /** Changes each time a room is opened (or left): the log shows it from the start, the drawer closes. */
  readonly opened: number;
  readonly messages: Readonly<Record<string, readonly StoredMessage[]>>;
  readonly unread: Readonly<Record<string, number>>;
  /** What the hub said of each room it holds (rooms beyond the budget or the token have none). */
  readonly roomStatus: Readonly<Record<string, {readonly status: RoomStatus; readonly detail: string | null}>>;
  /** The page has been live at least once since sign-in (connection.ts). */
  readonly everLive: boolean;
  readonly refreshCount: number;
  readonly lastRenewalWallMs: number | null;
  /** Publishes that waited for a renewal because the token had expired (a tab resumed from sleep). */
  readonly renewalsBeforePublish: number;
  readonly sending: boolean;
  readonly composerError: string;
  readonly joinError: FormError | null;
  /** "Why can't I send?": null before it is asked; text null while the answer is awaited. */
  readonly explanation: {readonly text: string | null} | null;
}

export type Phase = SignedOut | SigningIn | Chat;

/** What the page reads from the parts it drives (the hub, the tab, the clock, the browser), sampled before a render. */
export interface Live {
  readonly hidden: boolean;
  readonly online: boolean;
  readonly hubRooms: readonly RoomSnapshot[];
  /** Control-channel streams this tab holds (controlFlow.ts): the user's topics while it listens for the tabs. */
  readonly controlStreams: number;
  /** The user's tabs shown in this browser, this one included (tabs.ts): they share the rooms' connections. */
  readonly shownTabs: number;
  readonly received: number;
  readonly duplicates: number;
  readonly resumes: number;
  readonly unreachable: boolean;
  readonly nextRetryAtMs: number | null;
  readonly tabRole: TabRole | null;
  readonly renewals: number;
  readonly namesRooms: boolean;
  readonly lastError: LastError | null;
  readonly identityRefreshCount: number;
  readonly sleptMs: number;
}

export interface AppState {
  /** Recent room names (also in localStorage): they outlive a sign-out. */
  readonly recent: readonly string[];
  readonly phase: Phase;
  readonly live: Live;
  /** The next message id and form serial (never reused, so a view can tell new from seen). */
  readonly serial: number;
}

export const QUIET_LIVE: Live = {
  hidden: false,
  online: true,
  hubRooms: [],
  controlStreams: 0,
  shownTabs: 1,
  received: 0,
  duplicates: 0,
  resumes: 0,
  unreachable: false,
  nextRetryAtMs: null,
  tabRole: null,
  renewals: 0,
  namesRooms: false,
  lastError: null,
  identityRefreshCount: 0,
  sleptMs: 0,
};

function screen(form: SignInForm, serial: number, notice: string | null, username = ''): SignInScreen {
  return {form, formSerial: serial, notice, username, continueUsers: [], error: null};
}

export function initialState(recent: readonly string[], form: SignInForm): AppState {
  return {recent, phase: {kind: 'signed-out', screen: screen(form, 1, null)}, live: QUIET_LIVE, serial: 2};
}

/** A fresh sign-in screen (sign-out, a cancelled new password, a renewal refused for good): the old phase is gone. */
export function signedOut(state: AppState, form: SignInForm, notice: string | null): AppState {
  return {...state, phase: {kind: 'signed-out', screen: screen(form, state.serial, notice)}, serial: state.serial + 1};
}

/** Cognito's temporary password: the form for a new one. */
export function newPasswordForm(state: AppState, username: string): AppState {
  return {...state, phase: {kind: 'signed-out', screen: screen('new-password', state.serial, null, username)}, serial: state.serial + 1};
}

function currentScreen(state: AppState): SignInScreen | null {
  return state.phase.kind === 'chat' ? null : state.phase.screen;
}

/** The screen goes busy (or says what it is doing now): the inline error gives way to the progress line. */
export function busy(state: AppState, progress: string, canRetryNow = false): AppState {
  const shown = currentScreen(state);
  if (shown === null) {
    return state;
  }
  const lastError = state.phase.kind === 'signing-in' ? state.phase.lastError : null;
  return {...state, phase: {kind: 'signing-in', screen: {...shown, error: null}, progress, canRetryNow, lastError}};
}

/** The attempt ended without an error to show (nobody signed in on the host, cancelled): the screen is idle. */
export function idle(state: AppState): AppState {
  const shown = currentScreen(state);
  return shown === null ? state : {...state, phase: {kind: 'signed-out', screen: shown}};
}

/** The attempt failed: idle again, with why. */
export function formError(state: AppState, text: string, field: 'first' | 'password' = 'first'): AppState {
  const shown = currentScreen(state);
  if (shown === null) {
    return state;
  }
  return {
    ...state,
    phase: {kind: 'signed-out', screen: {...shown, error: {text, field, serial: state.serial}}},
    serial: state.serial + 1,
  };
}

export function continueUsers(state: AppState, users: readonly string[]): AppState {
  if (state.phase.kind === 'chat' || state.phase.screen.form === 'new-password') {
    return state; // choosing a new password: another tab's access is not offered there
  }
  return {...state, phase: {...state.phase, screen: {...state.phase.screen, continueUsers: users}}};
}

/** The sign-in's last failure, kept for the next attempt's progress line (notices.ts signInProgressText). */
export function signInFailure(state: AppState, lastError: SessionError | null): AppState {
  return state.phase.kind === 'signing-in' ? {...state, phase: {...state.phase, lastError}} : state;
}

// What the flows share: the config, the browser's parts, the scheduler seam, the store, and the handles of the
// effects running for the current phase (a sign-in call, the session, the tab, the hub, listeners). Sign-out stops
// the handles here and replaces the state (appState.ts); nothing is reset field by field.

import type {CognitoAuthStep, CognitoIdentity, CognitoPort} from './cognito';
import type {AppConfig} from './config';
import type {ResumeWatch} from './control';
import type {ControlListener} from './controlFlow';
import type {RetryingCall} from './retry';
import type {RoomHub, TopicsPort} from './rooms';
import type {Scheduler} from './scheduler';
import type {Session} from './session';
import type {Store} from './store';
import type {TabSession, TabsDeps} from './tabs';
import type {VendedToken} from './tvm';
import type {AppState, Live} from './appState';
import {observe} from './chatState';
import {RenewalTriggers, TokenWaiters} from './renewal';
import {connectionOf} from './viewModel';

export interface AppDeps {
  readonly fetchFn: typeof fetch;
  readonly scheduler: Scheduler;
  /** Whether the page is hidden (document.visibilityState): a hidden tab keeps no subscription. */
  readonly hidden: () => boolean;
  /** navigator.onLine. */
  readonly online: () => boolean;
  /** Web Locks and BroadcastChannel, for the tabs of one user (tabs.ts); nulls where missing. */
  readonly tabs: TabsDeps;
  /** localStorage, for recent room NAMES only (never credentials or tokens); null when unavailable. */
  readonly storage: Storage | null;
  /** Momento Topics for a token (momento.ts, the only SDK code); a fake in unit tests. */
  readonly topics: (token: VendedToken) => TopicsPort;
  /** Amazon Cognito (cognitoClient.ts), in AmazonCognito mode; null otherwise. */
  readonly cognito: CognitoPort | null;
  /** window and document, for online/offline, visibilitychange and pagehide; null in tests. */
  readonly events: {readonly window: EventTarget; readonly document: EventTarget} | null;
}

/** One-shot DOM actions a flow asks for after a change (the focus, a form emptied); the chat screen does them. */
export interface ChatActions {
  focusComposer(): void;
  /** A message went out: empty the box and keep the focus there. */
  clearComposer(): void;
  clearJoin(): void;
}

/** The effects running now. `serial` changes at every sign-in attempt and sign-out: late answers are ignored. */
export class Handles {
  serial = 0;
  signInCall: RetryingCall<CognitoAuthStep> | null = null;
  /** The sign-in's session, until its first token; then `tab` holds it (or the leading tab's token). */
  session: Session | null = null;
  /** AmazonCognito: the signed-in user's tokens (in memory only), from sign-in to sign-out. */
  identity: CognitoIdentity | null = null;
  tab: TabSession | null = null;
  hub: RoomHub | null = null;
  /** The control channel's streams (controlFlow.ts), held while this tab listens for the user's tabs. */
  control: ControlListener | null = null;
  /** Paused by the operator: asking `GET /token/explain` until the service is back (control.ts's ResumeWatch). */
  resumeWatch: ResumeWatch | null = null;
  private stops: (() => void)[] = [];

  /** Something to stop at sign-out (a ticker, a listener). */
  onStop(stop: () => void): void {
    this.stops.push(stop);
  }

  /** AmazonCognito: forget the tokens and revoke the refresh token (best effort). */
  endIdentity(): void {
    this.identity?.signOut();
    this.identity = null;
  }

  /** Stops the sign-in under way (a cancel), keeping the chat's handles (there are none yet). */
  cancelSignIn(): void {
    this.serial += 1;
    this.signInCall?.cancel();
    this.signInCall = null;
    this.session?.stop();
    this.session = null;
    this.resumeWatch?.stop();
    this.resumeWatch = null;
    this.endIdentity();
  }

  /** Stops everything (sign-out). */
  stopAll(): void {
    this.cancelSignIn();
    this.tab?.stop();
    this.tab = null;
    this.hub?.close();
    this.hub = null;
    this.control?.close();
    this.control = null;
    for (const stop of this.stops.splice(0)) {
      stop();
    }
  }
}

export class Context {
  readonly handles = new Handles();
  readonly renewal: RenewalTriggers;
  readonly waiters: TokenWaiters;
  /** The chat screen's one-shot actions (set while it is shown). */
  actions: ChatActions | null = null;

  constructor(
    readonly config: AppConfig,
    readonly deps: AppDeps,
    readonly store: Store,
  ) {
    store.observeWith(state => this.observe(state));
    const scheduler = deps.scheduler;
    this.renewal = new RenewalTriggers({
      sources: () => [this.handles.tab, this.handles.session],
      now: scheduler.now,
      checkSleep: scheduler.checkSleep,
    });
    this.waiters = new TokenWaiters(scheduler);
  }

  /** Tabs share tokens per user of one deployment (the lock and channel names include it). */
  get deployment(): string {
    return `${this.config.authMethod} ${this.config.apiUrl}`;
  }

  /** The state with what the page reads now from the parts it drives; the chat marked live the first time it is. */
  private observe(state: AppState): AppState {
    const {hub, tab, identity} = this.handles;
    const {deps} = this;
    const live: Live = {
      hidden: deps.hidden(),
      online: deps.online(),
      hubRooms: hub?.snapshot() ?? [],
      controlStreams: this.handles.control?.streams ?? 0,
      shownTabs: tab?.shownTabs ?? 1,
      received: hub?.received ?? 0,
      duplicates: hub?.duplicates ?? 0,
      resumes: hub?.resumes ?? 0,
      unreachable: hub?.unreachable ?? false,
      nextRetryAtMs: hub?.nextRetryAtMs() ?? null,
      tabRole: tab?.tabRole ?? null,
      renewals: tab?.renewals ?? 0,
      namesRooms: tab?.namesRooms ?? false,
      lastError: tab?.lastError ?? null,
      identityRefreshCount: identity?.refreshCount ?? 0,
      sleptMs: deps.scheduler.sleptMs(),
    };
    const next = {...state, live};
    const now = {session: deps.scheduler.now(), wall: deps.scheduler.wallNow()};
    return observe(next, live, connectionOf(next, now) === 'live');
  }
}

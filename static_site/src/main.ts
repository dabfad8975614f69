// Entry point: read config.js's settings, start the app, expose the read-only test hook.

import './style.css';
import {ChatApp, type ChatTestMessage, type ChatTestState} from './app';
import {lazyCognitoPort, type CognitoPort} from './cognito';
import {parseConfig, type CognitoConfig} from './config';
import type {ChannelLike, LockManagerLike, TabsDeps} from './tabs';
import {renderConfigError} from './ui';
import {followVisualViewport} from './viewport';

/**
 * `window.__chat`: a read-only view for browser tests (no credentials, no token). `state()` tells the connection
 * state, the token's expiry and id, the rooms and how many times the token was renewed, so a test can wait for a
 * renewal instead of sleeping; `messages(room?)` lists the messages shown, in order.
 */
export interface ChatTestHook {
  state(): ChatTestState;
  messages(room?: string): ChatTestMessage[];
}

declare global {
  interface Window {
    TVM_CONFIG?: unknown;
    __chat?: ChatTestHook;
  }
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/**
 * Web Locks and BroadcastChannel, for the tabs of one user (tabs.ts). navigator.locks exists in secure contexts only
 * (https, or http on localhost): elsewhere every tab is on its own.
 */
function tabs(): TabsDeps {
  const locks = (navigator as {locks?: LockManagerLike}).locks ?? null;
  const openChannel =
    typeof BroadcastChannel === 'function' ? (name: string): ChannelLike => new BroadcastChannel(name) as unknown as ChannelLike : null;
  const tabId =
    typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return {locks, openChannel, tabId};
}

/** AmazonCognito mode: the AWS SDK's chunk, fetched now (while the person types), used at sign-in. */
function cognito(config: CognitoConfig): CognitoPort {
  const port = lazyCognitoPort(() => import('./cognitoClient').then(m => m.cognitoPort(config)));
  port.preload();
  return port;
}

function boot(): void {
  const root = document.getElementById('app');
  if (root === null) {
    return;
  }
  followVisualViewport();
  const parsed = parseConfig(window.TVM_CONFIG, window.location.href);
  if (!parsed.ok) {
    renderConfigError(root, parsed.problems);
    const problems = parsed.problems;
    window.__chat = Object.freeze({
      state: (): ChatTestState => ({
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
        hidden: document.visibilityState === 'hidden',
        streams: 0,
        resumedSubscriptions: 0,
        sleptMs: 0,
        tokenValidMs: null,
        renewalsBeforePublish: 0,
        lastError: null,
        problems,
      }),
      messages: (): ChatTestMessage[] => [],
    });
    return;
  }
  const app = new ChatApp(root, parsed.config, {
    fetchFn: (input, init) => window.fetch(input, init),
    now: () => Date.now(),
    monotonicNow: () => performance.now(),
    hidden: () => document.visibilityState === 'hidden',
    tabs: tabs(),
    random: Math.random,
    storage: storage(),
    cognito: parsed.config.cognito === null ? null : cognito(parsed.config.cognito),
  });
  window.__chat = Object.freeze({
    state: () => app.testState(),
    messages: (room?: string) => app.testMessages(room),
  });
  app.start();
}

boot();

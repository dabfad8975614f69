// Entry point: read config.js's settings, start the app, expose the read-only test hook.

import './style.css';
import {lazyCognitoPort, type CognitoPort} from './cognito';
import {parseConfig, type CognitoConfig} from './config';
import {createTopicClient, topicsPort} from './momento';
import type {ChannelLike, LockManagerLike, TabsDeps} from './tabs';
import {browserScheduler} from './scheduler';
import {renderConfigError} from './signInForms';
import {startSite} from './site';
import {configErrorState, type ChatTestHook, type ChatTestMessage} from './testHook';
import {followVisualViewport} from './viewport';

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
      state: () => configErrorState(problems, document.visibilityState === 'hidden'),
      messages: (): ChatTestMessage[] => [],
    });
    return;
  }
  const momentoEndpoint = parsed.config.momentoEndpointOverride;
  const hook = startSite(root, parsed.config, {
    fetchFn: (input, init) => window.fetch(input, init),
    scheduler: browserScheduler({wall: () => Date.now(), monotonic: () => performance.now(), random: Math.random}),
    hidden: () => document.visibilityState === 'hidden',
    online: () => navigator.onLine,
    tabs: tabs(),
    storage: storage(),
    topics: token => topicsPort(createTopicClient(token.authToken, momentoEndpoint)),
    cognito: parsed.config.cognito === null ? null : cognito(parsed.config.cognito),
    events: {window, document},
  });
  // `window.__chat`: a read-only view for browser tests (no credentials, no token): testHook.ts.
  window.__chat = Object.freeze(hook);
}

boot();

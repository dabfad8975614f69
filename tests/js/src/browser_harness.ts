// Browser test harness: drives the real @gomomento/sdk-web from Playwright (page.evaluate).
//
// esbuild bundles this file into dist/harness.js (an IIFE, see package.json); harness.html loads it, and the
// Python tests call `window.harness.*`. Every function returns plain JSON-serialisable data and never throws,
// so a failed SDK call reaches the test as `{ok: false, errorCode, message}` rather than a page exception.
// Every wait is bounded: a harness promise always settles, so page.evaluate never hangs.

import {
  CacheClient,
  CacheDelete,
  CacheGet,
  CacheSet,
  Configurations,
  CredentialProvider,
  TopicClient,
  TopicConfigurations,
  TopicItem,
  TopicPublish,
  TopicSubscribe,
} from '@gomomento/sdk-web';

export interface ConnectOptions {
  /** A disposable token as returned by the token service (base64 JSON `{endpoint, api_key}`). */
  authToken: string;
  /** Full URL of the grpc-web endpoint, e.g. `http://127.0.0.1:8081`; used as-is for all three endpoints. */
  webUrl: string;
  /** Default item TTL for the cache client. */
  defaultTtlSeconds?: number;
}

export interface ReceivedItem {
  cache: string;
  topic: string;
  value: string;
  sequenceNumber: number;
  /** The publisher's token id as stamped by the server; null when the item carries none. */
  tokenId: string | null;
  /** Milliseconds since the epoch when the browser received it. */
  receivedAt: number;
}

export interface RecordedError {
  cache: string;
  topic: string;
  errorCode: string;
  message: string;
}

export type Outcome = {ok: true} | {ok: false; errorCode: string; message: string};

export type GetOutcome =
  | {ok: true; hit: true; value: string}
  | {ok: true; hit: false}
  | {ok: false; errorCode: string; message: string};

const DEFAULT_TIMEOUT_MS = 10_000;

interface State {
  topicClient: TopicClient | null;
  cacheClient: CacheClient | null;
  subscriptions: Map<string, TopicSubscribe.Subscription>;
  items: ReceivedItem[];
  errors: RecordedError[];
}

const state: State = {
  topicClient: null,
  cacheClient: null,
  subscriptions: new Map(),
  items: [],
  errors: [],
};

function failure(errorCode: string, message: string): Outcome & {ok: false} {
  return {ok: false, errorCode, message};
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Settles with `onTimeout()` if `work` has not settled within `ms`. */
function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  return new Promise<T>(resolve => {
    const timer = setTimeout(() => resolve(onTimeout()), ms);
    work.then(
      value => {
        clearTimeout(timer);
        resolve(value);
      },
      (e: unknown) => {
        clearTimeout(timer);
        resolve(failure('HARNESS_EXCEPTION', describe(e)) as T);
      },
    );
  });
}

function subscriptionKey(cache: string, topic: string): string {
  return `${cache}\u0000${topic}`;
}

function requireTopicClient(): TopicClient {
  if (state.topicClient === null) {
    throw new Error('harness.connect() has not been called');
  }
  return state.topicClient;
}

function requireCacheClient(): CacheClient {
  if (state.cacheClient === null) {
    throw new Error('harness.connect() has not been called');
  }
  return state.cacheClient;
}

/**
 * Builds the SDK clients for one identity, replacing (and unsubscribing) any previous ones. All three
 * endpoint overrides are full URLs: with `endpointOverrides` set, sdk-web uses each URL as-is when it
 * starts with http:// or https:// (otherwise it prefixes https://), instead of deriving
 * `https://web.cache.<endpoint>`. sdk-web never reads `secureConnection`.
 */
function connect(options: ConnectOptions): Outcome {
  try {
    unsubscribeAll();
    const credentialProvider = CredentialProvider.fromDisposableToken({
      authToken: options.authToken,
      endpointOverrides: {
        cacheEndpoint: options.webUrl,
        controlEndpoint: options.webUrl,
        tokenEndpoint: options.webUrl,
      },
    });
    state.topicClient = new TopicClient({
      configuration: TopicConfigurations.Browser.latest(),
      credentialProvider,
    });
    state.cacheClient = new CacheClient({
      configuration: Configurations.Browser.latest(),
      credentialProvider,
      defaultTtlSeconds: options.defaultTtlSeconds ?? 60,
    });
    return {ok: true};
  } catch (e) {
    return failure('HARNESS_EXCEPTION', describe(e));
  }
}

/**
 * Subscribes and resolves once the subscription is live (the SDK resolves on the stream's first message,
 * a heartbeat). Items and later stream errors are recorded for `items()` / `errors()`.
 */
async function subscribe(cache: string, topic: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Outcome> {
  let client: TopicClient;
  try {
    client = requireTopicClient();
  } catch (e) {
    return failure('HARNESS_EXCEPTION', describe(e));
  }
  const key = subscriptionKey(cache, topic);
  if (state.subscriptions.has(key)) {
    return failure('HARNESS_ALREADY_SUBSCRIBED', `already subscribed to ${cache}/${topic}`);
  }
  const work = client
    .subscribe(cache, topic, {
      onItem: (item: TopicItem) => {
        state.items.push({
          cache,
          topic,
          value: item.valueString(),
          sequenceNumber: item.sequenceNumber(),
          tokenId: item.tokenId() ?? null,
          receivedAt: Date.now(),
        });
      },
      onError: (error: TopicSubscribe.Error) => {
        state.errors.push({cache, topic, errorCode: error.errorCode(), message: error.message()});
        state.subscriptions.delete(key);
      },
    })
    .then((response): Outcome => {
      if (response instanceof TopicSubscribe.Subscription) {
        state.subscriptions.set(key, response);
        return {ok: true};
      }
      if (response instanceof TopicSubscribe.Error) {
        return failure(response.errorCode(), response.message());
      }
      return failure('HARNESS_UNEXPECTED_RESPONSE', String(response));
    });
  return withTimeout(work, timeoutMs, () =>
    failure('HARNESS_TIMEOUT', `subscribe(${cache}, ${topic}) did not settle within ${timeoutMs} ms`),
  );
}

async function publish(cache: string, topic: string, text: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Outcome> {
  let client: TopicClient;
  try {
    client = requireTopicClient();
  } catch (e) {
    return failure('HARNESS_EXCEPTION', describe(e));
  }
  const work = client.publish(cache, topic, text).then((response): Outcome => {
    if (response instanceof TopicPublish.Success) {
      return {ok: true};
    }
    if (response instanceof TopicPublish.Error) {
      return failure(response.errorCode(), response.message());
    }
    return failure('HARNESS_UNEXPECTED_RESPONSE', String(response));
  });
  return withTimeout(work, timeoutMs, () =>
    failure('HARNESS_TIMEOUT', `publish(${cache}, ${topic}) did not settle within ${timeoutMs} ms`),
  );
}

/** Everything received so far, optionally only for one topic. */
function items(topic?: string): ReceivedItem[] {
  return state.items.filter(item => topic === undefined || item.topic === topic);
}

/** Resolves with the received items once at least `count` have arrived (for `topic` if given), or at the timeout. */
async function waitForItems(count: number, topic?: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReceivedItem[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = items(topic);
    if (current.length >= count || Date.now() >= deadline) {
      return current;
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

function errors(): RecordedError[] {
  return [...state.errors];
}

/** Ends every live subscription; returns how many there were. */
function unsubscribeAll(): number {
  const count = state.subscriptions.size;
  for (const subscription of state.subscriptions.values()) {
    subscription.unsubscribe();
  }
  state.subscriptions.clear();
  return count;
}

/** Forgets received items and errors (subscriptions stay). */
function clear(): void {
  state.items = [];
  state.errors = [];
}

async function cacheSet(
  cache: string,
  key: string,
  value: string,
  ttlSeconds?: number,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Outcome> {
  let client: CacheClient;
  try {
    client = requireCacheClient();
  } catch (e) {
    return failure('HARNESS_EXCEPTION', describe(e));
  }
  const options = ttlSeconds === undefined ? undefined : {ttl: ttlSeconds};
  const work = client.set(cache, key, value, options).then((response): Outcome => {
    if (response instanceof CacheSet.Success) {
      return {ok: true};
    }
    if (response instanceof CacheSet.Error) {
      return failure(response.errorCode(), response.message());
    }
    return failure('HARNESS_UNEXPECTED_RESPONSE', String(response));
  });
  return withTimeout(work, timeoutMs, () => failure('HARNESS_TIMEOUT', `cacheSet(${cache}, ${key}) timed out`));
}

async function cacheGet(cache: string, key: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<GetOutcome> {
  let client: CacheClient;
  try {
    client = requireCacheClient();
  } catch (e) {
    return failure('HARNESS_EXCEPTION', describe(e));
  }
  const work = client.get(cache, key).then((response): GetOutcome => {
    if (response instanceof CacheGet.Hit) {
      return {ok: true, hit: true, value: response.valueString()};
    }
    if (response instanceof CacheGet.Miss) {
      return {ok: true, hit: false};
    }
    if (response instanceof CacheGet.Error) {
      return failure(response.errorCode(), response.message());
    }
    return failure('HARNESS_UNEXPECTED_RESPONSE', String(response));
  });
  return withTimeout<GetOutcome>(work, timeoutMs, () =>
    failure('HARNESS_TIMEOUT', `cacheGet(${cache}, ${key}) timed out`),
  );
}

async function cacheDelete(cache: string, key: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Outcome> {
  let client: CacheClient;
  try {
    client = requireCacheClient();
  } catch (e) {
    return failure('HARNESS_EXCEPTION', describe(e));
  }
  const work = client.delete(cache, key).then((response): Outcome => {
    if (response instanceof CacheDelete.Success) {
      return {ok: true};
    }
    if (response instanceof CacheDelete.Error) {
      return failure(response.errorCode(), response.message());
    }
    return failure('HARNESS_UNEXPECTED_RESPONSE', String(response));
  });
  return withTimeout(work, timeoutMs, () => failure('HARNESS_TIMEOUT', `cacheDelete(${cache}, ${key}) timed out`));
}

const harness = {
  connect,
  subscribe,
  publish,
  items,
  waitForItems,
  errors,
  unsubscribeAll,
  clear,
  cacheSet,
  cacheGet,
  cacheDelete,
};

declare global {
  interface Window {
    harness: typeof harness;
    harnessReady: boolean;
  }
}

window.harness = harness;
window.harnessReady = true;

// The one place that touches the Momento SDK: building a TopicClient for a token, and adapting it to rooms.ts.

import {
  CredentialProvider,
  DefaultMomentoLoggerFactory,
  DefaultMomentoLoggerLevel,
  TopicClient,
  TopicConfigurations,
  TopicPublish,
  TopicSubscribe,
  type TopicDiscontinuity,
  type TopicItem,
} from './sdk';
import {SubscriptionState} from '@gomomento/sdk-core/dist/src/internal/subscription-state';
import type {PortHandlers, PortResult, ResumePoint, SubscribeResult, TopicsPort} from './rooms';

const loggerFactory = new DefaultMomentoLoggerFactory(DefaultMomentoLoggerLevel.WARN);

/**
 * A TopicClient for one disposable token. With `endpointOverride` (the local emulator, e.g. http://127.0.0.1:8081)
 * all three endpoint overrides are that URL: it is the only way sdk-web uses a plaintext URL as is. Without it the
 * SDK derives `https://web.cache.<endpoint>` from the token (production).
 */
export function createTopicClient(authToken: string, endpointOverride: string | null): TopicClient {
  const credentialProvider =
    endpointOverride === null
      ? CredentialProvider.fromDisposableToken({authToken})
      : CredentialProvider.fromDisposableToken({
          authToken,
          endpointOverrides: {
            cacheEndpoint: endpointOverride,
            controlEndpoint: endpointOverride,
            tokenEndpoint: endpointOverride,
          },
        });
  return new TopicClient({
    configuration: TopicConfigurations.Browser.latest(loggerFactory),
    credentialProvider,
  });
}

/**
 * The sequence page of the last item a subscription delivered. sdk-web 1.118.0 does not expose it on TopicItem,
 * but records it in the subscription's state just before calling onItem; read it defensively (null if absent), so
 * dedupe can tell a new page (the service restarted) from a replay even without a discontinuity.
 */
function lastSequencePage(subscription: TopicSubscribe.Subscription | null): number | null {
  if (subscription === null) {
    return null;
  }
  const state = (subscription as unknown as {subscriptionState?: {lastTopicSequencePage?: unknown}}).subscriptionState;
  const page = state?.lastTopicSequencePage;
  return typeof page === 'number' && Number.isFinite(page) ? page : null;
}

/**
 * Calls `onRestart` whenever sdk-web restarts the subscription's stream by itself. sdk-web 1.118.0 does that
 * silently (every 500 ms while the service is unreachable), but each restart stores a new cancel function through
 * the `unsubscribeFn` setter of the subscription's state; wrap that setter on this one instance. If the SDK's
 * internals differ, nothing is wrapped and the hub's watchdog still notices a silent stream.
 */
function watchRestarts(subscription: TopicSubscribe.Subscription, onRestart: () => void): void {
  const state = (subscription as unknown as {subscriptionState?: unknown}).subscriptionState;
  if (typeof state !== 'object' || state === null) {
    return;
  }
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(state), 'unsubscribeFn')?.set;
  if (setter === undefined) {
    return;
  }
  Object.defineProperty(state, 'unsubscribeFn', {
    configurable: true,
    set(fn: unknown) {
      setter.call(this, fn);
      onRestart();
    },
  });
}

/** The subscribe options sdk-web's stream client takes (sdk-core's SendSubscribeOptions, 1.118.0). */
interface SendSubscribeOptions {
  cacheName: string;
  topicName: string;
  onItem: (item: TopicItem) => void;
  onError: (error: TopicSubscribe.Error, subscription: TopicSubscribe.Subscription) => void;
  onDiscontinuity: (discontinuity: TopicDiscontinuity) => void;
  onHeartbeat: () => void;
  onConnectionLost: () => void;
  onSubscriptionEnd: () => void;
  subscriptionState: SubscriptionState;
  subscription: TopicSubscribe.Subscription;
  restartedDueToError: boolean;
  firstMessage: boolean;
}

/**
 * A subscription that starts right after `resume` (Momento replays from there, or announces a discontinuity), or null
 * when sdk-web's internals are not what this was written for (then the caller subscribes at the live end).
 *
 * sdk-web 1.118.0's public subscribe always starts at the live end, but its stream client resumes by itself after a
 * dropped stream, from the sequence number in the subscription's state: the same call with a state that already holds
 * the mark. Its promise settles only on a first message when not resuming, so this one settles on the first sign of
 * the stream (an item, a heartbeat, a discontinuity) or on an error before it.
 */
function subscribeFrom(
  client: TopicClient,
  cache: string,
  topic: string,
  handlers: PortHandlers,
  resume: ResumePoint,
  onSubscription: (subscription: TopicSubscribe.Subscription) => void,
): Promise<SubscribeResult> | null {
  const streams = (client as unknown as {pubsubStreamClients?: {client?: unknown}[]}).pubsubStreamClients;
  const stream = streams?.[0]?.client as {sendSubscribe?: (options: SendSubscribeOptions) => Promise<unknown>} | undefined;
  if (stream === undefined || typeof stream.sendSubscribe !== 'function') {
    return null;
  }
  const state = new SubscriptionState();
  state.lastTopicSequenceNumber = resume.sequenceNumber - 1;
  state.lastTopicSequencePage = resume.page;
  const subscription = new TopicSubscribe.Subscription(loggerFactory, state);
  onSubscription(subscription);
  return new Promise<SubscribeResult>(resolve => {
    let started = false;
    const start = (): void => {
      if (!started) {
        started = true;
        watchRestarts(subscription, () => handlers.onRestart());
        resolve({ok: true, subscription});
      }
    };
    const options: SendSubscribeOptions = {
      cacheName: cache,
      topicName: topic,
      onItem: item => {
        start();
        handlers.onItem({
          value: item.valueString(),
          sequenceNumber: item.sequenceNumber(),
          page: lastSequencePage(subscription),
          tokenId: item.tokenId() ?? '',
        });
      },
      onError: error => {
        if (started) {
          handlers.onError(error.errorCode(), error.message());
        } else {
          started = true;
          subscription.unsubscribe();
          resolve({ok: false, code: error.errorCode(), message: error.message()});
        }
      },
      onDiscontinuity: d => {
        start();
        handlers.onDiscontinuity(d.newSequenceNumber(), d.newSequencePage());
      },
      onHeartbeat: () => {
        start();
        handlers.onHeartbeat();
      },
      onConnectionLost: () => undefined,
      onSubscriptionEnd: () => undefined,
      subscriptionState: state,
      subscription,
      restartedDueToError: false,
      firstMessage: false,
    };
    stream.sendSubscribe?.(options).catch(() => {
      if (!started) {
        started = true;
        resolve({ok: false, code: 'UNKNOWN', message: 'The subscription could not start.'});
      }
    });
  });
}

/** Adapts a TopicClient (one token) to the hub's TopicsPort. */
export function topicsPort(client: TopicClient): TopicsPort {
  return {
    async subscribe(cache: string, topic: string, handlers: PortHandlers, resume: ResumePoint | null): Promise<SubscribeResult> {
      let subscription: TopicSubscribe.Subscription | null = null;
      const resumed =
        resume === null
          ? null
          : subscribeFrom(client, cache, topic, handlers, resume, s => {
              subscription = s;
            });
      if (resumed !== null) {
        return resumed;
      }
      const response = await client.subscribe(cache, topic, {
        onItem: (item: TopicItem) =>
          handlers.onItem({
            value: item.valueString(),
            sequenceNumber: item.sequenceNumber(),
            page: lastSequencePage(subscription),
            tokenId: item.tokenId() ?? '',
          }),
        onError: (error: TopicSubscribe.Error) => handlers.onError(error.errorCode(), error.message()),
        onDiscontinuity: (d: TopicDiscontinuity) => handlers.onDiscontinuity(d.newSequenceNumber(), d.newSequencePage()),
        onHeartbeat: () => handlers.onHeartbeat(),
      });
      if (response instanceof TopicSubscribe.Subscription) {
        subscription = response;
        watchRestarts(response, () => handlers.onRestart());
        return {ok: true, subscription: response};
      }
      if (response instanceof TopicSubscribe.Error) {
        return {ok: false, code: response.errorCode(), message: response.message()};
      }
      return {ok: false, code: 'UNKNOWN', message: 'Unexpected subscribe response.'};
    },
    async publish(cache: string, topic: string, value: string): Promise<PortResult> {
      const response = await client.publish(cache, topic, value);
      if (response instanceof TopicPublish.Success) {
        return {ok: true};
      }
      if (response instanceof TopicPublish.Error) {
        return {ok: false, code: response.errorCode(), message: response.message()};
      }
      return {ok: false, code: 'UNKNOWN', message: 'Unexpected publish response.'};
    },
  };
}

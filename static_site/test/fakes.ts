// Test doubles: a manual clock with timers, and a fake Momento topics service.

import type {PortHandlers, PortResult, SubscribeResult, SubscriptionLike, TopicsPort} from '../src/rooms';

export class FakeClock {
  now = 1_000_000;
  private timers = new Map<number, {at: number; fn: () => void}>();
  private nextId = 1;

  readonly setTimer = (fn: () => void, ms: number): number => {
    const id = this.nextId++;
    this.timers.set(id, {at: this.now + Math.max(0, ms), fn});
    return id;
  };

  readonly clearTimer = (id: number): void => {
    this.timers.delete(id);
  };

  pending(): number {
    return this.timers.size;
  }

  /** Runs every timer due within `ms`, in order, letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await flush();
      let next: [number, {at: number; fn: () => void}] | null = null;
      for (const entry of this.timers) {
        if (entry[1].at <= end && (next === null || entry[1].at < next[1].at)) {
          next = entry;
        }
      }
      if (next === null) {
        break;
      }
      this.timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
    }
    this.now = end;
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise<void>(resolve => setTimeout(resolve, 0));
  }
}

export class FakeSubscription implements SubscriptionLike {
  isSubscribed = true;
  unsubscribe(): void {
    this.isSubscribed = false;
  }
}

export interface FakeStream {
  readonly port: FakePort;
  readonly topic: string;
  readonly handlers: PortHandlers;
  readonly subscription: FakeSubscription;
  settle(result?: SubscribeResult): void;
}

/** One token's client. `hold` keeps subscribes pending until settled by hand. */
export class FakePort implements TopicsPort {
  readonly streams: FakeStream[] = [];
  readonly published: {topic: string; value: string}[] = [];
  hold = false;
  failWith: {code: string; message: string} | null = null;
  publishResult: PortResult = {ok: true};

  constructor(readonly name: string) {}

  subscribe(_cache: string, topic: string, handlers: PortHandlers): Promise<SubscribeResult> {
    return new Promise(resolve => {
      const subscription = new FakeSubscription();
      const stream: FakeStream = {
        port: this,
        topic,
        handlers,
        subscription,
        settle: (result?: SubscribeResult) => resolve(result ?? {ok: true, subscription}),
      };
      this.streams.push(stream);
      if (this.failWith !== null) {
        subscription.isSubscribed = false;
        resolve({ok: false, ...this.failWith});
      } else if (!this.hold) {
        handlers.onHeartbeat();
        stream.settle();
      }
    });
  }

  async publish(_cache: string, topic: string, value: string): Promise<PortResult> {
    this.published.push({topic, value});
    return this.publishResult;
  }

  open(topic: string): FakeStream[] {
    return this.streams.filter(s => s.topic === topic && s.subscription.isSubscribed);
  }
}

/** Delivers one message to every open stream of `topic` on the given ports (what Momento does). */
export function deliver(
  ports: readonly FakePort[],
  topic: string,
  sequenceNumber: number,
  page: number | null = null,
  tokenId = 'alice',
): void {
  for (const port of ports) {
    for (const stream of port.open(topic)) {
      stream.handlers.onItem({value: `m${sequenceNumber}`, sequenceNumber, page, tokenId});
    }
  }
}

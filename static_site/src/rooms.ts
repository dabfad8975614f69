// Room subscriptions: one live Momento subscription per room in use, moved to each new token without losing or
// repeating a message, restarted with backoff when it fails, and watched for silent death.
//
// - On a new token (setClient), every room is resubscribed on the new client one room at a time; the old
//   subscription is closed only once the new one is live, so nothing published meanwhile is missed, and what both
//   deliver is dropped by dedupe.ts. One subscribe at a time also keeps the connection count within the browser's
//   per-origin limit (LIVE_ROOM_BUDGET + 1, plus one for publishing).
// - A subscription error retries with exponential backoff and jitter; an authentication error asks for a new token
//   (onAuthError) and the resubscription happens on it; a permission error marks the room denied.
// - sdk-web retries dropped streams by itself, silently, and may give up without calling onError (a stream that
//   fails before its first item). Its restarts are reported (onRestart) and mark the room reconnecting until the
//   new stream's first heartbeat; a watchdog (tick) notices ended or silent subscriptions and replaces them.
// - Failed attempts to reach the service are counted across rooms (a subscribe or publish that could not reach it,
//   a stream that ended or was restarted by the SDK) until any sign of life: after UNREACHABLE_AFTER_FAILURES in a
//   row, with no stream healthy, `unreachable` is true, so the page can say so instead of "Reconnecting…" forever.
//   Retries go on by themselves meanwhile, and the first stream that speaks again retries every waiting room.
//
// - A room dropped from the rooms to keep (a hidden tab keeps none, a room pushed out of the budget) leaves its mark
//   (sequence page and number) behind; when it comes back, its first subscription resumes right after that mark
//   (Momento replays what it still holds, or announces a discontinuity), so nothing published meanwhile is lost and
//   nothing is shown twice. A room that is left (forget) drops its mark.
//
// This module only knows the TopicsPort interface below; momento.ts adapts the SDK's TopicClient to it.

import {backoffDelayMs, type BackoffOptions} from './backoff';
import {admit, discontinuity, FRESH, type DedupeState} from './dedupe';

export interface SubscriptionLike {
  unsubscribe(): void;
  readonly isSubscribed: boolean;
}

export interface PortItem {
  readonly value: string;
  readonly sequenceNumber: number;
  /** The item's sequence page when the SDK lets us know it, else null. */
  readonly page: number | null;
  readonly tokenId: string;
}

export interface PortHandlers {
  onItem(item: PortItem): void;
  onError(code: string, message: string): void;
  onDiscontinuity(newSequenceNumber: number, newPage: number): void;
  onHeartbeat(): void;
  /** The SDK restarted the stream by itself (it does so silently after a network error). */
  onRestart(): void;
}

export type PortResult = {readonly ok: true} | {readonly ok: false; readonly code: string; readonly message: string};
export type SubscribeResult =
  | {readonly ok: true; readonly subscription: SubscriptionLike}
  | {readonly ok: false; readonly code: string; readonly message: string};

/** Where a subscription resumes: the first sequence number wanted, on that sequence page (0: unknown). */
export interface ResumePoint {
  readonly sequenceNumber: number;
  readonly page: number;
}

/** What the hub needs from a Momento topic client (bound to one token). */
export interface TopicsPort {
  /** `resume`: start right after a mark instead of at the live end of the topic (null: the live end). */
  subscribe(cache: string, topic: string, handlers: PortHandlers, resume: ResumePoint | null): Promise<SubscribeResult>;
  publish(cache: string, topic: string, value: string): Promise<PortResult>;
}

export const AUTHENTICATION_ERROR = 'AUTHENTICATION_ERROR';
export const PERMISSION_ERROR = 'PERMISSION_ERROR';
/** Error codes that mean "the service could not be reached" rather than "the service said no". */
export const TRANSPORT_ERRORS: ReadonlySet<string> = new Set([
  'SERVER_UNAVAILABLE',
  'UNKNOWN_SERVICE_ERROR',
  'TIMEOUT_ERROR',
  'CONNECTION_ERROR',
  'INTERNAL_SERVER_ERROR',
  'UNKNOWN_ERROR',
  'UNKNOWN',
]);

export type RoomStatus = 'waiting' | 'subscribing' | 'live' | 'reconnecting' | 'denied';

export interface ReceivedItem {
  readonly room: string;
  readonly sequenceNumber: number;
  readonly page: number | null;
  readonly tokenId: string;
  readonly value: string;
  readonly receivedAtMs: number;
}

export interface HubEvents {
  onMessage(item: ReceivedItem): void;
  onRoomStatus(room: string, status: RoomStatus, detail: string | null): void;
  /** Momento rejected the token: get a new one (the hub resubscribes when setClient brings it). */
  onAuthError(): void;
}

export interface HubDeps {
  readonly now: () => number;
  readonly random: () => number;
  readonly setTimer: (fn: () => void, ms: number) => number;
  readonly clearTimer: (id: number) => void;
}

/**
 * Resubscription backoff. The ceiling is lower than the TVM's (30 s): while a room is between attempts its messages
 * are missed (a new subscription starts at the live end of the topic), and sdk-web itself retries a broken stream
 * every 500 ms. Any sign that the service is back (another stream's heartbeat, a successful publish or subscribe)
 * retries waiting rooms at once anyway.
 */
export const SUBSCRIBE_BACKOFF: BackoffOptions = {baseMs: 500, capMs: 5_000};

/** Failed attempts in a row to reach the service (with no stream healthy) after which it counts as unreachable. */
export const UNREACHABLE_AFTER_FAILURES = 2;

/** Marks kept for rooms not subscribed now (the oldest is dropped beyond this). */
const MAX_MARKS = 32;

/** A subscribe that has not settled after this long is abandoned and retried. */
export const SUBSCRIBE_TIMEOUT_MS = 15_000;
/**
 * Silence that counts as a stalled stream before a heartbeat cadence has been seen. Momento promises no cadence,
 * so this is generous; a broken connection is noticed sooner through the SDK's restarts and failed publishes.
 */
export const DEFAULT_STALE_MS = 60_000;

export interface RoomSnapshot {
  readonly room: string;
  readonly status: RoomStatus;
  readonly detail: string | null;
  /** Subscriptions currently open for the room (2 briefly while moving to a new token). */
  readonly subscriptions: number;
}

interface Handle {
  readonly id: number;
  readonly generation: number;
  state: 'pending' | 'live' | 'closed';
  subscription: SubscriptionLike | null;
  lastActivityAt: number;
  lastBeatAt: number | null;
  beatGapMs: number | null;
  /** The sequence page this stream is on, learnt from a discontinuity or from its items. */
  page: number | null;
  replaceRequested: boolean;
  /** This stream resumed after a mark (so its room's mark is kept when it goes live). */
  readonly resumed: boolean;
  /**
   * The stream was restarted by the SDK, or a publish failed to reach the service, since its last sign of life:
   * not trusted until it delivers something (every new stream starts with a heartbeat).
   */
  suspect: boolean;
}

interface Link {
  readonly room: string;
  handles: Handle[];
  dedupe: DedupeState;
  failures: number;
  retryTimer: number | null;
  /** When the waiting retry is due (local ms), while retryTimer is set. */
  retryAtMs: number;
  /** The last failure was the service being unreachable (so any sign of it being back is worth a retry). */
  unreachable: boolean;
  denied: string | null;
  everLive: boolean;
  status: RoomStatus;
  detail: string | null;
  /** The room came back with a mark: subscribe from it (until a subscription goes live). */
  resumeNext: boolean;
}

/** How long a stream may stay silent before it counts as stalled: 3 heartbeat gaps, within [6 s, 90 s]. */
export function staleAfterMs(beatGapMs: number | null): number {
  return beatGapMs === null ? DEFAULT_STALE_MS : Math.min(90_000, Math.max(6_000, 3 * beatGapMs));
}

export class RoomHub {
  private port: TopicsPort | null = null;
  private cache = '';
  private generation = 0;
  private allowed: (room: string) => boolean = () => false;
  private readonly links = new Map<string, Link>();
  /** Where each room not subscribed now stopped (for a resume when it is subscribed again). */
  private readonly marks = new Map<string, DedupeState>();
  private order: string[] = [];
  private queue: string[] = [];
  private busy = false;
  private nextId = 1;
  private closed = false;
  private liveWaiters: {room: string; resolve: (live: boolean) => void}[] = [];
  /** Attempts in a row that could not reach the service, since its last sign of life. */
  private transportFailures = 0;
  /** Items shown, and items dropped as duplicates (for the test hook). */
  received = 0;
  duplicates = 0;
  /** Subscriptions started from a mark (for the test hook). */
  resumes = 0;

  constructor(
    private readonly events: HubEvents,
    private readonly deps: HubDeps,
  ) {}

  /** A new token: resubscribe every room on `port` (old subscriptions close once their replacement is live). */
  setClient(port: TopicsPort, cache: string, allowed: (room: string) => boolean): void {
    this.port = port;
    this.cache = cache;
    this.allowed = allowed;
    this.generation += 1;
    for (const room of this.order) {
      const link = this.links.get(room);
      if (link === undefined) {
        continue;
      }
      this.cancelRetry(link);
      if (!allowed(room)) {
        this.closeHandles(link);
        link.denied = 'Your account may not read this room.';
      } else {
        link.denied = null;
        this.enqueue(link);
      }
      this.refreshStatus(link);
    }
    this.pump();
  }

  /** The rooms to keep subscribed, most important first. Rooms not listed are unsubscribed. */
  setRooms(rooms: readonly string[]): void {
    this.order = [...new Set(rooms)];
    for (const [room, link] of this.links) {
      if (!this.order.includes(room)) {
        this.cancelRetry(link);
        this.closeHandles(link);
        this.links.delete(room);
        this.keepMark(room, link.dedupe);
      }
    }
    this.queue = this.queue.filter(room => this.links.has(room));
    for (const room of this.order) {
      let link = this.links.get(room);
      if (link === undefined) {
        link = {
          room,
          handles: [],
          dedupe: FRESH,
          failures: 0,
          retryTimer: null,
          retryAtMs: 0,
          unreachable: false,
          denied: null,
          everLive: false,
          status: 'waiting',
          detail: null,
          resumeNext: false,
        };
        const mark = this.marks.get(room);
        if (mark !== undefined) {
          this.marks.delete(room);
          link.dedupe = mark;
          link.resumeNext = true;
        }
        this.links.set(room, link);
        if (this.port !== null && !this.allowed(room)) {
          link.denied = 'Your account may not read this room.';
        }
        this.enqueue(link);
        this.refreshStatus(link, true);
      }
    }
    this.pump();
  }

  /** The room was left: forget where it stopped (joining it again starts at the live end). */
  forget(room: string): void {
    this.marks.delete(room);
  }

  /** Publishes on the newest client. */
  async publish(room: string, value: string): Promise<PortResult> {
    const port = this.port;
    if (port === null || this.closed) {
      return {ok: false, code: 'NOT_CONNECTED', message: 'Not connected yet.'};
    }
    const result = await port.publish(this.cache, room, value);
    if (!result.ok && result.code === AUTHENTICATION_ERROR) {
      this.events.onAuthError();
    }
    if (result.ok) {
      this.serviceReachable();
    } else if (TRANSPORT_ERRORS.has(result.code)) {
      this.transportFailures += 1;
      // sdk-web retries broken streams silently; a publish that cannot reach the service is the first sign.
      // Distrust every stream until it delivers something again (a heartbeat at the latest).
      for (const link of this.links.values()) {
        for (const handle of link.handles) {
          handle.suspect = true;
        }
        this.refreshStatus(link);
      }
    }
    return result;
  }

  /** Retry every waiting room now (e.g. the browser came back online). */
  retryNow(): void {
    for (const link of this.links.values()) {
      if (link.retryTimer !== null) {
        this.cancelRetry(link);
        link.failures = 0;
        this.enqueue(link);
      }
    }
    this.pump();
  }

  /**
   * Momento cannot be reached: the last UNREACHABLE_AFTER_FAILURES attempts in a row (subscribes, the SDK's own
   * stream restarts, publishes) did not reach it, and no room has a healthy stream. Any sign of life clears it.
   */
  get unreachable(): boolean {
    if (this.transportFailures < UNREACHABLE_AFTER_FAILURES) {
      return false;
    }
    return ![...this.links.values()].some(link => link.handles.some(h => this.isHealthy(h)));
  }

  /** When the next resubscription attempt is due (local ms), or null when none is waiting for its time. */
  nextRetryAtMs(): number | null {
    let next: number | null = null;
    for (const link of this.links.values()) {
      if (link.retryTimer !== null && (next === null || link.retryAtMs < next)) {
        next = link.retryAtMs;
      }
    }
    return next;
  }

  /** The service answered: rooms waiting to retry after it was unreachable retry now rather than at their time. */
  private serviceReachable(): void {
    this.transportFailures = 0;
    let any = false;
    for (const link of this.links.values()) {
      if (link.retryTimer !== null && link.unreachable) {
        this.cancelRetry(link);
        link.unreachable = false;
        this.enqueue(link);
        any = true;
      }
    }
    if (any) {
      this.pump();
    }
  }

  /** The watchdog; call about once a second. */
  tick(): void {
    const now = this.deps.now();
    for (const link of this.links.values()) {
      for (const handle of [...link.handles]) {
        if (handle.state !== 'live') {
          continue;
        }
        if (handle.subscription !== null && !handle.subscription.isSubscribed) {
          // sdk-web gave up on this stream without telling us.
          this.dropHandle(link, handle);
          this.afterFailure(link, 'SERVER_UNAVAILABLE', 'The subscription ended.');
          continue;
        }
        const silent = now - handle.lastActivityAt;
        if (silent > 2 * staleAfterMs(handle.beatGapMs) && !handle.replaceRequested) {
          handle.replaceRequested = true;
          this.enqueue(link);
        }
      }
      this.refreshStatus(link);
    }
    this.pump();
  }

  /** Unsubscribes everything and stops. */
  close(): void {
    this.closed = true;
    for (const link of this.links.values()) {
      this.cancelRetry(link);
      this.closeHandles(link);
    }
    this.links.clear();
    this.marks.clear();
    this.queue = [];
    this.port = null;
    for (const waiter of [...this.liveWaiters]) {
      waiter.resolve(false);
    }
  }

  snapshot(): RoomSnapshot[] {
    return this.order.flatMap(room => {
      const link = this.links.get(room);
      return link === undefined
        ? []
        : [
            {
              room,
              status: link.status,
              detail: link.detail,
              subscriptions: link.handles.filter(h => h.state === 'live').length,
            },
          ];
    });
  }

  /** Resolves true once `room` is live (at once if it is), false after `timeoutMs` or on close. */
  whenLive(room: string, timeoutMs: number): Promise<boolean> {
    if (this.isLive(room)) {
      return Promise.resolve(true);
    }
    return new Promise(resolve => {
      const waiter = {
        room,
        resolve: (live: boolean): void => {
          this.deps.clearTimer(timer);
          this.liveWaiters = this.liveWaiters.filter(w => w !== waiter);
          resolve(live);
        },
      };
      const timer = this.deps.setTimer(() => waiter.resolve(false), timeoutMs);
      this.liveWaiters.push(waiter);
    });
  }

  /** Whether a room has a healthy live subscription. */
  isLive(room: string): boolean {
    return this.links.get(room)?.status === 'live';
  }

  // --- internals -------------------------------------------------------------------------------------------

  private keepMark(room: string, mark: DedupeState): void {
    if (mark.highWater <= 0) {
      return; // nothing shown yet: the live end is as good
    }
    this.marks.delete(room);
    this.marks.set(room, mark);
    for (const oldest of this.marks.keys()) {
      if (this.marks.size <= MAX_MARKS) {
        break;
      }
      this.marks.delete(oldest);
    }
  }

  private isHealthy(handle: Handle): boolean {
    return (
      handle.state === 'live' &&
      !handle.suspect &&
      handle.subscription?.isSubscribed !== false &&
      this.deps.now() - handle.lastActivityAt <= staleAfterMs(handle.beatGapMs)
    );
  }

  private needsSubscription(link: Link): boolean {
    if (this.port === null || this.closed || link.denied !== null || link.retryTimer !== null) {
      return false;
    }
    return !link.handles.some(
      h => h.generation === this.generation && (h.state === 'pending' || (h.state === 'live' && !h.replaceRequested)),
    );
  }

  private enqueue(link: Link): void {
    if (!this.queue.includes(link.room)) {
      this.queue.push(link.room);
    }
  }

  private pump(): void {
    while (!this.busy && this.queue.length > 0) {
      // Most important room first.
      this.queue.sort((a, b) => this.order.indexOf(a) - this.order.indexOf(b));
      const room = this.queue.shift();
      const link = room === undefined ? undefined : this.links.get(room);
      if (link !== undefined && this.needsSubscription(link)) {
        this.startSubscription(link);
      }
    }
  }

  private startSubscription(link: Link): void {
    const port = this.port;
    if (port === null) {
      return;
    }
    const now = this.deps.now();
    // A sequence page is a 64-bit number, which JavaScript holds exactly only up to 2^53: a page read as a rounded
    // number would not be the topic's, and the resume would start at the live end. Page 0 means "the current page".
    const page = link.dedupe.page;
    const resume: ResumePoint | null =
      link.resumeNext && link.dedupe.highWater > 0
        ? {sequenceNumber: link.dedupe.highWater + 1, page: page !== null && Number.isSafeInteger(page) ? page : 0}
        : null;
    if (resume !== null) {
      this.resumes += 1;
    }
    const handle: Handle = {
      id: this.nextId++,
      generation: this.generation,
      state: 'pending',
      subscription: null,
      lastActivityAt: now,
      lastBeatAt: null,
      beatGapMs: null,
      page: resume === null ? null : link.dedupe.page,
      replaceRequested: false,
      resumed: resume !== null,
      suspect: false,
    };
    link.handles.push(handle);
    this.busy = true;
    this.refreshStatus(link);

    let settled = false;
    const settle = (): boolean => {
      if (settled) {
        return false;
      }
      settled = true;
      this.deps.clearTimer(timeout);
      this.busy = false;
      return true;
    };
    const timeout = this.deps.setTimer(() => {
      if (settle()) {
        this.dropHandle(link, handle);
        this.afterFailure(link, 'TIMEOUT', 'Subscribing took too long.');
        this.pump();
      }
    }, SUBSCRIBE_TIMEOUT_MS);

    const handlers: PortHandlers = {
      onItem: item => this.onItem(link, handle, item),
      onError: (code, message) => {
        if (handle.state !== 'closed' && this.links.get(link.room) === link) {
          this.dropHandle(link, handle);
          this.afterFailure(link, code, message);
          this.pump();
        }
      },
      onDiscontinuity: (newSequenceNumber, newPage) => {
        if (handle.state === 'closed') {
          return;
        }
        this.touch(handle);
        handle.page = newPage;
        link.dedupe = discontinuity(link.dedupe, newSequenceNumber, newPage);
      },
      onHeartbeat: () => {
        if (handle.state === 'closed') {
          return;
        }
        const now = this.deps.now();
        if (handle.lastBeatAt !== null) {
          const gap = now - handle.lastBeatAt;
          handle.beatGapMs = handle.beatGapMs === null ? gap : Math.max(gap, 0.5 * handle.beatGapMs + 0.5 * gap);
        }
        handle.lastBeatAt = now;
        this.touch(handle);
        this.refreshStatus(link);
      },
      onRestart: () => {
        if (handle.state === 'live') {
          // The SDK restarts a stream that broke, and again every 500 ms while each new one fails: each restart
          // without a sign of life in between is a failed attempt to reach the service.
          this.transportFailures += 1;
          handle.suspect = true;
          this.refreshStatus(link);
        }
      },
    };

    port.subscribe(this.cache, link.room, handlers, resume).then(
      result => {
        if (!settle()) {
          // Timed out already: whatever arrived late is not wanted.
          if (result.ok) {
            result.subscription.unsubscribe();
          }
          return;
        }
        if (!result.ok) {
          this.dropHandle(link, handle);
          this.afterFailure(link, result.code, result.message);
        } else if (handle.state === 'closed' || this.closed || this.links.get(link.room) !== link) {
          result.subscription.unsubscribe();
        } else {
          this.onLive(link, handle, result.subscription);
        }
        this.pump();
      },
      (error: unknown) => {
        if (settle()) {
          this.dropHandle(link, handle);
          this.afterFailure(link, 'UNKNOWN', String(error));
          this.pump();
        }
      },
    );
  }

  private onLive(link: Link, handle: Handle, subscription: SubscriptionLike): void {
    handle.subscription = subscription;
    handle.state = 'live';
    this.touch(handle);
    const others = link.handles.filter(h => h !== handle);
    if (!others.some(h => this.isHealthy(h)) && !handle.resumed) {
      // No other stream delivers this room, so nothing can arrive twice: a fresh subscription replays nothing.
      // Starting afresh also forgets a mark from a page that no longer exists (the service restarted). A resumed
      // one keeps its mark: it replays from there.
      link.dedupe = FRESH;
    }
    link.resumeNext = false;
    for (const other of others) {
      this.dropHandle(link, other);
    }
    link.failures = 0;
    link.everLive = true;
    this.refreshStatus(link);
  }

  private onItem(link: Link, handle: Handle, item: PortItem): void {
    if (handle.state === 'closed') {
      return;
    }
    this.touch(handle);
    if (item.page !== null) {
      handle.page = item.page;
    }
    const verdict = admit(link.dedupe, item.sequenceNumber, handle.page);
    link.dedupe = verdict.state;
    if (!verdict.accept) {
      this.duplicates += 1;
      return;
    }
    this.received += 1;
    this.events.onMessage({
      room: link.room,
      sequenceNumber: item.sequenceNumber,
      page: handle.page,
      tokenId: item.tokenId,
      value: item.value,
      receivedAtMs: this.deps.now(),
    });
  }

  private afterFailure(link: Link, code: string, message: string): void {
    if (this.closed || this.links.get(link.room) !== link) {
      return;
    }
    if (code === PERMISSION_ERROR) {
      link.denied = message === '' ? 'Your account may not read this room.' : message;
      this.refreshStatus(link);
      return;
    }
    if (code === AUTHENTICATION_ERROR) {
      this.events.onAuthError();
    }
    link.unreachable = TRANSPORT_ERRORS.has(code) || code === 'TIMEOUT';
    if (link.unreachable) {
      this.transportFailures += 1;
    }
    if (link.handles.some(h => h.generation === this.generation && this.isHealthy(h))) {
      this.refreshStatus(link);
      return; // another stream on the current token still delivers the room
    }
    this.scheduleRetry(link);
    this.refreshStatus(link);
  }

  private scheduleRetry(link: Link): void {
    if (link.retryTimer !== null) {
      return;
    }
    const delay = backoffDelayMs(link.failures, this.deps.random, SUBSCRIBE_BACKOFF);
    link.failures += 1;
    link.retryAtMs = this.deps.now() + delay;
    link.retryTimer = this.deps.setTimer(() => {
      link.retryTimer = null;
      if (this.links.get(link.room) === link) {
        this.enqueue(link);
        this.pump();
      }
    }, delay);
  }

  private cancelRetry(link: Link): void {
    if (link.retryTimer !== null) {
      this.deps.clearTimer(link.retryTimer);
      link.retryTimer = null;
    }
  }

  private touch(handle: Handle): void {
    handle.lastActivityAt = this.deps.now();
    handle.suspect = false;
    this.serviceReachable();
  }

  private dropHandle(link: Link, handle: Handle): void {
    const wasOpen = handle.state !== 'closed';
    handle.state = 'closed';
    link.handles = link.handles.filter(h => h !== handle);
    if (wasOpen && handle.subscription !== null) {
      handle.subscription.unsubscribe();
    }
  }

  private closeHandles(link: Link): void {
    for (const handle of [...link.handles]) {
      this.dropHandle(link, handle);
    }
  }

  private refreshStatus(link: Link, force = false): void {
    let status: RoomStatus;
    let detail: string | null = null;
    if (link.denied !== null) {
      status = 'denied';
      detail = link.denied;
    } else if (link.handles.some(h => this.isHealthy(h))) {
      status = 'live';
    } else if (this.port === null) {
      status = 'waiting';
    } else {
      status = link.everLive ? 'reconnecting' : 'subscribing';
    }
    if (force || status !== link.status || detail !== link.detail) {
      link.status = status;
      link.detail = detail;
      this.events.onRoomStatus(link.room, status, detail);
      if (status === 'live') {
        for (const waiter of this.liveWaiters.filter(w => w.room === link.room)) {
          waiter.resolve(true);
        }
      }
    }
  }
}

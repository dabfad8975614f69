import {beforeEach, describe, expect, it} from 'vitest';
import {
  AUTHENTICATION_ERROR,
  DEFAULT_STALE_MS,
  PERMISSION_ERROR,
  RoomHub,
  staleAfterMs,
  UNREACHABLE_AFTER_FAILURES,
  type ReceivedItem,
  type RoomStatus,
} from '../src/rooms';
import {deliver, FakeClock, FakePort, flush} from './fakes';

describe('RoomHub', () => {
  let clock: FakeClock;
  let messages: ReceivedItem[];
  let statuses: Map<string, RoomStatus>;
  let authErrors: number;
  let hub: RoomHub;

  beforeEach(() => {
    clock = new FakeClock();
    messages = [];
    statuses = new Map();
    authErrors = 0;
    hub = new RoomHub(
      {
        onMessage: item => messages.push(item),
        onRoomStatus: (room, status) => statuses.set(room, status),
        onAuthError: () => {
          authErrors += 1;
        },
      },
      {now: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );
  });

  const seqs = (room = 'room-a'): number[] => messages.filter(m => m.room === room).map(m => m.sequenceNumber);

  it('subscribes each room and shows its messages', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a', 'room-b']);
    await flush();
    expect(statuses.get('room-a')).toBe('live');
    expect(statuses.get('room-b')).toBe('live');
    deliver([port], 'room-a', 1);
    deliver([port], 'room-b', 1);
    deliver([port], 'room-a', 2);
    expect(seqs('room-a')).toEqual([1, 2]);
    expect(seqs('room-b')).toEqual([1]);
  });

  it('subscribes one room at a time (bounded connections)', async () => {
    const port = new FakePort('t1');
    port.hold = true;
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a', 'room-b', 'room-c']);
    await flush();
    expect(port.streams.map(s => s.topic)).toEqual(['room-a']);
    port.streams[0]!.settle();
    await flush();
    expect(port.streams.map(s => s.topic)).toEqual(['room-a', 'room-b']);
  });

  it('moves to a new token with an overlap, losing nothing and showing nothing twice', async () => {
    const old = new FakePort('t1');
    hub.setClient(old, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    deliver([old], 'room-a', 1, 5);
    deliver([old], 'room-a', 2, 5);

    const next = new FakePort('t2');
    next.hold = true;
    hub.setClient(next, 'cache', () => true);
    await flush();
    expect(next.streams).toHaveLength(1);
    // Both streams deliver while the new one is being established...
    deliver([old, next], 'room-a', 3, 5);
    next.streams[0]!.settle();
    await flush();
    // ...then the old one is closed.
    expect(old.open('room-a')).toHaveLength(0);
    deliver([old, next], 'room-a', 4, 5);
    expect(seqs()).toEqual([1, 2, 3, 4]);
    expect(hub.duplicates).toBe(1);
    expect(hub.snapshot()).toEqual([{room: 'room-a', status: 'live', detail: null, subscriptions: 1}]);
  });

  it('starts afresh after a restart: a discontinuity to a new page', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    for (let seq = 1; seq <= 5; seq++) {
      deliver([port], 'room-a', seq, 7);
    }
    port.open('room-a')[0]!.handlers.onDiscontinuity(1, 8);
    deliver([port], 'room-a', 1, 8);
    deliver([port], 'room-a', 2, 8);
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 1, 2]);
  });

  it('replaces a subscription the SDK silently gave up on, and accepts the restarted numbering', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    for (let seq = 1; seq <= 5; seq++) {
      deliver([port], 'room-a', seq);
    }
    port.open('room-a')[0]!.subscription.isSubscribed = false; // sdk-web unsubscribed without onError
    hub.tick();
    expect(statuses.get('room-a')).toBe('reconnecting');
    await clock.advance(1000);
    expect(port.open('room-a')).toHaveLength(1);
    expect(statuses.get('room-a')).toBe('live');
    deliver([port], 'room-a', 1); // the service restarted: numbering begins again, page unknown
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 1]);
  });

  it('backs off while subscribing keeps failing, then recovers', async () => {
    const port = new FakePort('t1');
    port.failWith = {code: 'UNAVAILABLE', message: 'down'};
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    expect(port.streams).toHaveLength(1);
    await clock.advance(400); // first retry after 375 ms (random 0.5)
    expect(port.streams).toHaveLength(2);
    await clock.advance(500); // second after 750 ms: not yet
    expect(port.streams).toHaveLength(2);
    port.failWith = null;
    await clock.advance(400);
    expect(port.streams).toHaveLength(3);
    expect(statuses.get('room-a')).toBe('live');
  });

  it('asks for a new token on an authentication error and resubscribes on it', async () => {
    const old = new FakePort('t1');
    hub.setClient(old, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    old.open('room-a')[0]!.handlers.onError(AUTHENTICATION_ERROR, 'expired');
    expect(authErrors).toBe(1);
    expect(statuses.get('room-a')).toBe('reconnecting');
    const next = new FakePort('t2');
    hub.setClient(next, 'cache', () => true);
    await flush();
    expect(next.open('room-a')).toHaveLength(1);
    expect(statuses.get('room-a')).toBe('live');
  });

  it('marks a room denied on a permission error and does not retry it', async () => {
    const port = new FakePort('t1');
    port.failWith = {code: PERMISSION_ERROR, message: 'no'};
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    await clock.advance(60_000);
    expect(port.streams).toHaveLength(1);
    expect(statuses.get('room-a')).toBe('denied');
  });

  it('replaces a stream that went silent', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    clock.now += DEFAULT_STALE_MS + 1;
    hub.tick();
    expect(statuses.get('room-a')).toBe('reconnecting');
    expect(port.streams).toHaveLength(1);
    clock.now += DEFAULT_STALE_MS;
    hub.tick();
    await flush();
    expect(port.streams).toHaveLength(2);
    expect(port.open('room-a')).toHaveLength(1);
    expect(statuses.get('room-a')).toBe('live');
  });

  it('unsubscribes rooms that leave the budget, and everything on close', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a', 'room-b']);
    await flush();
    hub.setRooms(['room-b']);
    expect(port.open('room-a')).toHaveLength(0);
    expect(port.open('room-b')).toHaveLength(1);
    hub.close();
    expect(port.open('room-b')).toHaveLength(0);
  });

  it('leaves rooms the token does not allow alone', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', room => room !== 'room-secret');
    hub.setRooms(['room-a', 'room-secret']);
    await flush();
    expect(port.streams.map(s => s.topic)).toEqual(['room-a']);
    expect(statuses.get('room-secret')).toBe('denied');
  });

  it('reports an authentication error on publish', async () => {
    const port = new FakePort('t1');
    port.publishResult = {ok: false, code: AUTHENTICATION_ERROR, message: 'expired'};
    hub.setClient(port, 'cache', () => true);
    const result = await hub.publish('room-a', 'x');
    expect(result.ok).toBe(false);
    expect(authErrors).toBe(1);
  });
});

describe('RoomHub when the SDK restarts a stream', () => {
  it('shows reconnecting until the new stream speaks', async () => {
    const clock = new FakeClock();
    const statuses = new Map<string, RoomStatus>();
    const hub = new RoomHub(
      {onMessage: () => undefined, onRoomStatus: (room, status) => statuses.set(room, status), onAuthError: () => undefined},
      {now: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    const stream = port.open('room-a')[0]!;
    stream.handlers.onRestart();
    expect(statuses.get('room-a')).toBe('reconnecting');
    stream.handlers.onRestart();
    expect(statuses.get('room-a')).toBe('reconnecting');
    stream.handlers.onHeartbeat();
    expect(statuses.get('room-a')).toBe('live');
  });
});

describe('RoomHub when the service comes back', () => {
  it('retries rooms waiting after an outage as soon as another stream speaks', async () => {
    const clock = new FakeClock();
    const statuses = new Map<string, RoomStatus>();
    const hub = new RoomHub(
      {onMessage: () => undefined, onRoomStatus: (room, status) => statuses.set(room, status), onAuthError: () => undefined},
      {now: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a', 'room-b']);
    await flush();
    // room-b's stream breaks while the service is down; its retries fail and back off.
    port.failWith = {code: 'SERVER_UNAVAILABLE', message: 'down'};
    port.open('room-b')[0]!.handlers.onError('SERVER_UNAVAILABLE', 'reset');
    await clock.advance(3000);
    const attempts = port.streams.filter(s => s.topic === 'room-b').length;
    expect(statuses.get('room-b')).toBe('reconnecting');
    // The service is back: room-a's stream delivers a heartbeat; room-b retries at once, not at its backoff time.
    port.failWith = null;
    port.open('room-a')[0]!.handlers.onHeartbeat();
    await flush();
    expect(port.streams.filter(s => s.topic === 'room-b')).toHaveLength(attempts + 1);
    expect(statuses.get('room-b')).toBe('live');
  });

  it('caps the resubscription backoff at 5 s', async () => {
    const clock = new FakeClock();
    const hub = new RoomHub(
      {onMessage: () => undefined, onRoomStatus: () => undefined, onAuthError: () => undefined},
      {now: () => clock.now, random: () => 1, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );
    const port = new FakePort('t1');
    port.failWith = {code: 'SERVER_UNAVAILABLE', message: 'down'};
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await clock.advance(60_000);
    const before = port.streams.length;
    await clock.advance(30_000);
    expect(port.streams.length - before).toBe(6);
  });
});

describe('RoomHub.whenLive', () => {
  it('resolves when the room goes live, or false at the timeout', async () => {
    const clock = new FakeClock();
    const hub = new RoomHub(
      {onMessage: () => undefined, onRoomStatus: () => undefined, onAuthError: () => undefined},
      {now: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );
    const port = new FakePort('t1');
    port.hold = true;
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a', 'room-b']);
    const a = hub.whenLive('room-a', 5000);
    const b = hub.whenLive('room-b', 5000);
    port.streams[0]!.handlers.onHeartbeat();
    port.streams[0]!.settle();
    expect(await a).toBe(true);
    await clock.advance(5000);
    expect(await b).toBe(false);
    expect(await hub.whenLive('room-a', 1)).toBe(true);
  });
});

describe('staleAfterMs', () => {
  it('is three heartbeat gaps, within bounds', () => {
    expect(staleAfterMs(null)).toBe(DEFAULT_STALE_MS);
    expect(staleAfterMs(5000)).toBe(15_000);
    expect(staleAfterMs(100)).toBe(6000);
    expect(staleAfterMs(60_000)).toBe(90_000);
  });
});

describe('RoomHub after a failed publish', () => {
  it('distrusts live streams until they speak again', async () => {
    const clock = new FakeClock();
    const statuses = new Map<string, RoomStatus>();
    const hub = new RoomHub(
      {onMessage: () => undefined, onRoomStatus: (room, status) => statuses.set(room, status), onAuthError: () => undefined},
      {now: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    port.publishResult = {ok: false, code: 'UNKNOWN_SERVICE_ERROR', message: 'status code: 0'};
    await hub.publish('room-a', 'x');
    expect(statuses.get('room-a')).toBe('reconnecting');
    port.open('room-a')[0]!.handlers.onHeartbeat();
    expect(statuses.get('room-a')).toBe('live');
  });
});

describe('RoomHub when Momento is unreachable', () => {
  let clock: FakeClock;
  let statuses: Map<string, RoomStatus>;
  let messages: ReceivedItem[];
  let hub: RoomHub;

  beforeEach(() => {
    clock = new FakeClock();
    statuses = new Map();
    messages = [];
    hub = new RoomHub(
      {
        onMessage: m => messages.push(m),
        onRoomStatus: (room, status) => statuses.set(room, status),
        onAuthError: () => undefined,
      },
      {now: () => clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer},
    );
  });

  /** What the page does: the watchdog once a second. */
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 1000) {
      hub.tick();
      await clock.advance(1000);
    }
  };

  it('says so once the SDK\'s restarts keep failing, and recovers by itself without repeating a message', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a', 'room-b']);
    await flush();
    deliver([port], 'room-a', 1, 7);
    deliver([port], 'room-b', 1, 7);
    expect(hub.unreachable).toBe(false);

    // The emulator is killed: sdk-web restarts each broken stream every 500 ms, and each restart fails.
    port.failWith = {code: 'UNKNOWN_SERVICE_ERROR', message: 'Http response at 400 or 500 level, http status code: 0'};
    const [a, b] = [port.open('room-a')[0]!, port.open('room-b')[0]!];
    a.handlers.onRestart();
    b.handlers.onRestart();
    expect(UNREACHABLE_AFTER_FAILURES).toBe(2);
    expect(hub.unreachable).toBe(true);
    expect(statuses.get('room-a')).toBe('reconnecting');
    for (let i = 0; i < 20; i++) {
      a.handlers.onRestart();
      b.handlers.onRestart();
      await run(1000);
    }
    expect(hub.unreachable).toBe(true); // still, 20 s on: not an endless "Reconnecting…"

    // Back (a new emulator, a new sequence page): the restarted streams speak again.
    port.failWith = null;
    a.handlers.onDiscontinuity(0, 9);
    a.handlers.onHeartbeat();
    expect(hub.unreachable).toBe(false);
    b.handlers.onHeartbeat();
    await run(2000);
    expect(statuses.get('room-a')).toBe('live');
    expect(statuses.get('room-b')).toBe('live');
    const before = messages.length;
    deliver([port], 'room-a', 1, 9);
    deliver([port], 'room-a', 1, 9); // again, as an overlapping replacement stream would
    deliver([port], 'room-b', 1, 9);
    expect(messages.slice(before).map(m => [m.room, m.sequenceNumber, m.page])).toEqual([
      ['room-a', 1, 9],
      ['room-b', 1, 9],
    ]);
  });

  it('counts subscribes that cannot reach it, says when the next try is, resubscribes once it is back', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    port.failWith = {code: 'SERVER_UNAVAILABLE', message: 'down'};
    port.open('room-a')[0]!.subscription.isSubscribed = false; // the SDK gave up on the stream silently
    hub.tick();
    expect(hub.unreachable).toBe(false); // one failure: could be a blip
    expect(hub.nextRetryAtMs()).toBe(clock.now + 375);
    await clock.advance(400); // the first resubscription fails too
    expect(hub.unreachable).toBe(true);
    expect(hub.nextRetryAtMs()).toBeGreaterThan(clock.now);
    await run(10_000);
    expect(hub.unreachable).toBe(true);
    port.failWith = null;
    await run(6_000); // the next attempt (backoff at most 5 s) succeeds
    expect(hub.unreachable).toBe(false);
    expect(hub.nextRetryAtMs()).toBeNull();
    expect(statuses.get('room-a')).toBe('live');
    deliver([port], 'room-a', 1, 3);
    expect(messages.map(m => m.sequenceNumber)).toEqual([1]);
  });

  it('is no outage when a restarted stream speaks again, a room is refused, or another is healthy', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    const a = port.open('room-a')[0]!;
    a.handlers.onRestart();
    a.handlers.onHeartbeat(); // a blip (or a token move): the new stream answered
    a.handlers.onRestart();
    expect(hub.unreachable).toBe(false);
    a.handlers.onHeartbeat();

    // room-b cannot be subscribed (the service is reachable: room-a keeps beating), then is refused.
    port.failWith = {code: 'SERVER_UNAVAILABLE', message: 'overloaded'};
    hub.setRooms(['room-a', 'room-b']);
    await clock.advance(400);
    await clock.advance(800);
    expect(port.streams.filter(s => s.topic === 'room-b').length).toBeGreaterThanOrEqual(2);
    expect(hub.unreachable).toBe(false);
    port.failWith = {code: PERMISSION_ERROR, message: 'no'};
    a.handlers.onHeartbeat();
    await clock.advance(5000);
    expect(statuses.get('room-b')).toBe('denied');
    expect(hub.unreachable).toBe(false);
  });

  it('counts publishes that cannot reach the service', async () => {
    const port = new FakePort('t1');
    hub.setClient(port, 'cache', () => true);
    hub.setRooms(['room-a']);
    await flush();
    port.publishResult = {ok: false, code: 'UNKNOWN_SERVICE_ERROR', message: 'status code: 0'};
    await hub.publish('room-a', 'x');
    await hub.publish('room-a', 'x');
    expect(hub.unreachable).toBe(true);
    port.publishResult = {ok: true};
    await hub.publish('room-a', 'x');
    expect(hub.unreachable).toBe(false);
  });

  describe('rooms dropped and taken back (a hidden tab, the budget)', () => {
    it('resumes a room right after the last message shown: what was published meanwhile comes once', async () => {
      const port = new FakePort('t1');
      hub.setClient(port, 'cache', () => true);
      hub.setRooms(['room-a', 'room-b']);
      await flush();
      deliver([port], 'room-a', 1, 7);
      deliver([port], 'room-a', 2, 7);
      hub.setRooms([]); // hidden: no subscription at all
      await flush();
      expect(port.open('room-a')).toHaveLength(0);
      expect(hub.snapshot()).toEqual([]);
      hub.setRooms(['room-a', 'room-b']); // shown again
      await flush();
      const [again] = port.open('room-a');
      expect(again?.resume).toEqual({sequenceNumber: 3, page: 7});
      expect(port.open('room-b')[0]?.resume).toBeNull(); // nothing shown there yet: the live end
      again?.handlers.onItem({value: 'm3', sequenceNumber: 3, page: 7, tokenId: 'bob'}); // replayed by Momento
      again?.handlers.onItem({value: 'm2', sequenceNumber: 2, page: 7, tokenId: 'bob'}); // an overlap, dropped
      deliver([port], 'room-a', 4, 7);
      expect(messages.filter(m => m.room === 'room-a').map(m => m.sequenceNumber)).toEqual([1, 2, 3, 4]);
      expect(hub.resumes).toBe(1);
    });

    it('a resubscription on a new token, or a room that was left, starts at the live end', async () => {
      const port = new FakePort('t1');
      hub.setClient(port, 'cache', () => true);
      hub.setRooms(['room-a']);
      await flush();
      deliver([port], 'room-a', 1, 7);
      const next = new FakePort('t2');
      hub.setClient(next, 'cache', () => true);
      await flush();
      expect(next.open('room-a')[0]?.resume).toBeNull();
      hub.setRooms([]);
      hub.forget('room-a');
      hub.setRooms(['room-a']);
      await flush();
      expect(next.open('room-a')[0]?.resume).toBeNull();
      expect(hub.resumes).toBe(0);
    });

    it('a sequence page JavaScript cannot hold exactly resumes on "the current page" (0)', async () => {
      const port = new FakePort('t1');
      hub.setClient(port, 'cache', () => true);
      hub.setRooms(['room-a']);
      await flush();
      deliver([port], 'room-a', 3, 4505191261969899000); // a random 64-bit page, rounded on its way to a number
      hub.setRooms([]);
      hub.setRooms(['room-a']);
      await flush();
      expect(port.open('room-a')[0]?.resume).toEqual({sequenceNumber: 4, page: 0});
    });

    it('a resume that fails is retried from the same mark', async () => {
      const port = new FakePort('t1');
      hub.setClient(port, 'cache', () => true);
      hub.setRooms(['room-a']);
      await flush();
      deliver([port], 'room-a', 5, 7);
      hub.setRooms([]);
      port.failWith = {code: 'SERVER_UNAVAILABLE', message: 'down'};
      hub.setRooms(['room-a']);
      await flush();
      port.failWith = null;
      await clock.advance(1_000);
      const resumes = port.streams.filter(s => s.topic === 'room-a').map(s => s.resume);
      expect(resumes.slice(1)).toEqual([
        {sequenceNumber: 6, page: 7},
        {sequenceNumber: 6, page: 7},
      ]);
      expect(statuses.get('room-a')).toBe('live');
    });
  });
});

import {describe, expect, it} from 'vitest';
import {
  forgetRecent,
  LIVE_ROOM_BUDGET,
  normalizeRoomName,
  roomBudget,
  parseStoredRecent,
  selectLiveRooms,
  topicsForToken,
  touchRecent,
} from '../src/roomList';

describe('normalizeRoomName', () => {
  it.each([
    ['lobby', 'room-lobby'],
    ['  Lobby  ', 'room-lobby'],
    ['#general', 'room-general'],
    ['Team Standup', 'room-team-standup'],
    ['room-a', 'room-a'],
    ['chat-42', 'chat-42'],
    ['ROOM-X_1.2', 'room-x_1.2'],
  ])('%j -> %j', (input, room) => {
    expect(normalizeRoomName(input)).toEqual({ok: true, room});
  });

  it.each(['', '   ', 'a,b', 'room-*', 'émoji', '<script>', 'room-', 'chat-'])('refuses %j', input => {
    expect(normalizeRoomName(input).ok).toBe(false);
  });

  it('refuses names longer than 64 characters', () => {
    expect(normalizeRoomName('x'.repeat(60)).ok).toBe(false);
    expect(normalizeRoomName('x'.repeat(59)).ok).toBe(true);
  });
});

describe('recent rooms', () => {
  it('puts the latest first without duplicates, bounded', () => {
    let recent: string[] = [];
    for (const room of ['room-a', 'room-b', 'room-a', 'room-c']) {
      recent = touchRecent(recent, room, 3);
    }
    expect(recent).toEqual(['room-c', 'room-a', 'room-b']);
    expect(touchRecent(recent, 'room-d', 3)).toEqual(['room-d', 'room-c', 'room-a']);
    expect(forgetRecent(recent, 'room-a')).toEqual(['room-c', 'room-b']);
  });

  it('keeps the open room and the most recent others within the budget', () => {
    const recent = ['room-a', 'room-b', 'room-c', 'room-d', 'room-e', 'room-f'];
    expect(selectLiveRooms('room-e', recent)).toEqual(['room-e', 'room-a', 'room-b', 'room-c']);
    expect(selectLiveRooms('room-e', recent)).toHaveLength(LIVE_ROOM_BUDGET);
    expect(selectLiveRooms(null, ['room-a'])).toEqual(['room-a']);
    expect(selectLiveRooms('room-x', [], 0)).toEqual([]);
  });

  it('asks the TVM for the open room and every recent one', () => {
    const recent = ['room-a', 'room-b', 'room-c', 'room-d', 'room-e', 'room-f'];
    expect(topicsForToken('room-z', recent)).toEqual(['room-z', ...recent]);
  });

  it('reads stored names defensively', () => {
    expect(parseStoredRecent(null)).toEqual([]);
    expect(parseStoredRecent('not json')).toEqual([]);
    expect(parseStoredRecent('{"a":1}')).toEqual([]);
    expect(parseStoredRecent('["room-a", 3, "Room B", "room-a", "chat-x", "a,b"]')).toEqual(['room-a', 'chat-x']);
  });
});

describe('roomBudget', () => {
  it('gives way to the control streams so that the streams stay at five, never below the open room', () => {
    expect(roomBudget(0)).toBe(LIVE_ROOM_BUDGET);
    expect(roomBudget(3)).toBe(2); // a user's: own, tier, everyone's
    expect(roomBudget(2)).toBe(3); // a guest's: tier, everyone's
    for (const control of [1, 2, 3]) {
      expect(roomBudget(control) + control).toBe(5);
    }
    expect(roomBudget(9)).toBe(1);
  });

  it("shares the rooms' part between the user's shown tabs of the browser", () => {
    expect(roomBudget(0, 2)).toBe(2);
    expect(roomBudget(3, 2)).toBe(1); // 3 control streams, then 1 room in each of two shown tabs: 5
    expect(roomBudget(2, 2)).toBe(1);
    expect(roomBudget(3, 0)).toBe(2); // none shown (the count is read by a hidden tab, which keeps none anyway)
  });
});

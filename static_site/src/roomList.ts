// Room names, the recent-rooms list and the live-subscription budget. Pure.

export const DEFAULT_ROOM = 'room-lobby';
/** Topic prefixes the TVM's guest tier allows; every room name gets one, so a room works for every tier. */
export const ROOM_PREFIXES = ['room-', 'chat-'] as const;
export const MAX_ROOM_NAME_LENGTH = 64;
/** Rooms remembered in the recent list (and named in token requests, so switching between them needs no new token). */
export const MAX_RECENT_ROOMS = 8;
/**
 * Live subscriptions kept: the open room and up to three recent ones. Browsers allow about six HTTP/1.1
 * connections per origin and each subscription holds one open; renewing a token briefly adds one more per room
 * (one room at a time), and publishing needs one too.
 */
export const LIVE_ROOM_BUDGET = 4;

/**
 * The rooms each shown tab of a user keeps live, so that the user's streams in the browser stay within its connections
 * (about six per host over HTTP/1.1, for every tab together): LIVE_ROOM_BUDGET in all, or with a control channel
 * (controlFlow.ts: `controlTopics` streams in one tab, shown or hidden) five in all, the control streams first (a
 * user's 3 leave 2 rooms, a guest's 2 leave 3); one connection stays free for publishing, and renewing moves one room
 * and one control topic at a time, so a publish may wait for that moment. `shownTabs` of the user share the rooms'
 * part (a hidden tab keeps none). At least the open room, always.
 */
export function roomBudget(controlTopics: number, shownTabs = 1): number {
  const streams = controlTopics > 0 ? LIVE_ROOM_BUDGET + 1 - controlTopics : LIVE_ROOM_BUDGET;
  return Math.max(1, Math.floor(streams / Math.max(1, shownTabs)));
}

export type RoomNameResult = {ok: true; room: string} | {ok: false; reason: string};

/**
 * Turns what a user typed into a topic name: trimmed, lower-case, runs of spaces as one "-", and "room-" in front
 * unless it already starts with "room-" or "chat-" ("Lobby" -> "room-lobby"). Only a-z, 0-9, "-", "_" and "." are
 * allowed, so a name can never smuggle a "," (the TVM's list separator) or a "*" (a pattern) into a token request.
 */
export function normalizeRoomName(input: string): RoomNameResult {
  let name = input.trim().toLowerCase().replace(/^#/, '').replace(/\s+/g, '-');
  if (name === '') {
    return {ok: false, reason: 'Enter a room name.'};
  }
  if (!/^[a-z0-9._-]+$/.test(name)) {
    return {ok: false, reason: 'Use only letters, digits, "-", "_" and ".".'};
  }
  if (!ROOM_PREFIXES.some(prefix => name.startsWith(prefix))) {
    name = `room-${name}`;
  }
  if (ROOM_PREFIXES.some(prefix => name === prefix)) {
    return {ok: false, reason: 'Add a name after the prefix, e.g. room-lobby.'};
  }
  if (name.length > MAX_ROOM_NAME_LENGTH) {
    return {ok: false, reason: `Room names are at most ${MAX_ROOM_NAME_LENGTH} characters.`};
  }
  return {ok: true, room: name};
}

/** Puts `room` first in the recent list (most recent first), without duplicates, at most `max` long. */
export function touchRecent(recent: readonly string[], room: string, max: number = MAX_RECENT_ROOMS): string[] {
  return [room, ...recent.filter(r => r !== room)].slice(0, max);
}

/** Drops `room` from the recent list. */
export function forgetRecent(recent: readonly string[], room: string): string[] {
  return recent.filter(r => r !== room);
}

/** The rooms to keep subscribed: the open room, then the most recent others, within the budget. */
export function selectLiveRooms(
  active: string | null,
  recent: readonly string[],
  budget: number = LIVE_ROOM_BUDGET,
): string[] {
  const ordered = active === null ? [...recent] : [active, ...recent.filter(r => r !== active)];
  return [...new Set(ordered)].slice(0, Math.max(0, budget));
}

/** The topics to ask the TVM for: the open room and the recent ones. */
export function topicsForToken(active: string | null, recent: readonly string[]): string[] {
  return selectLiveRooms(active, recent, MAX_RECENT_ROOMS + 1);
}

/** Reads a stored recent-rooms list defensively: only valid, already-normal names survive. */
export function parseStoredRecent(stored: string | null): string[] {
  if (stored === null) {
    return [];
  }
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) {
    return [];
  }
  const rooms: string[] = [];
  for (const entry of value) {
    if (typeof entry !== 'string') {
      continue;
    }
    const result = normalizeRoomName(entry);
    if (result.ok && result.room === entry && !rooms.includes(entry)) {
      rooms.push(entry);
    }
  }
  return rooms.slice(0, MAX_RECENT_ROOMS);
}

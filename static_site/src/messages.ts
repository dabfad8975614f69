// The chat message format, and how a message's sender is shown. Pure.

/** What the site publishes: JSON `{"text": string, "time": ISO-8601 string}`. */
export interface ChatPayload {
  readonly text: string;
  readonly time: string;
}

/** Longest message the composer accepts, in characters. */
export const MAX_MESSAGE_LENGTH = 2000;

export function encodeChatMessage(text: string, now: Date): string {
  const payload: ChatPayload = {text, time: now.toISOString()};
  return JSON.stringify(payload);
}

export type DecodedMessage =
  /** A message in the site's format; `time` is null when it was missing or unreadable. */
  | {readonly kind: 'chat'; readonly text: string; readonly time: Date | null}
  /** Anything else, shown verbatim as text. */
  | {readonly kind: 'raw'; readonly text: string};

export function decodeChatMessage(raw: string): DecodedMessage {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return {kind: 'raw', text: raw};
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {kind: 'raw', text: raw};
  }
  const record = value as Record<string, unknown>;
  const text = record['text'];
  if (typeof text !== 'string') {
    return {kind: 'raw', text: raw};
  }
  const time = record['time'];
  let parsed: Date | null = null;
  if (typeof time === 'string') {
    const candidate = new Date(time);
    parsed = Number.isNaN(candidate.getTime()) ? null : candidate;
  }
  return {kind: 'chat', text, time: parsed};
}

export type SenderKind = 'user' | 'guest' | 'unknown';

export interface Sender {
  /** The name to show. */
  readonly label: string;
  /** user = a name the TVM verified; guest = an unverified display name (Open mode); unknown = no token id. */
  readonly kind: SenderKind;
  /** Published with the same token id as ours. */
  readonly own: boolean;
  /** The raw token id ("" when the publisher had none). */
  readonly tokenId: string;
}

export const GUEST_PREFIX = 'guest:';

/**
 * Who sent a message, from the publisher's token id (stamped by Momento from the token, so it cannot be faked by
 * the message body). The TVM vends verified usernames as is and anonymous names as `guest:<name>`; a verified
 * username never contains ":", so no guest can pass for a user.
 */
export function describeSender(tokenId: string | null | undefined, ownTokenId: string | null): Sender {
  const id = tokenId ?? '';
  const own = id !== '' && ownTokenId !== null && id === ownTokenId;
  if (id === '') {
    return {label: 'unknown sender', kind: 'unknown', own: false, tokenId: id};
  }
  if (id.startsWith(GUEST_PREFIX)) {
    const name = id.slice(GUEST_PREFIX.length).trim();
    return {label: name === '' ? 'anonymous' : name, kind: 'guest', own, tokenId: id};
  }
  return {label: id, kind: 'user', own, tokenId: id};
}

/** The accessible description of a sender, e.g. "alice (you)", "sam (guest, not verified)". */
export function senderDescription(sender: Sender): string {
  const notes: string[] = [];
  if (sender.own) {
    notes.push('you');
  }
  if (sender.kind === 'guest') {
    notes.push('guest, not verified');
  } else if (sender.kind === 'user') {
    notes.push('verified');
  }
  return notes.length === 0 ? sender.label : `${sender.label} (${notes.join(', ')})`;
}

/** A display name for Open mode: what the TVM accepts (letters, digits, space, _ . -, at most 32). */
export type DisplayNameResult = {ok: true; name: string} | {ok: false; reason: string};

export function validateDisplayName(input: string): DisplayNameResult {
  const name = input.trim().replace(/\s+/g, ' ');
  if (name === '') {
    return {ok: false, reason: 'Enter a display name.'};
  }
  if (name.length > 32) {
    return {ok: false, reason: 'Display names are at most 32 characters.'};
  }
  if (!/^[\p{L}\p{N} _.-]+$/u.test(name)) {
    return {ok: false, reason: 'Use only letters, digits, spaces, "_", "." and "-".'};
  }
  return {ok: true, name};
}

/** "14:05" in the browser's locale. */
export function formatClock(date: Date): string {
  return date.toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit'});
}

/** Time left as "m:ss" (or "h:mm:ss"); "expired" at or below zero. */
export function formatRemaining(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) {
    return 'expired';
  }
  const total = Math.floor(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${ss}` : `${minutes}:${ss}`;
}

import {describe, expect, it} from 'vitest';
import {
  decodeChatMessage,
  describeSender,
  encodeChatMessage,
  formatRemaining,
  senderDescription,
  validateDisplayName,
} from '../src/messages';

describe('chat messages', () => {
  it('round-trips text and time', () => {
    const raw = encodeChatMessage('hi <b>there</b>', new Date('2026-01-02T03:04:05.000Z'));
    expect(JSON.parse(raw)).toEqual({text: 'hi <b>there</b>', time: '2026-01-02T03:04:05.000Z'});
    const decoded = decodeChatMessage(raw);
    expect(decoded).toEqual({kind: 'chat', text: 'hi <b>there</b>', time: new Date('2026-01-02T03:04:05.000Z')});
  });

  it.each(['plain text', '42', '"a string"', '[1,2]', 'null', '{"text": 5}', '{"message": "x"}', '{bad json'])(
    'shows %j verbatim',
    raw => {
      expect(decodeChatMessage(raw)).toEqual({kind: 'raw', text: raw});
    },
  );

  it('keeps the text when the time is missing or unreadable', () => {
    expect(decodeChatMessage('{"text":"x"}')).toEqual({kind: 'chat', text: 'x', time: null});
    expect(decodeChatMessage('{"text":"x","time":"yesterday-ish"}')).toEqual({kind: 'chat', text: 'x', time: null});
  });
});

describe('describeSender', () => {
  it('shows verified users as users', () => {
    expect(describeSender('alice', 'bob')).toEqual({label: 'alice', kind: 'user', own: false, tokenId: 'alice'});
  });

  it('marks guests, whatever name they chose', () => {
    expect(describeSender('guest:alice', 'alice')).toEqual({
      label: 'alice',
      kind: 'guest',
      own: false,
      tokenId: 'guest:alice',
    });
    expect(describeSender('guest:', null).label).toBe('anonymous');
  });

  it('recognises our own messages by token id', () => {
    expect(describeSender('alice', 'alice').own).toBe(true);
    expect(describeSender('guest:sam', 'guest:sam').own).toBe(true);
  });

  it('handles a missing token id', () => {
    expect(describeSender(undefined, '')).toEqual({label: 'unknown sender', kind: 'unknown', own: false, tokenId: ''});
    expect(describeSender('', '').own).toBe(false);
  });

  it('describes senders for screen readers', () => {
    expect(senderDescription(describeSender('alice', 'alice'))).toBe('alice (you, verified)');
    expect(senderDescription(describeSender('guest:sam', null))).toBe('sam (guest, not verified)');
  });
});

describe('validateDisplayName', () => {
  it('accepts what the TVM accepts', () => {
    expect(validateDisplayName('  Ann  Lee ')).toEqual({ok: true, name: 'Ann Lee'});
    expect(validateDisplayName('José_1.2-x')).toEqual({ok: true, name: 'José_1.2-x'});
  });

  it.each(['', 'a:b', '<script>', 'x'.repeat(33)])('refuses %j', input => {
    expect(validateDisplayName(input).ok).toBe(false);
  });
});

describe('formatRemaining', () => {
  it.each([
    [0, 'expired'],
    [-5, 'expired'],
    [999, '0:00'],
    [65_000, '1:05'],
    [3_600_000, '1:00:00'],
    [3_725_000, '1:02:05'],
  ])('%d ms -> %s', (ms, text) => {
    expect(formatRemaining(ms)).toBe(text);
  });
});

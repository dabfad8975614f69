import {describe, expect, it} from 'vitest';
import {CONNECTION_LABELS, deriveConnectionState} from '../src/connection';

describe('deriveConnectionState', () => {
  const base = {online: true, hasToken: true, everLive: false, rooms: [{live: true}], serviceUnreachable: false};

  it('is live when every room is subscribed on a valid token', () => {
    expect(deriveConnectionState(base)).toBe('live');
    expect(deriveConnectionState({...base, rooms: []})).toBe('live');
  });

  it('is connecting until it has been live once, reconnecting after', () => {
    expect(deriveConnectionState({...base, rooms: [{live: false}]})).toBe('connecting');
    expect(deriveConnectionState({...base, everLive: true, rooms: [{live: true}, {live: false}]})).toBe('reconnecting');
  });

  it('says it waits for a new token (not "Reconnecting…") once the token ran out before a new one came', () => {
    const expired = {...base, everLive: true, hasToken: false, rooms: [{live: false}]};
    expect(deriveConnectionState(expired)).toBe('awaiting-token');
    expect(deriveConnectionState({...expired, rooms: [{live: true}]})).toBe('awaiting-token'); // never live without one
    expect(CONNECTION_LABELS['awaiting-token']).toBe('Waiting for a new token…');
    // Momento unreachable is said first (a new token would not help), offline before everything.
    expect(deriveConnectionState({...expired, serviceUnreachable: true})).toBe('unreachable');
    expect(deriveConnectionState({...expired, online: false})).toBe('offline');
  });

  it('says the chat service is unreachable (not "Reconnecting…") while attempts to reach it keep failing', () => {
    const down = {...base, everLive: true, rooms: [{live: false}], serviceUnreachable: true};
    expect(deriveConnectionState(down)).toBe('unreachable');
    expect(deriveConnectionState({...down, everLive: false})).toBe('unreachable');
    expect(CONNECTION_LABELS.unreachable).toBe('Chat service unreachable; retrying…');
    // Back: live again as soon as the rooms are, whatever the failure count said a moment ago.
    expect(deriveConnectionState({...down, rooms: [{live: true}]})).toBe('live');
  });

  it('is offline when the browser is', () => {
    expect(deriveConnectionState({...base, online: false})).toBe('offline');
    expect(deriveConnectionState({...base, online: false, serviceUnreachable: true})).toBe('offline');
  });
});

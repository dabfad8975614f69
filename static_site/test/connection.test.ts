import {describe, expect, it} from 'vitest';
import {deriveConnectionState} from '../src/connection';

describe('deriveConnectionState', () => {
  const base = {online: true, hasToken: true, everLive: false, rooms: [{live: true}]};

  it('is live when every room is subscribed on a valid token', () => {
    expect(deriveConnectionState(base)).toBe('live');
    expect(deriveConnectionState({...base, rooms: []})).toBe('live');
  });

  it('is connecting until it has been live once, reconnecting after', () => {
    expect(deriveConnectionState({...base, rooms: [{live: false}]})).toBe('connecting');
    expect(deriveConnectionState({...base, everLive: true, rooms: [{live: true}, {live: false}]})).toBe('reconnecting');
    expect(deriveConnectionState({...base, everLive: true, hasToken: false})).toBe('reconnecting');
  });

  it('is offline when the browser is', () => {
    expect(deriveConnectionState({...base, online: false})).toBe('offline');
  });
});

import {describe, expect, it} from 'vitest';
import {admit, discontinuity, FRESH, type DedupeState} from '../src/dedupe';

function feed(state: DedupeState, items: [number, number | null][]): {accepted: number[]; state: DedupeState} {
  const accepted: number[] = [];
  for (const [seq, page] of items) {
    const verdict = admit(state, seq, page);
    state = verdict.state;
    if (verdict.accept) {
      accepted.push(seq);
    }
  }
  return {accepted, state};
}

describe('dedupe', () => {
  it('accepts increasing sequence numbers', () => {
    expect(feed(FRESH, [[1, null], [2, null], [3, null]]).accepted).toEqual([1, 2, 3]);
  });

  it('drops what two overlapping subscriptions both deliver', () => {
    // old stream: 5 6 7; new stream (same page) joins at 6: 6 7 8
    const {accepted} = feed(FRESH, [[5, 9], [6, 9], [6, 9], [7, 9], [7, 9], [8, 9], [8, 9]]);
    expect(accepted).toEqual([5, 6, 7, 8]);
  });

  it('drops a replay after a resume', () => {
    expect(feed(FRESH, [[1, 4], [2, 4], [3, 4], [2, 4], [3, 4], [4, 4]]).accepted).toEqual([1, 2, 3, 4]);
  });

  it('treats a new sequence page as new numbering', () => {
    const {accepted, state} = feed(FRESH, [[41, 7], [42, 7], [1, 8], [2, 8], [2, 8]]);
    expect(accepted).toEqual([41, 42, 1, 2]);
    expect(state).toEqual({page: 8, highWater: 2});
  });

  it('learns the page from the first item that carries one', () => {
    const {state} = feed(FRESH, [[3, null], [4, 11]]);
    expect(state).toEqual({page: 11, highWater: 4});
  });

  it('resets on a discontinuity to another page (the service restarted)', () => {
    const before: DedupeState = {page: 7, highWater: 42};
    const after = discontinuity(before, 1, 8);
    expect(after).toEqual({page: 8, highWater: 0});
    expect(admit(after, 1, null).accept).toBe(true);
  });

  it('moves forward on a discontinuity within the page, never back', () => {
    expect(discontinuity({page: 7, highWater: 10}, 100, 7)).toEqual({page: 7, highWater: 99});
    expect(discontinuity({page: 7, highWater: 120}, 100, 7)).toEqual({page: 7, highWater: 120});
  });

  it('resets on a discontinuity while the page is unknown', () => {
    expect(discontinuity({page: null, highWater: 50}, 1, 3)).toEqual({page: 3, highWater: 0});
  });
});

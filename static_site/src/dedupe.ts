// Duplicate suppression for one room's messages, by (sequence page, sequence number). Pure.
//
// Momento numbers a topic's messages 1, 2, 3, ... within a "sequence page"; a new page (the topic was reset, or
// the service lost its state) starts the numbers again. Duplicates arrive when two subscriptions overlap (the old
// and the new token's, during a renewal) or when a resumed stream replays. Each room keeps a high-water mark: an
// item is new if its number is above it on the same page. A discontinuity or a new page moves the mark; a fresh
// subscription with no other live subscription for the room starts from scratch (it cannot replay anything).

export interface DedupeState {
  /** The sequence page the mark belongs to, or null while unknown. */
  readonly page: number | null;
  /** The highest sequence number shown on that page (0 = none). */
  readonly highWater: number;
}

export const FRESH: DedupeState = {page: null, highWater: 0};

export interface Admission {
  readonly accept: boolean;
  readonly state: DedupeState;
}

/** Decides whether an item is new. `page` is the item's sequence page when known, else null. */
export function admit(state: DedupeState, sequenceNumber: number, page: number | null): Admission {
  if (page !== null && state.page !== null && page !== state.page) {
    // A new page: numbering restarted; everything on it is new.
    return {accept: true, state: {page, highWater: sequenceNumber}};
  }
  const nextPage = page ?? state.page;
  if (sequenceNumber > state.highWater) {
    return {accept: true, state: {page: nextPage, highWater: sequenceNumber}};
  }
  return {accept: false, state: nextPage === state.page ? state : {page: nextPage, highWater: state.highWater}};
}

/**
 * The stream reported a gap: the next item is `newSequenceNumber` on `newPage`. On the same page the mark only
 * moves forward (items up to it that another subscription already showed stay duplicates); on another or an
 * unknown page it is reset.
 */
export function discontinuity(state: DedupeState, newSequenceNumber: number, newPage: number): DedupeState {
  const mark = Math.max(0, newSequenceNumber - 1);
  if (state.page !== null && state.page === newPage) {
    return {page: newPage, highWater: Math.max(state.highWater, mark)};
  }
  return {page: newPage, highWater: mark};
}

// The one connection state the page shows, derived from the token and the rooms' subscriptions. Pure.

export type ConnectionState =
  | 'connecting'
  | 'live'
  | 'reconnecting'
  | 'awaiting-token'
  | 'unreachable'
  | 'offline'
  | 'paused';

export interface ConnectionInputs {
  /** navigator.onLine. */
  readonly online: boolean;
  /**
   * A token is held and not past its expiry. Without one the rooms cannot be live: the page waits for a new token
   * (a renewal the TVM answered 429, wait longer than the token had left), and says so rather than "Reconnecting…".
   */
  readonly hasToken: boolean;
  /** The page has been live at least once since login. */
  readonly everLive: boolean;
  /** Rooms that should be subscribed, and whether each one currently is (and is healthy). */
  readonly rooms: readonly {readonly live: boolean}[];
  /** Attempts to reach Momento keep failing (RoomHub.unreachable): say so rather than "Reconnecting…" forever. */
  readonly serviceUnreachable: boolean;
  /** The tab is hidden: it holds no subscription (the browser's connections are for the visible tab). */
  readonly hidden?: boolean;
}

export function deriveConnectionState(inputs: ConnectionInputs): ConnectionState {
  if (!inputs.online) {
    return 'offline';
  }
  if (inputs.hidden === true) {
    return 'paused';
  }
  if (inputs.hasToken && inputs.rooms.every(room => room.live)) {
    return 'live';
  }
  if (inputs.serviceUnreachable) {
    return 'unreachable';
  }
  if (!inputs.hasToken) {
    return 'awaiting-token';
  }
  return inputs.everLive ? 'reconnecting' : 'connecting';
}

export const CONNECTION_LABELS: Readonly<Record<ConnectionState, string>> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  'awaiting-token': 'Waiting for a new token…',
  unreachable: 'Chat service unreachable; retrying…',
  offline: 'Offline',
  paused: 'Paused while this tab is hidden',
};

// Holds the one AppState. Every change goes through `update` with a pure function (appState.ts); after each one the
// state is brought up to date with what the page reads from the parts it drives (`observe`), and the one
// subscriber (the views, through the view model) is told.

import type {AppState} from './appState';

export class Store {
  private listener: ((state: AppState) => void) | null = null;

  /** The state with what the hub, the tab and the browser say now (runtime.ts observer); none until it is set. */
  private observe: (state: AppState) => AppState = state => state;

  constructor(private current: AppState) {}

  /** Set once the parts it reads exist (they need the store). */
  observeWith(observe: (state: AppState) => AppState): void {
    this.observe = observe;
  }

  /** The state as it would be observed now, without rendering it (the test hook's counters). */
  observed(): AppState {
    return this.observe(this.current);
  }

  get state(): AppState {
    return this.current;
  }

  /** Changes the state and renders it (synchronously: a flow may focus what the render just enabled). */
  update(change: (state: AppState) => AppState): void {
    this.current = this.observe(change(this.current));
    this.listener?.(this.current);
  }

  /** The one subscription: the views. */
  subscribe(listener: (state: AppState) => void): void {
    this.listener = listener;
    listener(this.current);
  }
}

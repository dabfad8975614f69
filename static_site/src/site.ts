// Wires the site together: the state's store, the flows, the screen, and the test hook. The store has one
// subscriber: the screen, rendering the view model (viewModel.ts) of every new state.

import * as S from './appState';
import {AUTH_MODES} from './authModes';
import {ChatFlow, RECENT_ROOMS_KEY} from './chatFlow';
import {composerError} from './chatState';
import type {AppConfig} from './config';
import {parseStoredRecent} from './roomList';
import {Context, type AppDeps} from './runtime';
import {Screen} from './screen';
import {SendFlow} from './sendFlow';
import {SignInFlow} from './signInFlow';
import {Store} from './store';
import {testMessages, testState, type ChatTestHook} from './testHook';
import {viewModel, type Now, type ViewModel} from './viewModel';

function readRecent(storage: Storage | null): string[] {
  try {
    return parseStoredRecent(storage?.getItem(RECENT_ROOMS_KEY) ?? null);
  } catch {
    return [];
  }
}

/** Starts the site in `root`; returns the read-only test hook. */
export function startSite(root: HTMLElement, config: AppConfig, deps: AppDeps): ChatTestHook {
  const now = (): Now => ({session: deps.scheduler.now(), wall: deps.scheduler.wallNow()});
  const store = new Store(S.initialState(readRecent(deps.storage), AUTH_MODES[config.authMethod].form));
  const context = new Context(config, deps, store);
  const chat = new ChatFlow(context);
  const signIn = new SignInFlow(context, chat);
  chat.signIn = signIn;
  const send = new SendFlow(context);
  const screen = new Screen(
    root,
    config,
    signIn.mode,
    {
      submit: values => signIn.submit(values),
      submitNewPassword: (password, confirmation) => signIn.submitNewPassword(password, confirmation),
      cancel: () => signIn.cancel(),
      retryNow: () => signIn.retryNow(),
      check: () => signIn.checkHostSession(),
      back: () => signIn.backToLogin(),
      continueAs: user => signIn.continueAs(user),
      join: input => chat.join(input),
      select: room => chat.select(room),
      leave: room => chat.leave(room),
      send: text => void send.send(text),
      typing: () => store.update(s => composerError(s, '')),
      logout: () => signIn.signOut(),
      explain: () => send.explain(),
    },
    actions => {
      context.actions = actions;
    },
  );
  let shown: ViewModel | null = null;
  store.subscribe(state => {
    shown = viewModel(state, now());
    screen.update(shown);
  });
  signIn.start();
  // The hook reports what the page shows (the view model last rendered), with the counters read now.
  const current = (): ViewModel => viewModel(store.observed(), now());
  return {
    state: () => testState(shown ?? current(), current().facts),
    messages: (room?: string) => testMessages(current(), room),
  };
}

// The screen, chosen from the view model in one place: a sign-in screen (built again for each new form) or the chat
// (built when the chat is entered). The one subscriber of the store (main.ts) calls `update` after every change.

import type {AuthMode} from './authModes';
import {ChatScreen, type ChatIntents} from './chatScreen';
import {cognitoEndpoint, type AppConfig} from './config';
import {signInHref} from './hostLogin';
import type {ChatActions} from './runtime';
import {HostScreen, LoginScreen, NewPasswordScreen, type SignInIntents} from './signInScreens';
import type {SignInVm, ViewModel} from './viewModel';

type Shown =
  | {readonly kind: 'sign-in'; readonly formSerial: number; readonly view: {update(vm: SignInVm): void}}
  | {readonly kind: 'chat'; readonly view: ChatScreen}
  | null;

export class Screen {
  private shown: Shown = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly config: AppConfig,
    private readonly mode: AuthMode,
    private readonly intents: SignInIntents & ChatIntents,
    /** The chat screen's one-shot actions, for the flows (null while no chat is shown). */
    private readonly setActions: (actions: ChatActions | null) => void,
  ) {}

  update(vm: ViewModel): void {
    if (vm.screen === 'sign-in') {
      const signIn = vm.signIn;
      if (this.shown?.kind !== 'sign-in' || this.shown.formSerial !== signIn.formSerial) {
        this.setActions(null);
        this.shown = {kind: 'sign-in', formSerial: signIn.formSerial, view: this.signInScreen(signIn)};
      }
      this.shown.view.update(signIn);
      return;
    }
    if (this.shown?.kind !== 'chat') {
      const view = new ChatScreen(this.root, vm.chat.me, this.intents);
      this.shown = {kind: 'chat', view};
      this.setActions(view);
    }
    this.shown.view.update(vm.chat);
  }

  private signInScreen(vm: SignInVm): {update(vm: SignInVm): void} {
    const apiHost = new URL(this.config.apiUrl).host;
    const cognitoHost = this.config.cognito === null ? null : new URL(cognitoEndpoint(this.config.cognito)).host;
    if (vm.form === 'new-password') {
      return new NewPasswordScreen(this.root, vm.username, cognitoHost ?? '', this.intents);
    }
    const host = this.config.session;
    if (vm.form === 'host' && host !== null) {
      return new HostScreen(this.root, this.mode, signInHref(host, window.location), apiHost, vm.notice, this.intents);
    }
    return new LoginScreen(this.root, this.mode, apiHost, vm.notice, cognitoHost, this.intents);
  }
}

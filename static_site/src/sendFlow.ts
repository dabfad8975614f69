// Sending a message, and "Why can't I send?". A publish goes out on a valid token: one that expired while the tab
// slept is renewed first (renewal.ts), and one Momento rejects is renewed and the message sent again, once.

import * as C from './chatState';
import {CognitoError} from './cognito';
import {encodeChatMessage, MAX_MESSAGE_LENGTH} from './messages';
import {explainText} from './notices';
import {AUTHENTICATION_ERROR, PERMISSION_ERROR, TRANSPORT_ERRORS} from './rooms';
import type {Context} from './runtime';
import {explainWith} from './sessionWiring';
import type {TabSession} from './tabs';
import {TvmError} from './tvm';

/** How long sending waits for a reconnecting room to be subscribed again before publishing anyway. */
export const SEND_WAIT_FOR_LIVE_MS = 5_000;

/** Why a publish failed, as the composer says it (the message stays in the box). */
export function notSentText(code: string, room: string, tier: string): string {
  if (code === PERMISSION_ERROR) {
    return `Not sent: your account (tier ${tier}) may not send to ${room}.`;
  }
  if (code === 'NOT_CONNECTED') {
    return 'Not sent: still connecting. Try again in a moment.';
  }
  if (TRANSPORT_ERRORS.has(code)) {
    return `Not sent: the chat service cannot be reached (${code}). Your message is still here; try again.`;
  }
  return `Not sent: the chat service refused it (${code}). Your message is still here; try again.`;
}

export class SendFlow {
  private explainSerial = 0;

  constructor(private readonly ctx: Context) {}

  async send(text: string): Promise<void> {
    const {handles, store, renewal, waiters} = this.ctx;
    const hub = handles.hub;
    const phase = store.state.phase;
    const room = phase.kind === 'chat' ? phase.active : null;
    if (hub === null || room === null) {
      return;
    }
    const trimmed = text.trim();
    if (trimmed.length > MAX_MESSAGE_LENGTH) {
      store.update(s => C.composerError(s, `Messages are at most ${MAX_MESSAGE_LENGTH} characters.`));
      return;
    }
    store.update(s => C.sending(s, true));
    // A tab resumed from sleep past its token's expiry renews first: the publish goes out on the new token.
    if (renewal.beforePublish()) {
      store.update(C.renewedBeforePublish);
      await waiters.next();
      if (handles.hub !== hub) {
        return; // logged out meanwhile
      }
    }
    if (!hub.isLive(room)) {
      // Reconnecting: resubscribe now and wait a little, so the message is not sent into a room we would not
      // see it come back from (a new subscription only gets what is published after it starts).
      hub.retryNow();
      await hub.whenLive(room, SEND_WAIT_FOR_LIVE_MS);
    }
    const payload = encodeChatMessage(trimmed, new Date(this.ctx.deps.scheduler.wallNow()));
    if (handles.hub !== hub) {
      return; // logged out meanwhile
    }
    let result = await hub.publish(room, payload);
    if (!result.ok && result.code === AUTHENTICATION_ERROR) {
      // The token expired under us: the hub asked for a new one; send again once it is here.
      if (await waiters.next()) {
        result = (await handles.hub?.publish(room, payload)) ?? result;
      }
    }
    if (handles.hub !== hub) {
      return; // logged out meanwhile
    }
    if (result.ok) {
      store.update(s => C.composerError(C.sending(s, false), ''));
      this.ctx.actions?.clearComposer();
      return;
    }
    const now = store.state.phase;
    const tier = now.kind === 'chat' ? now.token.token.scope.tier : '?';
    const code = result.code;
    store.update(s => C.composerError(C.sending(s, false), notSentText(code, room, tier)));
    this.ctx.actions?.focusComposer();
  }

  /** "Why can't I send?": `GET /token/explain` for the open room, with this tab's credentials; mints nothing. */
  explain(): void {
    const {handles, store} = this.ctx;
    const tab = handles.tab;
    const phase = store.state.phase;
    if (tab === null || phase.kind !== 'chat') {
      return;
    }
    const serial = ++this.explainSerial;
    store.update(s => C.explanation(s, null));
    void this.explainRoom(tab, phase.active).then(text => {
      if (serial === this.explainSerial && handles.tab === tab) {
        store.update(s => C.explanation(s, text));
      }
    });
  }

  private async explainRoom(tab: TabSession, room: string | null): Promise<string> {
    if (room === null) {
      return 'No room is open: join one, and this says whether you may send to it.';
    }
    const credentials = tab.sessionCredentials;
    if (credentials === null) {
      return 'Signed out.';
    }
    try {
      const explanation = await explainWith(this.ctx, credentials, [room]);
      return explainText(room, {ok: true, explanation});
    } catch (error) {
      const failure = error instanceof TvmError || error instanceof CognitoError ? error : new TvmError('unavailable', String(error));
      return explainText(room, {ok: false, error: failure});
    }
  }
}

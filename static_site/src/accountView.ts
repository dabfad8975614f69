// The account and session panel: who is signed in and the tier, the session's renewal (not announced every second),
// the session details (a disclosure: what the token allows, how long it is valid, renewals, the last error, the
// tabs, the clock), "Why can't I send?" answered in a status line, and Log out.

import {el, setText} from './dom';
import type {ChatVm} from './viewModel';

export class AccountView {
  readonly element: HTMLElement;
  private readonly tierBadge: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly renewal: HTMLElement;
  private readonly validity: HTMLElement;
  private readonly panel: Record<'scope' | 'validity' | 'renewals' | 'lastError' | 'tab' | 'clock', HTMLElement>;
  private readonly clockTerm: HTMLElement;
  private readonly explainButton: HTMLButtonElement;
  private readonly explainResult: HTMLElement;

  constructor(me: ChatVm['me'], intents: {logout(): void; explain(): void}) {
    const logout = el('button', {class: 'button button--quiet', attrs: {type: 'button'}, text: 'Log out'});
    logout.addEventListener('click', () => intents.logout());
    this.tierBadge = el('span', {class: ['badge', me.kind === 'guest' ? 'badge--guest' : 'badge--tier'], text: me.badge});
    this.summary = el('span', {class: 'session__summary', text: ''});
    this.renewal = el('span', {class: 'session__detail', text: ''});
    this.validity = el('span', {class: 'session__detail', text: ''});
    const dd = (id: string): HTMLElement => el('dd', {attrs: {id}});
    this.panel = {
      scope: dd('session-scope'),
      validity: dd('session-validity'),
      renewals: dd('session-renewals'),
      lastError: dd('session-last-error'),
      tab: dd('session-tab'),
      clock: dd('session-clock'),
    };
    this.clockTerm = el('dt', {text: 'Clock'});
    this.explainButton = el('button', {class: 'button button--quiet', attrs: {type: 'button'}, text: 'Why can’t I send?'});
    this.explainButton.addEventListener('click', () => intents.explain());
    this.explainResult = el('p', {class: 'session-panel__explain', attrs: {id: 'session-explain', role: 'status'}});
    const details = el(
      'details',
      {class: 'session-panel', attrs: {id: 'session-panel'}},
      el('summary', {text: 'Session details'}),
      el(
        'dl',
        {class: 'session-panel__list'},
        el('dt', {text: 'Access'}),
        this.panel.scope,
        el('dt', {text: 'Valid for'}),
        this.panel.validity,
        el('dt', {text: 'Renewals'}),
        this.panel.renewals,
        el('dt', {text: 'Last error'}),
        this.panel.lastError,
        el('dt', {text: 'Tabs'}),
        this.panel.tab,
        this.clockTerm,
        this.panel.clock,
      ),
      this.explainButton,
      this.explainResult,
    );
    this.element = el(
      'section',
      {class: 'account', attrs: {'aria-label': 'Your account'}},
      el(
        'p',
        {class: 'whoami'},
        el('span', {class: 'whoami__label', text: 'Signed in as '}),
        el('span', {class: 'whoami__name', text: me.label}),
        this.tierBadge,
      ),
      el('p', {class: 'session', attrs: {id: 'session-status'}}, this.summary, this.renewal, this.validity),
      details,
      logout,
    );
  }

  update(vm: ChatVm): void {
    // A renewed token may carry another tier (a Cognito group change): the badge follows it.
    setText(this.tierBadge, vm.me.badge);
    setText(this.summary, vm.session.summary);
    setText(this.renewal, vm.session.renewal);
    setText(this.validity, vm.session.validity);
    const {panel} = vm;
    setText(this.panel.scope, panel.scope);
    setText(this.panel.validity, panel.validity);
    setText(this.panel.renewals, panel.renewals);
    setText(this.panel.lastError, panel.lastError);
    setText(this.panel.tab, panel.tab);
    setText(this.panel.clock, panel.clock ?? '');
    this.panel.clock.hidden = panel.clock === null;
    this.clockTerm.hidden = panel.clock === null;
    this.explainButton.disabled = vm.explain.pending;
    setText(this.explainResult, vm.explain.text);
  }
}

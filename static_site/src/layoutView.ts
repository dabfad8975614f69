// The chat's layout: the header (the Rooms button on a phone, the brand, the connection state, announced), the
// skip link, and the drawer (rooms and account) beside the conversation, or in its place on a phone.

import {CONNECTION_LABELS, type ConnectionState} from './connection';
import {el, replaceChildren, setText} from './dom';
import {brand} from './signInForms';

/** At this width and under, the rooms and the account are a drawer in the conversation's place (as in style.css). */
const NARROW_QUERY = '(max-width: 720px)';

export class LayoutView {
  private readonly connection: HTMLElement;
  private readonly connectionDot: HTMLElement;
  private readonly drawerToggle: HTMLButtonElement;
  private readonly drawerUnread: HTMLElement;
  private readonly layout: HTMLElement;
  private readonly drawer: HTMLElement;
  /** The phone layout's media query; null where matchMedia is missing (then the drawer is never modal-like). */
  private readonly narrow: MediaQueryList | null;
  private drawerOpen = false;
  private shown = {connection: 'connecting' as ConnectionState, unread: 0};

  /** `focusInDrawer`: where the focus goes when the drawer opens (the open room's button, else the join field). */
  constructor(
    root: HTMLElement,
    parts: {nav: HTMLElement; account: HTMLElement; main: HTMLElement},
    private readonly focusInDrawer: () => HTMLElement,
  ) {
    this.connectionDot = el('span', {class: ['dot', 'dot--connecting'], attrs: {'aria-hidden': 'true'}});
    this.connection = el('span', {class: 'connection__label', text: CONNECTION_LABELS.connecting});
    this.drawerUnread = el('span', {class: 'unread', attrs: {hidden: true}});
    this.drawerToggle = el(
      'button',
      {
        class: 'button button--quiet drawer-toggle',
        attrs: {type: 'button', id: 'rooms-toggle', 'aria-expanded': 'false', 'aria-controls': 'rooms-drawer'},
      },
      el('span', {class: 'drawer-toggle__icon', attrs: {'aria-hidden': 'true'}}),
      'Rooms',
      this.drawerUnread,
    );
    this.drawerToggle.addEventListener('click', () => this.setDrawer(!this.drawerOpen, true));
    const header = el(
      'header',
      {class: 'topbar'},
      this.drawerToggle,
      brand(),
      el('span', {class: 'connection', attrs: {role: 'status', 'aria-live': 'polite'}}, this.connectionDot, this.connection),
    );
    this.drawer = el('div', {class: 'drawer', attrs: {id: 'rooms-drawer'}}, parts.nav, parts.account);
    const skip = el('a', {class: 'skip-link', attrs: {href: '#composer-input'}, text: 'Skip to the message box'});
    this.layout = el('div', {class: 'layout'}, this.drawer, parts.main);
    replaceChildren(root, skip, header, this.layout);

    // Escape closes the drawer and gives the focus back to its button.
    for (const part of [header, this.drawer]) {
      part.addEventListener('keydown', event => {
        if (event.key === 'Escape' && this.drawerOpen) {
          event.preventDefault();
          this.setDrawer(false, true);
        }
      });
    }
    this.narrow = typeof window.matchMedia === 'function' ? window.matchMedia(NARROW_QUERY) : null;
    const onWidth = (): void => {
      if (!this.layout.isConnected) {
        this.narrow?.removeEventListener('change', onWidth); // this view was replaced (signed out)
      } else if (this.narrow?.matches !== true && this.drawerOpen) {
        this.setDrawer(false, false); // wide again: the rooms are beside the conversation, nothing to close
      }
    };
    this.narrow?.addEventListener('change', onWidth);
    this.main = parts.main;
  }

  private readonly main: HTMLElement;

  update(connection: ConnectionState, unread: number): void {
    if (connection !== this.shown.connection) {
      setText(this.connection, CONNECTION_LABELS[connection]);
      this.connectionDot.className = `dot dot--${connection}`;
    }
    if (unread !== this.shown.unread) {
      // The Rooms button tells, while the drawer is closed, that other rooms have new messages.
      replaceChildren(
        this.drawerUnread,
        el('span', {attrs: {'aria-hidden': 'true'}, text: unread > 99 ? '99+' : String(unread)}),
        el('span', {class: 'sr-only', text: `(${unread} unread)`}),
      );
      this.drawerUnread.hidden = unread === 0;
    }
    this.shown = {connection, unread};
  }

  /**
   * Opens or closes the rooms drawer (phone layout). Open: it takes the conversation's place (inert, hidden) and the focus
   * moves in (the open room's button, else the join field). Closed: the focus returns to the Rooms button when asked
   * (Escape, the button) or when it was inside the drawer.
   */
  setDrawer(open: boolean, returnFocus: boolean): void {
    const focusInside = this.drawer.contains(document.activeElement);
    this.drawerOpen = open;
    this.drawerToggle.setAttribute('aria-expanded', String(open));
    this.layout.classList.toggle('layout--drawer-open', open);
    this.main.inert = open && this.narrow?.matches === true;
    if (open) {
      this.focusInDrawer().focus();
    } else if (this.narrow?.matches === true && (returnFocus || focusInside)) {
      this.drawerToggle.focus();
    }
  }
}

// A tiny element builder. Text goes in through textContent only: no innerHTML anywhere in the site, so nothing a
// message (or a server) sends can become markup.

type Child = Node | string | null | undefined | false;

export interface ElementProps {
  /** CSS classes (each entry may hold several, space-separated); falsy entries are skipped. */
  readonly class?: readonly (string | false | null | undefined)[] | string;
  /** Attributes (aria-*, id, type, ...). `style` is never set from here (the CSP forbids inline styles). */
  readonly attrs?: Readonly<Record<string, string | number | boolean | null | undefined>>;
  readonly text?: string;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  const classes = typeof props.class === 'string' ? [props.class] : (props.class ?? []);
  for (const entry of classes) {
    for (const name of entry ? entry.split(/\s+/) : []) {
      if (name !== '') {
        node.classList.add(name);
      }
    }
  }
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    node.setAttribute(name, value === true ? '' : String(value));
  }
  if (props.text !== undefined) {
    node.textContent = props.text;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(
    ...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false),
  );
}

/** Sets text only when it changed (keeps aria-live regions from re-announcing the same words). */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

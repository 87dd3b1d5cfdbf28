/** A tiny DOM builder: h('button', { onclick }, 'Save'). No framework: the dashboard stays small. */
type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value as EventListener);
    else if (name === 'value' && 'value' in el) (el as HTMLInputElement).value = String(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function svg(tag: string, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  return el;
}

let navigation = 0;

/** Starts a navigation: pages begun before it no longer paint (see `painter`). */
export function navigate(): void {
  navigation++;
}

/**
 * A render bound to the navigation in progress when the page began. A page fetches before it
 * paints; if the user (or a second route) has moved on by the time its answer arrives, the
 * stale page is dropped instead of painting over the newer one.
 */
export function painter(): (...children: Child[]) => void {
  const mine = navigation;
  return (...children: Child[]) => {
    if (mine === navigation) render(...children);
  };
}

/** Replaces the page content and moves focus to it (keyboard and screen-reader users land on the new page). */
export function render(...children: Child[]): void {
  const main = document.getElementById('main')!;
  main.replaceChildren();
  append(main, children);
  main.focus({ preventScroll: true });
}

export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const box = document.getElementById('toast')!;
  const msg = h('div', { class: `msg ${kind}` }, message);
  box.appendChild(msg);
  setTimeout(() => msg.remove(), 6000);
}

/** The value of a named field of a form. */
export const field = (form: HTMLFormElement, name: string): string => ((form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '').trim();

export function table(columns: string[], rows: Child[][]): HTMLElement {
  return h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

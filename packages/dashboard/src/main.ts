// The engram dashboard: a hash-routed single page over @engram/client, no framework.
import { EngramApiError } from '../../../packages/client/src/index.js';
import { field, h, navigate, painter, render, toast } from './dom.js';
import { session, Session, signIn, signOut } from './session.js';
import { keysPage, metricsPage, schedulerPage, tenantsPage } from './views/operator.js';
import { cubesPage, lifecyclePage, memoriesPage, memoryPage, searchPage } from './views/tenant.js';
import { cachesPage } from './views/caches.js';

function signInPage(): void {
  const form = h('form', { 'aria-label': 'Sign in', onsubmit: async (e: Event) => {
    e.preventDefault();
    try {
      const s = await signIn(field(form, 'token'));
      go(s.kind === 'admin' ? '#/tenants' : '#/cubes');
    } catch (error) {
      toast(error instanceof EngramApiError ? `${error.code}: ${error.message}` : 'sign-in failed', 'error');
    }
  } },
    h('label', {}, 'Admin token or API key', h('input', { name: 'token', type: 'password', required: true, autocomplete: 'off', id: 'token' })),
    h('p', {}, h('button', { type: 'submit' }, 'Sign in')),
  );
  render(h('h1', {}, 'Sign in'), h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Operators sign in with the admin token, tenants with an API key. It is kept for this tab only.'), form));
}

function chrome(s: Session | null): void {
  const links: [string, string][] = !s ? [] : s.kind === 'admin' ? [['#/tenants', 'Tenants'], ['#/scheduler', 'Scheduler'], ['#/metrics', 'Metrics']] : [['#/cubes', 'Cubes']];
  const here = location.hash.split('?')[0];
  document.getElementById('nav')!.replaceChildren(...links.map(([href, label]) => h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : undefined }, label)));
  document.getElementById('who')!.replaceChildren(
    ...(s ? [s.kind === 'admin' ? 'operator ' : 'tenant ', h('button', { class: 'secondary', onclick: () => { signOut(); go('#/'); } }, 'Sign out')] : []),
  );
}

/** Goes to a page: a new hash routes through the hashchange event (once); the same hash routes again here. */
function go(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

async function route(): Promise<void> {
  navigate();
  const paint = painter();
  const s = session();
  chrome(s);
  if (!s) return signInPage();
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  try {
    // Inside the try: a mangled link (%E0%A4%A) is a URIError to show, not a page left half drawn.
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (s.kind === 'admin') {
      if (parts[0] === 'metrics') return await metricsPage();
      if (parts[0] === 'scheduler') return await schedulerPage(s);
      if (parts[0] === 'tenants' && parts[1]) return await keysPage(s, parts[1]);
      return await tenantsPage(s);
    }
    if (parts[0] === 'cubes' && parts[1] && parts[2] === 'memories' && parts[3]) return await memoryPage(s, parts[1], parts[3]);
    if (parts[0] === 'cubes' && parts[1] && parts[2] === 'memories') return await memoriesPage(s, parts[1], params);
    if (parts[0] === 'cubes' && parts[1] && parts[2] === 'search') return await searchPage(s, parts[1], params);
    if (parts[0] === 'cubes' && parts[1] && parts[2] === 'lifecycle') return await lifecyclePage(s, parts[1]);
    if (parts[0] === 'cubes' && parts[1] && parts[2] === 'caches') return await cachesPage(s, parts[1]);
    return await cubesPage(s, params);
  } catch (error) {
    if (error instanceof EngramApiError && error.status === 401) {
      // Revoked, expired or deleted since sign-in: say so, instead of a sign-in page out of nowhere.
      signOut();
      toast(`${s.kind === 'admin' ? 'The admin token' : 'This API key'} was refused (${error.message}): sign in again.`, 'error');
      return go('#/');
    }
    paint(h('h1', {}, 'Something went wrong'), h('p', { role: 'alert' }, error instanceof EngramApiError ? `${error.code}: ${error.message}` : String(error)));
  }
}

// The skip link moves focus to the content; its href (#main) must not route (it would leave the page for the start page).
document.querySelector<HTMLAnchorElement>('a.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main')!.focus();
});
window.addEventListener('hashchange', () => void route());
window.addEventListener('unhandledrejection', (e) => toast(e.reason instanceof EngramApiError ? `${e.reason.code}: ${e.reason.message}` : String(e.reason), 'error'));
void route();

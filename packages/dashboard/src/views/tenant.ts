import { EngramApiError } from '../../../../packages/client/src/index.js';
import type { Memory, SearchResult } from '../../../../packages/client/src/index.js';
import { wordDiff } from '../diff.js';
import { field, h, painter, table, toast } from '../dom.js';
import type { Session } from '../session.js';

const KINDS = ['fact', 'episode', 'preference', 'procedure', 'message'];
// The filter's empty choice is `active` (what a list shows by default), so `active` is not listed again.
const STATES = ['archived', 'expired', 'merged', 'superseded', 'deleted'];
/** Cubes per page of the cube list: each one costs a stats request. */
const CUBES_PER_PAGE = 25;
const esc = encodeURIComponent;

/** Tenant: the key's cubes with their memory counts by kind and state. */
export async function cubesPage(s: Session, params: URLSearchParams = new URLSearchParams()): Promise<void> {
  const paint = painter();
  // A page at a time: every cube on it costs a stats request (a tenant with thousands of cubes
  // used to see only its first 200, after 200 requests that ate its rate limit).
  const cursor = params.get('cursor') || undefined;
  const page = await s.client.cubes.list({ limit: CUBES_PER_PAGE, cursor });
  const stats = await Promise.all(page.items.map((c) => s.client.cubes.stats(c.id)));
  const create = h('form', { class: 'inline', 'aria-label': 'Create cube', onsubmit: async (e: Event) => {
    e.preventDefault();
    const name = field(create, 'name');
    if (!name) return toast('give the cube a name', 'error');
    await s.client.cubes.getOrCreate(name, { description: field(create, 'description') || undefined });
    toast(`cube ${name} ready`);
    await cubesPage(s, params);
  } }, h('label', {}, 'Cube name', h('input', { name: 'name', required: true, autocomplete: 'off' })), h('label', {}, 'Description', h('input', { name: 'description', autocomplete: 'off' })), h('button', { type: 'submit' }, 'Create cube'));
  const counts = (m: Record<string, number>) => Object.entries(m).map(([k, n]) => h('span', { class: 'pill' }, `${k} ${n}`));
  paint(
    h('h1', {}, 'Cubes'),
    h('div', { class: 'card' }, create),
    h('div', { class: 'card' }, page.items.length || cursor ? null : h('p', { class: 'muted' }, 'No cubes yet: create one above.'), table(['Cube', 'Memories', 'By kind', 'By state', ''], stats.map((st) => [
      h('a', { href: `#/cubes/${esc(st.cube.id)}/memories` }, st.cube.name),
      st.memories.total,
      counts(st.memories.byKind),
      counts(st.memories.byState),
      h('a', { href: `#/cubes/${esc(st.cube.id)}/search`, 'aria-label': `Search ${st.cube.name}` }, 'Search'),
    ])), pager('#/cubes', cursor, page.nextCursor)),
  );
}

/** "First page" when past it, "Next page →" when there is one (lists page by cursor, forward only). */
function pager(base: string, cursor: string | undefined, nextCursor: string | null | undefined, params = new URLSearchParams()): HTMLElement | null {
  if (!cursor && !nextCursor) return null;
  const first = new URLSearchParams(params);
  first.delete('cursor');
  const next = new URLSearchParams(params);
  if (nextCursor) next.set('cursor', nextCursor);
  const href = (q: URLSearchParams) => (q.toString() ? `${base}?${q}` : base);
  return h('p', { class: 'pager' }, cursor ? h('a', { href: href(first) }, '← First page') : null, cursor && nextCursor ? ' · ' : null, nextCursor ? h('a', { href: href(next) }, 'Next page →') : null);
}

export function cubeNav(cubeId: string, name: string): HTMLElement {
  const link = (path: string, label: string) => [' · ', h('a', { href: `#/cubes/${esc(cubeId)}/${path}` }, label)];
  return h('p', {}, h('a', { href: '#/cubes' }, '← Cubes'), ' · ', h('strong', {}, name), link('memories', 'Memories'), link('search', 'Search'), link('lifecycle', 'Lifecycle'), link('caches', 'Caches and banks'));
}

/** Tenant: memory browser with filters and paging, and a form to add memories. */
export async function memoriesPage(s: Session, cubeId: string, params: URLSearchParams): Promise<void> {
  const paint = painter();
  const cube = await s.client.cubes.get(cubeId);
  const query = { limit: 25, kind: params.get('kind') || undefined, state: params.get('state') || undefined, tags: params.get('tags') || undefined, cursor: params.get('cursor') || undefined };
  const page = await s.client.memories.list(cubeId, query);
  const filters = h('form', { class: 'inline', role: 'search', 'aria-label': 'Filter memories', onsubmit: (e: Event) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const name of ['kind', 'state', 'tags']) if (field(filters, name)) next.set(name, field(filters, name));
    location.hash = `#/cubes/${esc(cubeId)}/memories?${next}`;
  } },
    h('label', {}, 'Kind', h('select', { name: 'kind' }, h('option', { value: '' }, 'any'), KINDS.map((k) => h('option', { value: k, selected: query.kind === k }, k)))),
    h('label', {}, 'State', h('select', { name: 'state' }, h('option', { value: '' }, 'active'), STATES.map((k) => h('option', { value: k, selected: query.state === k }, k)))),
    h('label', {}, 'Tags (any)', h('input', { name: 'tags', value: query.tags ?? '', autocomplete: 'off' })),
    h('button', { type: 'submit', class: 'secondary' }, 'Filter'),
  );
  const add = h('form', { 'aria-label': 'Add memories', onsubmit: async (e: Event) => {
    e.preventDefault();
    const texts = field(add, 'texts').split('\n').map((t) => t.trim()).filter(Boolean);
    if (!texts.length) return toast('write at least one memory, one per line', 'error');
    const kind = field(add, 'kind') || undefined;
    await s.client.memories.add(cubeId, texts.map((text) => ({ text, kind: kind as Memory['kind'] as never })));
    toast(`${texts.length} memor${texts.length === 1 ? 'y' : 'ies'} added`);
    await memoriesPage(s, cubeId, params);
  } },
    h('label', {}, 'New memories, one per line', h('textarea', { name: 'texts', rows: 3 })),
    h('div', { class: 'inline', style: 'display:flex;gap:8px;margin-top:8px;align-items:flex-end' }, h('label', {}, 'Kind', h('select', { name: 'kind' }, KINDS.map((k) => h('option', { value: k }, k)))), h('button', { type: 'submit' }, 'Add memories')),
  );
  paint(
    h('h1', {}, `Memories of ${cube.name}`),
    cubeNav(cubeId, cube.name),
    h('div', { class: 'card' }, add),
    h('div', { class: 'card' }, filters),
    h('div', { class: 'card' }, page.items.length ? null : h('p', { class: 'muted' }, query.kind || query.state || query.tags ? 'No memories match these filters.' : 'No memories yet: add some above.'), table(['Text', 'Kind', 'State', 'Tags', 'Version', 'Created'], page.items.map((m) => [
      // An erased memory has no text left: an empty link could not be seen or clicked.
      h('a', { href: `#/cubes/${esc(cubeId)}/memories/${esc(m.id)}` }, m.text || h('em', {}, m.erasedAt ? '(erased)' : '(no text)')),
      m.kind,
      m.state,
      m.tags.map((t) => h('span', { class: 'pill' }, t)),
      m.version,
      new Date(m.createdAt).toLocaleString(),
    ])), pager(`#/cubes/${esc(cubeId)}/memories`, query.cursor, page.nextCursor, params)),
  );
}

/** Tenant: one memory and its version history, each change shown as a word diff. */
export async function memoryPage(s: Session, cubeId: string, memoryId: string): Promise<void> {
  const paint = painter();
  // A deleted memory is a 404 on GET, yet its history answers and restore brings it back: the
  // list of deleted memories links here, so show what the history knows instead of an error.
  const [cube, memory, history] = await Promise.all([
    s.client.cubes.get(cubeId),
    s.client.memories.get(cubeId, memoryId).catch((error: unknown) => {
      if (error instanceof EngramApiError && error.status === 404) return null;
      throw error;
    }),
    s.client.memories.history(cubeId, memoryId),
  ]);
  const restore = h('button', { class: 'secondary', onclick: async () => {
    await s.client.memories.restore(cubeId, memoryId);
    toast('memory restored');
    await memoryPage(s, cubeId, memoryId);
  } }, 'Restore');
  const historyCard = h('div', { class: 'card' }, h('h2', {}, 'History'), h('ol', { class: 'diff' }, history.map((v) => {
    const before = typeof v.oldValues?.text === 'string' ? v.oldValues.text : '';
    const after = typeof v.newValues?.text === 'string' ? v.newValues.text : before;
    return h('li', {}, h('strong', {}, `v${v.version} ${v.action}`), ' ', h('span', { class: 'muted' }, `${new Date(v.at).toLocaleString()} by ${v.actorType}${v.reason ? ` — ${v.reason}` : ''}`), h('div', {}, wordDiff(before, after)));
  })));
  if (!memory) {
    // Erased (memories:erase) is deleted for good: no text left, and restore answers 409.
    if (history.some((v) => v.action === 'erase')) {
      return paint(h('h1', {}, 'Memory (erased)'), cubeNav(cubeId, cube.name), h('div', { class: 'card' }, h('p', { role: 'status' }, 'This memory was erased for good: its contents are gone and it cannot be restored.')), historyCard);
    }
    const lastText = [...history].reverse().map((v) => v.newValues?.text).find((t): t is string => typeof t === 'string');
    return paint(
      h('h1', {}, 'Memory (deleted)'),
      cubeNav(cubeId, cube.name),
      h('div', { class: 'card' }, h('p', { role: 'status' }, 'This memory is deleted: searches and lists skip it. Restore brings it back as it was.'), lastText !== undefined ? h('blockquote', {}, lastText) : null, h('p', {}, restore)),
      historyCard,
    );
  }
  const edit = h('form', { 'aria-label': 'Edit memory', onsubmit: async (e: Event) => {
    e.preventDefault();
    await s.client.memories.update(cubeId, memoryId, { text: field(edit, 'text'), reason: field(edit, 'reason') || undefined });
    toast('memory updated');
    await memoryPage(s, cubeId, memoryId);
  } }, h('label', {}, 'Text', h('textarea', { name: 'text', value: memory.text }, memory.text)), h('label', {}, 'Why it changed', h('input', { name: 'reason', autocomplete: 'off' })), h('p', {}, h('button', { type: 'submit' }, 'Save')));
  paint(
    h('h1', {}, 'Memory'),
    cubeNav(cubeId, cube.name),
    h('div', { class: 'card' }, table(['Field', 'Value'], Object.entries(memory).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '')]))),
    // Only an active memory takes edits; the others (merged, superseded, expired, archived) can be restored.
    memory.state === 'active' ? h('div', { class: 'card' }, edit) : h('div', { class: 'card' }, h('p', { role: 'status' }, `This memory is ${memory.state}: restore makes it active again.`), h('p', {}, restore)),
    historyCard,
  );
}

function scoreBars(result: SearchResult): HTMLElement | null {
  const ex = result.explain as { dense?: { similarity: number } | null; lexical?: { bm25: number } | null; fusion?: { combined: number }; priors?: { importance: number; recency: number; timeIntent: number } } | undefined;
  if (!ex) return null;
  const parts: [string, number][] = [
    ['dense', ex.dense?.similarity ?? 0],
    ['lexical', ex.lexical ? ex.lexical.bm25 / (1 + ex.lexical.bm25) : 0],
    ['fused', ex.fusion?.combined ?? 0],
    ['importance', ex.priors?.importance ?? 0],
    ['recency', ex.priors?.recency ?? 0],
    ['score', result.score],
  ];
  return h('div', { class: 'bars', role: 'list', 'aria-label': 'Score parts' }, parts.map(([label, value]) => [
    h('span', { role: 'listitem' }, label),
    h('div', { class: 'track', 'aria-hidden': 'true' }, h('div', { class: 'fill', style: `width:${Math.max(0, Math.min(1, value)) * 100}%` })),
    h('span', {}, value.toFixed(3)),
  ]));
}

/** Tenant: search playground; each result shows its score parts as bars (explain). */
export async function searchPage(s: Session, cubeId: string, params: URLSearchParams): Promise<void> {
  const paint = painter();
  const cube = await s.client.cubes.get(cubeId);
  const q = params.get('q') ?? '';
  const results = q ? await s.client.memories.search(cubeId, q, { topK: 10, explain: true }) : [];
  const form = h('form', { class: 'inline', role: 'search', 'aria-label': 'Search memories', onsubmit: (e: Event) => {
    e.preventDefault();
    location.hash = `#/cubes/${esc(cubeId)}/search?${new URLSearchParams({ q: field(form, 'q') })}`;
  } }, h('label', { style: 'flex:1' }, 'Query', h('input', { name: 'q', value: q, autocomplete: 'off' })), h('button', { type: 'submit' }, 'Search'));
  paint(
    h('h1', {}, `Search ${cube.name}`),
    cubeNav(cubeId, cube.name),
    h('div', { class: 'card' }, form),
    h('div', { class: 'card', id: 'results' }, q && !results.length ? h('p', {}, 'No results.') : null, results.map((r, i) => h('div', { class: 'result' }, h('div', {}, h('strong', {}, `${i + 1}. `), r.text, ' ', h('span', { class: 'pill' }, r.kind)), scoreBars(r)))),
  );
}

interface LifecycleEvent {
  id: string;
  action: string;
  memoryIds: string[];
  reason: Record<string, unknown>;
  actorType: string;
  actorId: string | null;
  at: string;
}

/** Tenant: the cube's lifecycle events (merges, supersessions, expiries, restores), newest first. */
export async function lifecyclePage(s: Session, cubeId: string): Promise<void> {
  const paint = painter();
  const cube = await s.client.cubes.get(cubeId);
  const events = (await s.client.request<{ items: LifecycleEvent[] }>('GET', `/v1/cubes/${esc(cubeId)}/lifecycle/events`, { query: { limit: 100 } })).items;
  paint(
    h('h1', {}, `Lifecycle of ${cube.name}`),
    cubeNav(cubeId, cube.name),
    h('div', { class: 'card' }, events.length
      ? h('ol', { class: 'timeline', 'aria-label': 'Lifecycle events' }, events.map((e) => h('li', {}, h('strong', {}, e.action), ' ', h('span', { class: 'muted' }, `${new Date(e.at).toLocaleString()} · ${e.actorType}${e.actorId ? ` ${e.actorId}` : ''}`), h('div', {}, e.memoryIds.map((id) => h('a', { href: `#/cubes/${esc(cubeId)}/memories/${esc(id)}`, class: 'pill' }, id.slice(0, 8)))), h('div', { class: 'muted' }, JSON.stringify(e.reason)))))
      : h('p', { class: 'muted' }, 'No lifecycle events yet: merges, supersessions and expiries appear here.')),
  );
}

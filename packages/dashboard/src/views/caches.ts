// Tenant: a cube's KV caches by tier with their hit rates, and each memory bank as a heat map
// of its blocks (write counts, staleness). ADR 0504, 0506.
import { h, painter, table } from '../dom.js';
import type { Session } from '../session.js';
import { cubeNav } from './tenant.js';

const esc = encodeURIComponent;
const TIERS = ['ram', 'disk', 'object'] as const;

interface KvCache { id: string; model: string; tokens: number; bytes: number; tier: string }
interface KvHitRates { hits: Record<(typeof TIERS)[number], number>; misses: number; lookups: number; hitRate: number | null; since: string }
interface WorkingMemory { state: string; model: string | null; tier: string | null; generation: number; memories: number; tokens: number; maxTokens: number; bytes: number; builtAt?: string | null; staleSince?: string | null }
interface Overview { activation: { bytesByTier: Record<string, number>; kvCaches: number; workingMemory: WorkingMemory } }
interface BankLevel { level: number; rank: number; nodes: number; treeNodes: number; writtenBlocks: number; staleBlocks: number }
interface Bank { id: string; model: string; state: string; levels: number; generation: number }
interface BlockCell { level: number; node: number; writes: number; memories: number; stale: boolean; locked: boolean; writtenAt: string }
interface BlockMap { bankId: string; generation: number; levels: BankLevel[]; blocks: BlockCell[] }

/** Slots drawn per level; beyond it only the written blocks are drawn (a 16^4 level has 65,536 slots). */
const MAX_SLOTS = 256;

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 ** 2).toFixed(1)} MB`);

function hitBars(rates: KvHitRates): HTMLElement {
  const share = (n: number) => (rates.lookups ? n / rates.lookups : 0);
  const rows: [string, number][] = [...TIERS.map((t): [string, number] => [`${t} hits`, rates.hits[t]]), ['misses', rates.misses]];
  return h('div', { class: 'bars wide', role: 'list', 'aria-label': 'KV chunk lookups by tier' }, rows.map(([label, n]) => [
    h('span', { role: 'listitem' }, label),
    h('div', { class: 'track', 'aria-hidden': 'true' }, h('div', { class: label === 'misses' ? 'fill miss' : 'fill', style: `width:${share(n) * 100}%` })),
    h('span', {}, `${n} (${pct(rates.lookups ? share(n) : null)})`),
  ]));
}

/** The cube's working memory (ADR 0402, from GET …/overview): the KV cache chat uses when a request names none. */
function workingMemoryLine(w: WorkingMemory): HTMLElement {
  if (w.state === 'off') return h('p', { id: 'working-memory' }, h('strong', {}, 'Working memory: off'), h('span', { class: 'muted' }, ' · set the cube\'s activation policy (a model) to keep its hottest memories as a KV cache'));
  const built = w.builtAt ? ` · built ${new Date(w.builtAt).toLocaleString()}` : '';
  const stale = w.staleSince ? ` · stale since ${new Date(w.staleSince).toLocaleString()}` : '';
  return h('p', { id: 'working-memory' }, h('strong', {}, `Working memory: ${w.state}`), h('span', { class: 'muted' }, ` · ${w.model ?? '?'} · ${w.tier ?? 'no'} tier · ${w.memories} memories, ${w.tokens}/${w.maxTokens} tokens, ${bytes(w.bytes)} · generation ${w.generation}${built}${stale}`));
}

function kvSection(caches: KvCache[], rates: KvHitRates, overview: Overview): HTMLElement {
  // Client-built caches by tier; the working memory is counted in its own line above.
  const byTier = new Map<string, { n: number; bytes: number }>();
  for (const c of caches) {
    const t = byTier.get(c.tier) ?? { n: 0, bytes: 0 };
    byTier.set(c.tier, { n: t.n + 1, bytes: t.bytes + c.bytes });
  }
  const tierRows = [...TIERS, 'missing'].filter((t) => byTier.has(t) || t !== 'missing').map((t) => [
    t,
    byTier.get(t)?.n ?? 0,
    bytes(byTier.get(t)?.bytes ?? 0),
    t === 'missing' ? '—' : rates.hits[t as (typeof TIERS)[number]],
    t === 'missing' ? '—' : pct(rates.lookups ? rates.hits[t as (typeof TIERS)[number]] / rates.lookups : null),
  ]);
  return h('div', { class: 'card' },
    h('h2', {}, 'KV caches by tier'),
    workingMemoryLine(overview.activation.workingMemory),
    h('p', {}, h('strong', { id: 'kv-hit-rate' }, `Hit rate ${pct(rates.hitRate)}`), h('span', { class: 'muted' }, ` · ${rates.lookups} chunk lookups by chat since ${new Date(rates.since).toLocaleString()} (this server process)`)),
    table(['Tier', 'Caches', 'Bytes', 'Hits', 'Hit rate'], tierRows),
    rates.lookups ? hitBars(rates) : h('p', { class: 'muted' }, 'No lookups yet: chat with the cube and its KV caches to see hit rates.'),
    caches.length ? null : h('p', { class: 'muted' }, 'No KV caches.'),
  );
}

/** Blue deepens with the write count; stale blocks are outlined in orange; unwritten slots stay grey. */
function cellStyle(cell: BlockCell | undefined, maxWrites: number): string {
  if (!cell) return 'background:#e3e6ec';
  const heat = maxWrites > 1 ? (cell.writes - 1) / (maxWrites - 1) : 1;
  const lightness = 78 - Math.round(heat * 46);
  return `background:hsl(222,70%,${lightness}%)${cell.stale ? ';outline:2px solid #c2410c;outline-offset:-2px' : ''}`;
}

function levelHeatMap(level: BankLevel, cells: BlockCell[], maxWrites: number): HTMLElement {
  const byNode = new Map(cells.map((c) => [c.node, c]));
  const slots = level.nodes <= MAX_SLOTS ? Array.from({ length: level.nodes }, (_, node) => node) : cells.map((c) => c.node);
  const label = `level ${level.level}: ${level.writtenBlocks} of ${level.treeNodes} blocks written, ${level.staleBlocks} stale, up to ${Math.max(0, ...cells.map((c) => c.writes))} writes`;
  return h('div', { class: 'level' },
    h('span', {}, `level ${level.level}`),
    h('div', { class: 'heat', role: 'img', 'aria-label': label, style: `grid-template-columns:repeat(${Math.min(32, Math.max(1, slots.length))}, 14px)` }, slots.map((node) => {
      const cell = byNode.get(node);
      const title = cell
        ? `level ${level.level} node ${node}: ${cell.writes} write${cell.writes === 1 ? '' : 's'}, ${cell.memories} memories${cell.stale ? ', stale' : ''}${cell.locked ? ', locked' : ''}, written ${new Date(cell.writtenAt).toLocaleString()}`
        : `level ${level.level} node ${node}: never written`;
      return h('span', { class: cell ? (cell.stale ? 'cell stale' : 'cell written') : 'cell', title, style: cellStyle(cell, maxWrites) });
    })),
    h('span', { class: 'muted' }, `${level.writtenBlocks}/${level.treeNodes} written${level.staleBlocks ? `, ${level.staleBlocks} stale` : ''}${level.nodes > MAX_SLOTS ? ` (unwritten slots of ${level.nodes} not drawn)` : ''}`),
  );
}

function bankSection(bank: Bank, map: BlockMap | null): HTMLElement {
  const head = h('p', {}, h('strong', {}, `${bank.model} bank`), ` · ${bank.state} · generation ${bank.generation}`);
  if (!map) return h('div', { class: 'bank' }, head, h('p', { class: 'muted' }, bank.state === 'failed' ? 'The build failed.' : 'Building…'));
  const maxWrites = Math.max(1, ...map.blocks.map((b) => b.writes));
  const hottest = [...map.blocks].sort((a, b) => b.writes - a.writes || a.level - b.level || a.node - b.node).slice(0, 5);
  return h('div', { class: 'bank', 'aria-label': `Blocks of the ${bank.model} bank` },
    head,
    map.levels.map((l) => levelHeatMap(l, map.blocks.filter((b) => b.level === l.level), maxWrites)),
    h('p', { class: 'muted legend' }, h('span', { class: 'cell', style: cellStyle(undefined, 1) }), ' never written ', h('span', { class: 'cell', style: 'background:hsl(222,70%,78%)' }), ' written once ', h('span', { class: 'cell', style: 'background:hsl(222,70%,32%)' }), ` ${maxWrites} writes `, h('span', { class: 'cell', style: 'background:#fff;outline:2px solid #c2410c;outline-offset:-2px' }), ' stale (a memory in it changed: rewrite it)'),
    hottest.length ? table(['Most written blocks', 'Writes', 'Memories', 'Stale', 'Written'], hottest.map((b) => [`level ${b.level} · node ${b.node}`, b.writes, b.memories, b.stale ? 'stale' : '', new Date(b.writtenAt).toLocaleString()])) : h('p', { class: 'muted' }, 'No block written yet.'),
  );
}

export async function cachesPage(s: Session, cubeId: string): Promise<void> {
  const paint = painter();
  const cube = await s.client.cubes.get(cubeId);
  const [caches, bankList, overview] = await Promise.all([
    s.client.request<{ items: KvCache[]; hitRates: KvHitRates }>('GET', `/v1/cubes/${esc(cubeId)}/kv-caches`),
    s.client.request<{ items: Bank[] }>('GET', `/v1/cubes/${esc(cubeId)}/banks`),
    s.client.request<Overview>('GET', `/v1/cubes/${esc(cubeId)}/overview`),
  ]);
  const maps = await Promise.all(bankList.items.map((b) => (b.state === 'ready' ? s.client.request<BlockMap>('GET', `/v1/cubes/${esc(cubeId)}/banks/${esc(b.id)}/blocks`) : Promise.resolve(null))));
  paint(
    h('h1', {}, `Caches and banks of ${cube.name}`),
    cubeNav(cubeId, cube.name),
    kvSection(caches.items, caches.hitRates, overview),
    h('div', { class: 'card' }, h('h2', {}, 'Memory banks'), bankList.items.length ? bankList.items.map((b, i) => bankSection(b, maps[i])) : h('p', { class: 'muted' }, 'No memory banks.')),
  );
}

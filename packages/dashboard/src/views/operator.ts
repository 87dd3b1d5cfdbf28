import { barChart, latencyBands, parsePrometheus } from '../charts.js';
import { field, h, render, table, toast } from '../dom.js';
import type { Session } from '../session.js';

const SCOPES = ['cubes:write', 'memories:read', 'memories:write', 'cubes:export'];

/** Operator: tenants, and per tenant its keys (create with scopes, revoke). */
export async function tenantsPage(s: Session): Promise<void> {
  const tenants = await s.client.admin.listTenants();
  const create = h('form', { class: 'inline', 'aria-label': 'Create tenant', onsubmit: async (e: Event) => {
    e.preventDefault();
    const name = field(create, 'name');
    if (!name) return toast('give the tenant a name', 'error');
    await s.client.admin.createTenant(name);
    toast(`tenant ${name} created`);
    await tenantsPage(s);
  } }, h('label', {}, 'New tenant', h('input', { name: 'name', required: true, autocomplete: 'off' })), h('button', { type: 'submit' }, 'Create tenant'));
  render(
    h('h1', {}, 'Tenants'),
    h('div', { class: 'card' }, create),
    h('div', { class: 'card' }, table(['Name', 'Id', 'Created', ''], tenants.map((t) => [t.name, h('code', {}, t.id), new Date(t.createdAt).toLocaleString(), h('a', { href: `#/tenants/${t.id}` }, `Keys of ${t.name}`)]))),
  );
}

export async function keysPage(s: Session, tenantId: string): Promise<void> {
  const keys = await s.client.admin.listKeys(tenantId);
  const shown = h('div', { 'aria-live': 'polite' });
  const create = h('form', { class: 'inline', 'aria-label': 'Create key', onsubmit: async (e: Event) => {
    e.preventDefault();
    const scopes = SCOPES.filter((sc) => (create.elements.namedItem(sc) as HTMLInputElement).checked);
    const cubeIds = field(create, 'cubeIds').split(',').map((c) => c.trim()).filter(Boolean);
    const key = await s.client.admin.createKey(tenantId, { name: field(create, 'name') || undefined, scopes: scopes as never, cubeIds: cubeIds.length ? cubeIds : undefined });
    await keysPage(s, tenantId);
    document.getElementById('new-key')!.replaceChildren(h('p', {}, 'The key, shown once: store it now.'), h('div', { class: 'secret', id: 'new-key-secret' }, key.key));
  } },
    h('label', {}, 'Key name', h('input', { name: 'name', autocomplete: 'off' })),
    h('fieldset', {}, h('legend', { class: 'muted' }, 'Scopes'), SCOPES.map((sc) => h('label', { style: 'flex-direction:row;align-items:center' }, h('input', { type: 'checkbox', name: sc, checked: sc !== 'cubes:export' }), sc))),
    h('label', {}, 'Only cubes (ids, comma-separated)', h('input', { name: 'cubeIds', autocomplete: 'off' })),
    h('button', { type: 'submit' }, 'Create key'),
  );
  const revoke = (id: string) => async () => {
    if (!confirm('Revoke this key now?')) return;
    await s.client.admin.revokeKey(tenantId, id);
    toast('key revoked');
    await keysPage(s, tenantId);
  };
  render(
    h('h1', {}, 'API keys'),
    h('p', {}, h('a', { href: '#/tenants' }, '← Tenants')),
    h('div', { class: 'card' }, create, h('div', { id: 'new-key' }), shown),
    h('div', { class: 'card' }, table(['Name', 'Prefix', 'Scopes', 'Cubes', 'State', ''], keys.map((k) => [
      k.name ?? '',
      h('code', {}, k.prefix),
      k.scopes.map((sc) => h('span', { class: 'pill' }, sc)),
      k.cubeIds ? k.cubeIds.length : 'all',
      k.revokedAt ? 'revoked' : 'active',
      k.revokedAt ? '' : h('button', { class: 'danger', onclick: revoke(k.id), 'aria-label': `Revoke key ${k.prefix}` }, 'Revoke'),
    ]))),
  );
}

/** Operator: request latency histogram and request counts per route, from /metrics. */
export async function metricsPage(): Promise<void> {
  const metrics = parsePrometheus(await (await fetch('/metrics')).text());
  const bands = latencyBands(metrics, 'engram_http_request_duration_seconds');
  const perRoute = new Map<string, number>();
  for (const sample of metrics.get('engram_http_request_duration_seconds_count') ?? []) {
    const key = `${sample.labels.method} ${sample.labels.route}`;
    perRoute.set(key, (perRoute.get(key) ?? 0) + sample.value);
  }
  const writes = [...perRoute].filter(([route]) => /^POST .*\/(memories|messages)$/.test(route));
  render(
    h('h1', {}, 'Metrics'),
    h('div', { class: 'card' }, h('h2', {}, 'Request latency (all routes)'), barChart('Requests per latency band', bands)),
    h('div', { class: 'card' }, h('h2', {}, 'Ingest requests'), writes.length ? barChart('Write requests per route', writes.map(([route, n]) => ({ label: route.replace(/^POST \/v1\/cubes\/:cubeId\//, ''), value: n }))) : h('p', { class: 'muted' }, 'No writes yet.')),
    h('div', { class: 'card' }, h('h2', {}, 'Requests per route'), table(['Route', 'Requests'], [...perRoute].sort((a, b) => b[1] - a[1]).map(([route, n]) => [route, n]))),
  );
}

import { barChart, latencyBands, parsePrometheus } from '../charts.js';
import { field, h, painter, table, toast } from '../dom.js';
import type { Session } from '../session.js';

/** Every scope a key can carry (CreateApiKeyDto); the first three are checked by default. */
const SCOPES = ['cubes:write', 'memories:read', 'memories:write', 'cubes:export', 'memories:erase', 'inference:run', 'banks:write'];
const DEFAULT_SCOPES = new Set(['cubes:write', 'memories:read', 'memories:write']);
const METRICS_TOKEN = 'engram.metricsToken';

/** Operator: tenants, and per tenant its keys (create with scopes, revoke). */
export async function tenantsPage(s: Session): Promise<void> {
  const paint = painter();
  const tenants = await s.client.admin.listTenants();
  const create = h('form', { class: 'inline', 'aria-label': 'Create tenant', onsubmit: async (e: Event) => {
    e.preventDefault();
    const name = field(create, 'name');
    if (!name) return toast('give the tenant a name', 'error');
    await s.client.admin.createTenant(name);
    toast(`tenant ${name} created`);
    await tenantsPage(s);
  } }, h('label', {}, 'New tenant', h('input', { name: 'name', required: true, autocomplete: 'off' })), h('button', { type: 'submit' }, 'Create tenant'));
  paint(
    h('h1', {}, 'Tenants'),
    h('div', { class: 'card' }, create),
    // Offboarded tenants stay listed (deletedAt): their keys are revoked and their routes answer 404.
    h('div', { class: 'card' }, tenants.length ? null : h('p', { class: 'muted' }, 'No tenants yet: create one above, then give it an API key.'), table(['Name', 'Id', 'Created', 'State', ''], tenants.map((t) => [
      t.name,
      h('code', {}, t.id),
      new Date(t.createdAt).toLocaleString(),
      t.deletedAt ? `deleted ${new Date(t.deletedAt).toLocaleString()}` : 'active',
      t.deletedAt ? '' : h('a', { href: `#/tenants/${encodeURIComponent(t.id)}` }, `Keys of ${t.name}`),
    ]))),
  );
}

export async function keysPage(s: Session, tenantId: string): Promise<void> {
  const paint = painter();
  const keys = await s.client.admin.listKeys(tenantId);
  const shown = h('div', { 'aria-live': 'polite' });
  const create = h('form', { class: 'inline', 'aria-label': 'Create key', onsubmit: async (e: Event) => {
    e.preventDefault();
    const scopes = SCOPES.filter((sc) => (create.elements.namedItem(sc) as HTMLInputElement).checked);
    const cubeIds = field(create, 'cubeIds').split(',').map((c) => c.trim()).filter(Boolean);
    const expires = field(create, 'expiresAt');
    const key = await s.client.admin.createKey(tenantId, { name: field(create, 'name') || undefined, scopes: scopes as never, cubeIds: cubeIds.length ? cubeIds : undefined, expiresAt: expires ? new Date(expires).toISOString() : undefined });
    await keysPage(s, tenantId);
    document.getElementById('new-key')!.replaceChildren(h('p', {}, 'The key, shown once: store it now.'), h('div', { class: 'secret', id: 'new-key-secret' }, key.key));
  } },
    h('label', {}, 'Key name', h('input', { name: 'name', autocomplete: 'off' })),
    h('fieldset', {}, h('legend', { class: 'muted' }, 'Scopes'), SCOPES.map((sc) => h('label', { style: 'flex-direction:row;align-items:center' }, h('input', { type: 'checkbox', name: sc, checked: DEFAULT_SCOPES.has(sc) }), sc))),
    h('label', {}, 'Only cubes (ids, comma-separated)', h('input', { name: 'cubeIds', autocomplete: 'off' })),
    h('label', {}, 'Expires (optional, your local time)', h('input', { name: 'expiresAt', type: 'datetime-local' })),
    h('button', { type: 'submit' }, 'Create key'),
  );
  const revoke = (id: string) => async () => {
    if (!confirm('Revoke this key now?')) return;
    await s.client.admin.revokeKey(tenantId, id);
    toast('key revoked');
    await keysPage(s, tenantId);
  };
  paint(
    h('h1', {}, 'API keys'),
    h('p', {}, h('a', { href: '#/tenants' }, '← Tenants')),
    h('div', { class: 'card' }, create, h('div', { id: 'new-key' }), shown),
    h('div', { class: 'card' }, keys.length ? null : h('p', { class: 'muted' }, 'No keys yet: create one above.'), table(['Name', 'Prefix', 'Scopes', 'Cubes', 'State', 'Expires', 'Last used', ''], keys.map((k) => [
      k.name ?? '',
      h('code', {}, k.prefix),
      k.scopes.map((sc) => h('span', { class: 'pill' }, sc)),
      k.cubeIds ? k.cubeIds.length : 'all',
      // An expired key is refused like a revoked one: it must not read as active.
      k.revokedAt ? 'revoked' : k.expiresAt && Date.parse(k.expiresAt) <= Date.now() ? 'expired' : 'active',
      k.expiresAt ? new Date(k.expiresAt).toLocaleString() : 'never',
      k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never',
      k.revokedAt ? '' : h('button', { class: 'danger', onclick: revoke(k.id), 'aria-label': `Revoke key ${k.prefix}` }, 'Revoke'),
    ]))),
  );
}

/** Operator: request latency histogram and request counts per route, from /metrics. */
export async function metricsPage(): Promise<void> {
  const paint = painter();
  // With ENGRAM_METRICS_TOKEN set, /metrics wants that token (not the admin token): ask for it
  // instead of drawing empty charts from the 401's JSON.
  const token = sessionStorage.getItem(METRICS_TOKEN);
  const res = await fetch('/metrics', token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  if (res.status === 401) {
    const form = h('form', { class: 'inline', 'aria-label': 'Metrics token', onsubmit: async (e: Event) => {
      e.preventDefault();
      sessionStorage.setItem(METRICS_TOKEN, field(form, 'metricsToken'));
      await metricsPage();
    } }, h('label', {}, 'Metrics token', h('input', { name: 'metricsToken', type: 'password', required: true, autocomplete: 'off' })), h('button', { type: 'submit' }, 'Show metrics'));
    if (token) sessionStorage.removeItem(METRICS_TOKEN);
    return paint(
      h('h1', {}, 'Metrics'),
      h('div', { class: 'card' }, h('p', { role: 'alert' }, token ? 'The server refused that metrics token.' : 'This server protects /metrics with ENGRAM_METRICS_TOKEN (the admin token does not open it).', ' Enter the metrics token: it is kept for this tab only.'), form),
    );
  }
  if (!res.ok) throw new Error(`/metrics answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const metrics = parsePrometheus(await res.text());
  const bands = latencyBands(metrics, 'engram_http_request_duration_seconds');
  const perRoute = new Map<string, number>();
  for (const sample of metrics.get('engram_http_request_duration_seconds_count') ?? []) {
    const key = `${sample.labels.method} ${sample.labels.route}`;
    perRoute.set(key, (perRoute.get(key) ?? 0) + sample.value);
  }
  const writes = [...perRoute].filter(([route]) => /^POST .*\/(memories|messages)$/.test(route));
  paint(
    h('h1', {}, 'Metrics'),
    h('div', { class: 'card' }, h('h2', {}, 'Request latency (all routes)'), barChart('Requests per latency band', bands)),
    h('div', { class: 'card' }, h('h2', {}, 'Ingest requests'), writes.length ? barChart('Write requests per route', writes.map(([route, n]) => ({ label: route.replace(/^POST \/v1\/cubes\/:cubeId\//, ''), value: n }))) : h('p', { class: 'muted' }, 'No writes yet.')),
    h('div', { class: 'card' }, h('h2', {}, 'Requests per route'), table(['Route', 'Requests'], [...perRoute].sort((a, b) => b[1] - a[1]).map(([route, n]) => [route, n]))),
  );
}

interface JobSummary {
  id: string;
  name: string;
  state: string;
  attempts?: number;
  lastError?: string | null;
  error?: string | null;
  updatedAt?: string;
}

interface SchedulerState {
  paused: unknown;
  jobs: Record<string, Record<string, number>>;
  queueLag: unknown;
  failures: JobSummary[];
  lag: { p50Ms: number | null; p99Ms: number | null };
  actionsLastHour: unknown;
}

let refresh: ReturnType<typeof setInterval> | undefined;

/** Operator: the job queue by type and state (refreshed every 5 s), failures with retry, pause/resume. */
export async function schedulerPage(s: Session): Promise<void> {
  const paint = painter();
  clearInterval(refresh);
  const state = await s.client.request<SchedulerState>('GET', '/v1/admin/scheduler');
  const paused = typeof state.paused === 'object' && state.paused !== null ? Boolean((state.paused as { global?: unknown }).global) : Boolean(state.paused);
  const toggle = async () => {
    await s.client.request('POST', `/v1/admin/scheduler/${paused ? 'resume' : 'pause'}`, { body: {} });
    toast(paused ? 'scheduler resumed' : 'scheduler paused');
    await schedulerPage(s);
  };
  const retry = (id: string) => async () => {
    await s.client.request('POST', `/v1/admin/jobs/${encodeURIComponent(id)}/retry`);
    toast('job queued again');
    await schedulerPage(s);
  };
  paint(
    h('h1', {}, 'Scheduler'),
    h('div', { class: 'card' }, h('p', {}, `The scheduler is ${paused ? 'paused' : 'running'}. `, h('button', { class: paused ? '' : 'secondary', onclick: toggle }, paused ? 'Resume' : 'Pause')), h('p', { class: 'muted' }, `Decision lag p50 ${state.lag?.p50Ms ?? '–'} ms, p99 ${state.lag?.p99Ms ?? '–'} ms. Refreshes every 5 s.`)),
    h('div', { class: 'card' }, h('h2', {}, 'Jobs by type'), table(['Job', 'Queued', 'Running', 'Completed', 'Failed', 'Cancelled'], Object.entries(state.jobs).map(([name, c]) => [name, c.queued ?? 0, c.running ?? 0, c.completed ?? 0, c.failed ?? 0, c.cancelled ?? 0]))),
    h('div', { class: 'card' }, h('h2', {}, 'Recent failures'), state.failures.length
      ? table(['Job', 'Error', 'Attempts', ''], state.failures.map((j) => [j.name, j.lastError ?? j.error ?? '', j.attempts ?? '', h('button', { onclick: retry(j.id), 'aria-label': `Retry job ${j.id}` }, 'Retry')]))
      : h('p', { class: 'muted' }, 'No failures.')),
  );
  refresh = setInterval(() => {
    if (location.hash.startsWith('#/scheduler')) void schedulerPage(s).catch(() => undefined);
    else clearInterval(refresh);
  }, 5000);
}

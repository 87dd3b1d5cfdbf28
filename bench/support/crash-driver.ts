// The crash suite's driver (issue 10), shared by `npm run bench:crash` and
// test/crash.e2e-spec.ts: the compiled `engram serve` runs as a child process on a given
// database and data directory; 32 HTTP writers (single adds, batches, idempotent writes
// that are retried with the same Idempotency-Key until acknowledged, edits of
// acknowledged memories) run against it; it is killed with SIGKILL at a random moment,
// restarted on the same database and data directory, and everything that was ever
// acknowledged with a 2xx is checked through the API: readable with its acknowledged text
// (or a later edit), exactly one copy, and found by a search for its marker.
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';

export interface CrashOptions {
  /** Path of the compiled CLI (dist/apps/cli/src/main.js). */
  cli: string;
  databaseUrl: string;
  dataDir: string;
  rounds: number;
  writers?: number;
  /** The kill lands this many ms into a round: [min, max]. */
  killWindowMs?: [number, number];
  seed?: number;
  log?: (line: string) => void;
  /** Runs after each restart, before the checks, with the ids acknowledged so far (tests use it to prove the checks can fail). */
  beforeVerify?: (round: number, acknowledgedIds: string[]) => Promise<void>;
}

export interface CrashRound {
  round: number;
  killAfterMs: number;
  /** Write requests sent in the round (first attempts, not retries). */
  requests: number;
  /** Of those, PATCH edits of acknowledged memories. */
  edits: number;
  /** Requests in flight or refused around the kill whose outcome the client never saw. */
  unanswered: number;
  /** Idempotent writes retried after the restart until acknowledged. */
  retried: number;
  /** Of those, how many the server replayed (it had committed before the kill). */
  replayed: number;
  restartMs: number;
  acknowledged: number;
  missing: number;
  duplicates: number;
  unsearchable: number;
}

export interface CrashReport {
  rounds: number;
  kills: number;
  /** Memories acknowledged with a 2xx over the whole run. */
  acknowledged: number;
  /** Acknowledged memories that could not be read back with an acknowledged text, in any round. */
  missing: number;
  /** Markers found in more than one memory, in any round. */
  duplicates: number;
  /** Acknowledged memories that the last round's search (over all of them) found. */
  searchable: number;
  unsearchable: number;
  perRound: CrashRound[];
  /** One line per violation (empty when nothing was lost). */
  problems: string[];
}

const ADMIN_TOKEN = 'crash-suite-admin-token-0123456789abcdef';
const WORDS = (
  'amber basil cedar delta ember fjord garnet harbor indigo juniper kelp lantern meadow nectar onyx pepper quartz ' +
  'raven saffron tundra umber velvet willow xenon yarrow zephyr anchor bramble cobalt dune falcon glacier heron ' +
  'iris jasper kestrel lotus maple nimbus orchid pebble quill ridge sorrel thistle upland vireo walnut yew zinnia ' +
  'acorn birch canyon dahlia egret fennel grove hazel ivy jade kiln lichen marsh nutmeg olive prairie quince reed'
).split(' ');

/** A small seeded generator (mulberry32) so a failing run can be replayed with --seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `engram serve` as a child process that can be killed and started again on the same state. */
class ServerProcess {
  private child: ChildProcess | null = null;
  private output = '';
  readonly base: string;

  constructor(
    private readonly options: CrashOptions,
    private readonly port: number,
  ) {
    this.base = `http://127.0.0.1:${port}`;
  }

  /** Starts it and waits for /health to answer 200; returns the ms that took. */
  async start(): Promise<number> {
    const started = Date.now();
    this.output = '';
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: this.options.databaseUrl,
      ENGRAM_MIGRATE_ON_START: 'false',
      ENGRAM_DATA_DIR: this.options.dataDir,
      PORT: String(this.port),
      ENGRAM_ADMIN_TOKEN: ADMIN_TOKEN,
      ENGRAM_RATE_LIMIT_PER_MINUTE: '0',
      ENGRAM_NEW_CUBE_EMBEDDER: 'hash',
      LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, [this.options.cli, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`engram serve exited (${child.exitCode ?? child.signalCode}) before it was healthy:\n${this.output}`);
      if (Date.now() - started > 120_000) throw new Error(`engram serve was not healthy within 120 s:\n${this.output}`);
      const ok = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return Date.now() - started;
      await sleep(50);
    }
  }

  /** kill -9, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  get log(): string {
    return this.output;
  }
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

interface MemoryBody {
  id: string;
  text: string;
  state: string;
}

/** What the suite knows about one memory marker. */
interface Tracked {
  marker: string;
  /** Set once a 2xx named the memory. */
  id: string | null;
  /** Texts the memory may hold: the last acknowledged one, then edits sent after it whose answer was lost. */
  allowed: string[];
  /** Written through an idempotent request (a retry must not make a second copy). */
  idempotent: boolean;
  round: number;
}

interface PendingIdempotent {
  key: string;
  body: { items: { text: string }[] };
  markers: string[];
}

export async function runCrashSuite(options: CrashOptions): Promise<CrashReport> {
  const writers = options.writers ?? 32;
  const [killMin, killMax] = options.killWindowMs ?? [200, 1500];
  const random = rng(options.seed ?? Date.now());
  const log = options.log ?? (() => undefined);
  const server = new ServerProcess(options, await freePort());
  const tracked = new Map<string, Tracked>();
  const problems = new Set<string>();
  const lostIds = new Set<string>();
  const duplicated = new Set<string>();
  const owned = new Map<number, Tracked[]>();
  const perRound: CrashRound[] = [];
  let apiKey = '';
  let cubeId = '';

  const call = async <T>(token: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; headers: Headers }> => {
    const res = await fetch(`${server.base}${route}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw new HttpFailure(res.status, text);
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  };
  const api = <T>(method: string, route: string, body?: unknown, headers?: Record<string, string>) => call<T>(apiKey, method, route, body, headers);

  let seq = 0;
  const words = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
  const newMarker = (round: number, writer: number) => `crx${round}w${writer}n${++seq}`;
  const textFor = (marker: string) => `note ${marker} ${words(8)}`;

  /** A 2xx for an add: the memories in input order. */
  const acknowledgeAdd = (markers: string[], items: MemoryBody[]) => {
    markers.forEach((marker, i) => {
      const t = tracked.get(marker)!;
      const item = items[i];
      if (!item || !item.text.includes(marker)) {
        problems.add(`an acknowledged add answered ${item ? `"${item.text}"` : 'nothing'} for ${marker}`);
        return;
      }
      if (t.id && t.id !== item.id) problems.add(`${marker} was acknowledged as ${t.id} and later as ${item.id}`);
      t.id = item.id;
      t.allowed = [item.text];
    });
  };

  // Set-up through the API, as an operator and an agent would.
  let restartMs = await server.start();
  const tenant = await call<{ id: string }>(ADMIN_TOKEN, 'POST', '/v1/admin/tenants', { name: 'crash' });
  apiKey = (await call<{ key: string }>(ADMIN_TOKEN, 'POST', `/v1/admin/tenants/${tenant.body.id}/keys`, { scopes: ['cubes:write', 'memories:read', 'memories:write'] })).body.key;
  cubeId = (await api<{ id: string }>('POST', '/v1/cubes', { name: 'crash' })).body.id;
  const memories = `/v1/cubes/${cubeId}/memories`;

  for (let round = 1; round <= options.rounds; round++) {
    let up = true;
    let requests = 0;
    let edits = 0;
    let unanswered = 0;
    const pending: PendingIdempotent[] = [];

    const writer = async (w: number) => {
      while (up) {
        const dice = random();
        const own = (owned.get(w) ?? []).filter((t) => t.id);
        requests++;
        if (dice < 0.15 && own.length > 0) {
          // An edit of one of this writer's acknowledged memories (one writer per memory, so edits are ordered).
          const t = own[Math.floor(random() * own.length)];
          edits++;
          const text = `${textFor(t.marker)} edited`;
          try {
            const res = await api<MemoryBody>('PATCH', `${memories}/${t.id}`, { text });
            t.allowed = [res.body.text];
          } catch (error) {
            if (error instanceof HttpFailure && error.status < 500) problems.add(`edit of ${t.marker} answered ${error.message}`);
            t.allowed.push(text); // it may have committed before the kill
            unanswered++;
          }
          continue;
        }
        const size = dice < 0.45 ? 1 : 5 + Math.floor(random() * 16);
        const idempotent = dice >= 0.7;
        const markers = Array.from({ length: size }, () => newMarker(round, w));
        const body = { items: markers.map((marker) => ({ text: textFor(marker) })) };
        for (const marker of markers) {
          const t: Tracked = { marker, id: null, allowed: [], idempotent, round };
          tracked.set(marker, t);
          owned.set(w, [...(owned.get(w) ?? []), t]);
        }
        const key = idempotent ? `crash-${round}-${w}-${seq}` : undefined;
        try {
          const res = await api<{ items: MemoryBody[] }>('POST', memories, body, key ? { 'Idempotency-Key': key } : {});
          acknowledgeAdd(markers, res.body.items);
        } catch (error) {
          if (error instanceof HttpFailure && error.status < 500) problems.add(`add answered ${error.message}`);
          unanswered++;
          if (key) pending.push({ key, body, markers });
          // A plain add whose answer was lost may or may not exist; it is never retried (that could duplicate it).
        }
      }
    };

    const killAfterMs = Math.round(killMin + random() * (killMax - killMin));
    const running = Array.from({ length: writers }, (_, w) => writer(w));
    await sleep(killAfterMs);
    up = false;
    await server.kill();
    await Promise.all(running);
    restartMs = await server.start();

    // Every idempotent write that was not acknowledged is retried with its key until it is.
    let replayed = 0;
    await Promise.all(
      pending.map(async (p) => {
        for (let attempt = 1; ; attempt++) {
          try {
            const res = await api<{ items: MemoryBody[] }>('POST', memories, p.body, { 'Idempotency-Key': p.key });
            if (res.headers.get('idempotent-replayed') === 'true') replayed++;
            acknowledgeAdd(p.markers, res.body.items);
            return;
          } catch (error) {
            if (attempt >= 20 || (error instanceof HttpFailure && error.status < 500)) {
              problems.add(`idempotent retry ${p.key} never acknowledged: ${String(error)}`);
              return;
            }
            await sleep(200);
          }
        }
      }),
    );

    await options.beforeVerify?.(round, [...tracked.values()].flatMap((t) => (t.id ? [t.id] : [])));
    const check = await verify(round, round === options.rounds);
    perRound.push({ round, killAfterMs, requests, edits, unanswered, retried: pending.length, replayed, restartMs, ...check });
    log(
      `round ${round}: kill at ${killAfterMs} ms, ${requests} requests (${edits} edits), ${unanswered} unanswered, ${pending.length} retried (${replayed} replayed), ` +
        `restart ${restartMs} ms, ${check.acknowledged} acknowledged, ${check.missing} missing, ${check.duplicates} duplicates, ${check.unsearchable} unsearchable`,
    );
  }

  /** Checks everything acknowledged so far; searches this round's memories and a sample of older ones (all of them on the last round). */
  async function verify(round: number, searchAll: boolean): Promise<{ acknowledged: number; missing: number; duplicates: number; unsearchable: number; searched: number }> {
    // Every memory of the cube, counted by marker.
    const copies = new Map<string, MemoryBody[]>();
    let cursor: string | null = null;
    do {
      const query: string = `?limit=500&state=active${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: { items: MemoryBody[]; nextCursor: string | null } = (await api<{ items: MemoryBody[]; nextCursor: string | null }>('GET', `${memories}${query}`)).body;
      for (const m of page.items) {
        const marker = /crx\d+w\d+n\d+/.exec(m.text)?.[0] ?? '';
        copies.set(marker, [...(copies.get(marker) ?? []), m]);
      }
      cursor = page.nextCursor;
    } while (cursor);

    const acked = [...tracked.values()].filter((t) => t.id);
    let missing = 0;
    let duplicates = 0;
    for (const [marker, found] of copies) {
      if (!tracked.has(marker)) problems.add(`a memory nobody wrote: "${found[0].text}"`);
      if (found.length > 1) {
        duplicates += found.length - 1;
        duplicated.add(marker);
        problems.add(`${marker} (${tracked.get(marker)?.idempotent ? 'idempotent' : 'plain'} write) has ${found.length} copies`);
      }
    }
    await pool(acked, 8, async (t) => {
      try {
        const res = await api<MemoryBody>('GET', `${memories}/${t.id}`);
        if (!t.allowed.includes(res.body.text)) {
          missing++;
          lostIds.add(t.id!);
          problems.add(`round ${round}: ${t.marker} (${t.id}) reads "${res.body.text}", acknowledged "${t.allowed[0]}"`);
        } else if (res.body.state !== 'active') {
          missing++;
          lostIds.add(t.id!);
          problems.add(`round ${round}: ${t.marker} (${t.id}) is ${res.body.state}`);
        }
        t.allowed = [res.body.text]; // what it holds now is what later edits build on
      } catch (error) {
        missing++;
        lostIds.add(t.id!);
        problems.add(`round ${round}: acknowledged ${t.marker} (${t.id}) cannot be read: ${String(error)}`);
      }
    });

    const older = acked.filter((t) => t.round < round);
    const sample = searchAll ? acked : [...acked.filter((t) => t.round === round), ...older.sort(() => random() - 0.5).slice(0, 50)];
    let unsearchable = 0;
    await pool(sample, 8, async (t) => {
      const res = await api<{ results: { id: string }[] }>('POST', `/v1/cubes/${cubeId}/search`, { query: t.marker, topK: 10 });
      if (!res.body.results.some((r) => r.id === t.id)) {
        unsearchable++;
        problems.add(`round ${round}: a search for ${t.marker} does not find ${t.id}`);
      }
    });
    return { acknowledged: acked.length, missing, duplicates, unsearchable, searched: sample.length };
  }

  await server.kill();
  const last = perRound[perRound.length - 1];
  const acknowledged = last?.acknowledged ?? 0;
  if (problems.size) log(`server log tail:\n${server.log.slice(-3_000)}`);
  return {
    rounds: options.rounds,
    kills: options.rounds,
    acknowledged,
    missing: lostIds.size,
    duplicates: duplicated.size,
    searchable: acknowledged - (last?.unsearchable ?? 0),
    unsearchable: last?.unsearchable ?? 0,
    perRound,
    problems: [...problems],
  };
}

async function pool<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await run(items[next++]);
    }),
  );
}

// The memory lifecycle measured in process on a scratch PostgreSQL database (the real
// services, repositories and job runner; no HTTP):
//  1. rules-mode fusion on a labelled stream — LongMemEval dev user turns, planted
//     near-duplicates (reordering, filler, case, punctuation) and hard negatives (one
//     number, name, date or negation changed): merge precision and recall;
//  2. planted fact updates (same subject and predicate, new object, later time): how often
//     the current value ranks above the stale one, scheduler on vs off;
//  3. LongMemEval dev any@5 before and after fusion of planted duplicates, active counts;
//  4. a full TTL/idleness sweep of a 100k-memory cube, search p99 during it vs idle;
//  5. write-to-decision lag while a separate writer process ingests 1,000 memories/s and
//     the runner polls (server and worker are separate processes in production too).
// Prints a table, then one JSON line.
//   npm run bench:lifecycle [-- --bases 600 --updates 150 --questions 30 --n 100000 --rate 1000 --seconds 10]
import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { loadConfig } from '@engram/config';
import {
  AddMemoriesDto,
  ApiKeyService,
  CubeService,
  LifecycleEngine,
  LifecycleMetrics,
  LifecycleService,
  MemoryService,
  RequestContext,
  Scope,
  SearchService,
  TenantService,
} from '@engram/core';
import { JobRunner } from '@engram/scheduler';
import { WorkerModule } from '@engram/worker';
import { arg, textArg } from './support/args';
import { lmeDate, loadLongMemEval, LmeQuestion, scoreLongMemEval } from './support/longmemeval';
import { scratchDatabase } from './support/scratch-service';
import { rng } from './support/synthetic-corpus';

const BASES = arg('bases', 600);
const UPDATES = arg('updates', 150);
const QUESTIONS = arg('questions', 30);
const N_SWEEP = arg('n', 100_000);
const RATE = arg('rate', 1000);
const SECONDS = arg('seconds', 10);
const SEED = arg('seed', 7);
/** Parts to run: stream (fusion and updates), lme, sweep, lag. */
const PARTS = new Set(textArg('parts', 'stream,lme,sweep,lag').split(','));
const random = rng(SEED);
const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'bench' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];

// ---- the labelled stream ----------------------------------------------------------------

const FILLERS = ['By the way, ', 'Just so you know, ', 'Actually, ', 'For the record, '];
const NAMES = ['Marta', 'Jonas', 'Priya', 'Tomasz', 'Aiko', 'Lucas', 'Fatima', 'Henrik', 'Chloe', 'Diego', 'Ingrid', 'Kwame'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const NEGATABLE = /\b(is|was|are|can|will|do|did)\b(?!\s+not\b|['’]t|n['’]t)/;

const lowerFirst = (t: string) => t.charAt(0).toLowerCase() + t.slice(1);

/** A reworded copy that says the same thing (the template rotates). */
function nearDuplicate(text: string, template: number): string {
  switch (template % 4) {
    case 0: {
      const comma = text.indexOf(', ');
      if (comma > 0) return `${text.slice(comma + 2).replace(/[.!?]+$/, '')}, ${lowerFirst(text.slice(0, comma))}.`;
      return `${pick(FILLERS)}${lowerFirst(text)}`;
    }
    case 1:
      return `${pick(FILLERS)}${lowerFirst(text)}`;
    case 2:
      return text.toLowerCase();
    default:
      return `${text.replace(/[.,!?;:]+/g, '')}!!`;
  }
}

/** The same words with one number, name, month or negation changed; null when none applies. */
function hardNegative(text: string): string | null {
  const options: (() => string | null)[] = [
    () => (/\d+/.test(text) ? text.replace(/\d+/, (n) => String(Number(n) + 1 + Math.floor(random() * 5))) : null),
    () => {
      const m = text.slice(1).match(/\b([A-Z][a-z]{2,})\b/);
      if (!m) return null;
      const other = NAMES.filter((n) => n !== m[1]);
      return text.slice(0, 1) + text.slice(1).replace(new RegExp(`\\b${m[1]}\\b`), pick(other));
    },
    () => {
      const month = MONTHS.find((mo) => new RegExp(`\\b${mo}\\b`).test(text));
      return month ? text.replace(new RegExp(`\\b${month}\\b`), MONTHS[(MONTHS.indexOf(month) + 3) % 12]) : null;
    },
    // A verb not already negated ("can't" stays as it is).
    () => (NEGATABLE.test(text) ? text.replace(NEGATABLE, '$1 not') : null),
  ];
  const start = Math.floor(random() * options.length);
  for (let i = 0; i < options.length; i++) {
    const out = options[(start + i) % options.length]();
    if (out && out !== text) return out;
  }
  return null;
}

/** Texts with the same letters and digits in the same order are one family (a natural duplicate). */
const naturalKey = (t: string) => t.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();

interface Planted {
  text: string;
  family: string;
  kind: 'base' | 'duplicate' | 'negative';
}

function plantStream(questions: LmeQuestion[]): Planted[] {
  const seen = new Set<string>();
  const bases: string[] = [];
  for (const q of questions) {
    for (const session of q.haystack_sessions) {
      for (const turn of session) {
        const text = turn.content.trim();
        if (turn.role !== 'user' || text.length < 30 || text.length > 300 || seen.has(naturalKey(text))) continue;
        seen.add(naturalKey(text));
        bases.push(text);
      }
    }
  }
  const chosen = bases.sort(() => random() - 0.5).slice(0, BASES);
  const stream: Planted[] = [];
  chosen.forEach((text, i) => {
    stream.push({ text, family: naturalKey(text), kind: 'base' });
    if (i % 2 === 0) stream.push({ text: nearDuplicate(text, i / 2), family: naturalKey(text), kind: 'duplicate' });
    if (i % 5 < 2) {
      const negative = hardNegative(text);
      if (negative) stream.push({ text: negative, family: naturalKey(negative), kind: 'negative' });
    }
  });
  // Writes arrive interleaved, not base first: shuffle, keeping a base before its copies often but not always.
  return stream.sort(() => random() - 0.5);
}

// ---- planted updates --------------------------------------------------------------------

const ATTRIBUTES = [
  { predicate: 'lives in', values: ['Lisbon', 'Oslo', 'Kyoto', 'Lima', 'Dakar', 'Quito', 'Hanoi', 'Perth', 'Riga', 'Tunis'], text: (n: string, v: string) => `${n} lives in ${v}.`, query: (n: string) => `Where does ${n} live?` },
  { predicate: 'works at', values: ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne', 'Cyberdyne', 'Tyrell'], text: (n: string, v: string) => `${n} works at ${v}.`, query: (n: string) => `Where does ${n} work?` },
  { predicate: 'drives', values: ['Volvo', 'Toyota', 'Fiat', 'Tesla', 'Skoda', 'Honda', 'Renault', 'Mazda', 'Kia', 'Saab'], text: (n: string, v: string) => `${n} drives a ${v}.`, query: (n: string) => `What car does ${n} drive?` },
];
const FIRST = ['Ada', 'Bela', 'Cyril', 'Dora', 'Emil', 'Frida', 'Gus', 'Hana', 'Ivo', 'Jana', 'Kai', 'Lena', 'Milo', 'Nora', 'Otto', 'Pia', 'Rui', 'Sara', 'Teo', 'Vera'];
const LAST = ['Ahlberg', 'Brandt', 'Castro', 'Dvorak', 'Eklund', 'Fischer', 'Gallo', 'Horvat', 'Ibsen', 'Jensen', 'Kowal', 'Lindqvist', 'Moreau', 'Novak', 'Okafor', 'Petrov'];

interface Update {
  query: string;
  stale: { text: string; fact: object; validFrom: Date };
  current: { text: string; fact: object; validFrom: Date };
}

function plantUpdates(): Update[] {
  const out: Update[] = [];
  const used = new Set<string>();
  while (out.length < UPDATES) {
    const name = `${pick(FIRST)} ${pick(LAST)}`;
    const attr = pick(ATTRIBUTES);
    if (used.has(`${name}|${attr.predicate}`)) continue;
    used.add(`${name}|${attr.predicate}`);
    const [a, b] = [...attr.values].sort(() => random() - 0.5);
    const t1 = new Date(Date.UTC(2021, Math.floor(random() * 12), 1 + Math.floor(random() * 28)));
    const t2 = new Date(t1.getTime() + (30 + Math.floor(random() * 600)) * 86_400_000);
    out.push({
      query: attr.query(name),
      stale: { text: attr.text(name, a), fact: { subject: name, predicate: attr.predicate, object: a }, validFrom: t1 },
      current: { text: attr.text(name, b), fact: { subject: name, predicate: attr.predicate, object: b }, validFrom: t2 },
    });
  }
  return out;
}

// ---- harness ----------------------------------------------------------------------------

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

class Bench {
  constructor(
    readonly app: INestApplicationContext,
    readonly ctx: RequestContext,
  ) {}

  get db(): DataSource {
    return this.app.get(DataSource);
  }

  async cube(name: string, policy?: object): Promise<string> {
    const cube = await this.app.get(CubeService).create(this.ctx, { name });
    if (policy) await this.app.get(LifecycleService).putPolicy(this.ctx, cube.id, policy);
    return cube.id;
  }

  async add(cubeId: string, items: object[]): Promise<{ id: string }[]> {
    const out: { id: string }[] = [];
    for (let i = 0; i < items.length; i += 1000) {
      const res = await this.app.get(MemoryService).add(this.ctx, cubeId, { items: items.slice(i, i + 1000) } as AddMemoriesDto);
      out.push(...res.body.items);
    }
    return out;
  }

  async search(cubeId: string, query: string, topK: number, referenceTime?: Date): Promise<{ id: string; metadata: Record<string, unknown> }[]> {
    return (await this.app.get(SearchService).search(this.ctx, cubeId, { query, topK, referenceTime })).results;
  }

  /** Lets the debounced ticks come due and runs every queued job. */
  async settle(): Promise<void> {
    await sleep(300);
    await this.app.get(JobRunner).drain();
  }
}

interface WriterJob {
  url: string;
  dataDir: string;
  ctx: RequestContext;
  cubeId: string;
  texts: string[];
}

function benchConfig(url: string, dataDir: string) {
  return { ...loadConfig({ DATABASE_URL: url, ENGRAM_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_NEW_CUBE_EMBEDDER: 'hash' }), jobPollIntervalMs: 50, workerInProcess: false };
}

/** Runs the ingest of part 5 in a child process; resolves with the number of memories it added. */
function runWriter(job: WriterJob): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1], ['--writer', '--rate', String(RATE), '--seconds', String(SECONDS), '--seed', String(SEED)], { stdio: 'inherit' });
    child.once('message', (msg: { sent?: number; error?: string }) => (msg.error ? reject(new Error(msg.error)) : resolve(msg.sent ?? 0)));
    child.once('exit', (code) => code !== 0 && reject(new Error(`the writer process exited with ${code}`)));
    child.send(job);
  });
}

/** The child side: adds RATE memories a second for SECONDS, in batches every 100 ms. */
async function writer(job: WriterJob): Promise<number> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(benchConfig(job.url, job.dataDir), { runWorker: false }), { logger: false });
  try {
    const memories = app.get(MemoryService);
    const perTick = Math.max(1, Math.round(RATE / 10));
    const end = performance.now() + SECONDS * 1000;
    let sent = 0;
    while (performance.now() < end) {
      const tickStart = performance.now();
      const items = Array.from({ length: perTick }, () => ({ text: `${pick(job.texts)} (${sent++})` }));
      await memories.add(job.ctx, job.cubeId, { items } as AddMemoriesDto);
      await sleep(Math.max(0, 100 - (performance.now() - tickStart)));
    }
    return sent;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const scratch = await scratchDatabase();
  const config = benchConfig(scratch.url, scratch.dataDir);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, { runWorker: false }), { logger: false });
  const results: Record<string, number> = {};
  const rows: [string, string][] = [];
  try {
    const tenant = await app.get(TenantService).create(ADMIN, { name: 'bench' });
    const key = await app.get(ApiKeyService).create(ADMIN, tenant.id, { scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] });
    const ctx: RequestContext = { auth: { kind: 'key', actorId: key.id, keyId: key.id, tenantId: tenant.id, scopes: key.scopes as Scope[], cubeIds: null }, requestId: 'bench' };
    const b = new Bench(app, ctx);
    const questions = loadLongMemEval(Math.max(QUESTIONS, 60));

    // 1 + 2: fusion precision/recall and updates, scheduler on vs off.
    const stream = plantStream(questions);
    const words = stream.map((s) => s.text);
    if (PARTS.has('stream')) {
    const updates = plantUpdates();
    const on = await b.cube('stream-on');
    const off = await b.cube('stream-off', { fusion: { enabled: false }, invalidation: { enabled: false } });
    const familyOf = new Map<string, string>();
    for (const cubeId of [on, off]) {
      const stored = await b.add(cubeId, stream.map((s) => ({ text: s.text, kind: 'fact' })));
      if (cubeId === on) stored.forEach((m, i) => familyOf.set(m.id, stream[i].family));
      const stale = await b.add(cubeId, updates.map((u) => ({ text: u.stale.text, fact: u.stale.fact, validFrom: u.stale.validFrom, observedAt: u.stale.validFrom })));
      const current = await b.add(cubeId, updates.map((u) => ({ text: u.current.text, fact: u.current.fact, validFrom: u.current.validFrom, observedAt: u.current.validFrom })));
      if (cubeId === on) for (const [i, u] of updates.entries()) Object.assign(u, { staleId: stale[i].id, currentId: current[i].id });
      else for (const [i, u] of updates.entries()) Object.assign(u, { staleOffId: stale[i].id, currentOffId: current[i].id });
    }
    await b.settle();
    const merges = await b.db.query(`SELECT id, merged_into FROM memories WHERE cube_id = $1 AND state = 'merged'`, [on]);
    const correct = merges.filter((m: { id: string; merged_into: string }) => familyOf.get(m.id) !== undefined && familyOf.get(m.id) === familyOf.get(m.merged_into)).length;
    const wrong = merges.filter((m: { id: string; merged_into: string }) => familyOf.get(m.id) === undefined || familyOf.get(m.id) !== familyOf.get(m.merged_into));
    for (const m of wrong.slice(0, 5) as { id: string; merged_into: string }[]) {
      const texts = await b.db.query(`SELECT id, text FROM memories WHERE id = ANY($1::uuid[])`, [[m.id, m.merged_into]]);
      process.stderr.write(`wrong merge: ${JSON.stringify(texts.map((t: { text: string }) => t.text))}\n`);
    }
    const planted = stream.filter((s) => s.kind === 'duplicate').length;
    const mergedPlanted = merges.filter((m: { id: string; merged_into: string }) => familyOf.get(m.id) === familyOf.get(m.merged_into)).length;
    results.merge_precision = merges.length ? correct / merges.length : 1;
    results.merge_recall = Math.min(1, mergedPlanted / planted);
    rows.push(['stream', `${stream.length} memories: ${planted} planted duplicates, ${stream.filter((s) => s.kind === 'negative').length} hard negatives; ${merges.length} merges, ${correct} correct`]);

    const currentFirst = async (cubeId: string, staleKey: string, currentKey: string) => {
      let wins = 0;
      for (const u of updates as (Update & Record<string, string>)[]) {
        const ids = (await b.search(cubeId, u.query, 10, new Date(Date.UTC(2024, 0, 1)))).map((r) => r.id);
        const cur = ids.indexOf(u[currentKey]);
        const old = ids.indexOf(u[staleKey]);
        if (cur >= 0 && (old < 0 || cur < old)) wins++;
      }
      return wins / updates.length;
    };
    results.update_current_first = await currentFirst(on, 'staleId', 'currentId');
    results.update_current_first_off = await currentFirst(off, 'staleOffId', 'currentOffId');
    const superseded = await b.db.query(`SELECT count(*)::int AS n FROM memories WHERE cube_id = $1 AND state = 'superseded'`, [on]);
    rows.push(['updates', `${updates.length} planted; ${superseded[0].n} superseded`]);
    }

    // 3: LongMemEval any@5 before and after fusion of planted duplicates.
    if (PARTS.has('lme')) {
    let before = 0;
    let after = 0;
    let activeBefore = 0;
    let activeAfter = 0;
    let plantedLme = 0;
    const lme = questions.slice(0, QUESTIONS);
    for (const q of lme) {
      const cubeId = await b.cube(`lme-${q.question_id}`);
      const items: object[] = [];
      q.haystack_sessions.forEach((session, s) => {
        session.forEach((turn, t) => {
          const item = { text: turn.content, kind: 'message', role: turn.role, metadata: { sessionId: q.haystack_session_ids[s], turn: t }, observedAt: new Date(lmeDate(q.haystack_dates[s])) };
          items.push(item);
          if (turn.role === 'user' && turn.content.length < 400 && random() < 0.1) {
            items.push({ ...item, text: nearDuplicate(turn.content, plantedLme) });
            plantedLme++;
          }
        });
      });
      await b.add(cubeId, items);
      activeBefore += items.length;
      const refTime = new Date(lmeDate(q.question_date));
      const rank = async () => (await b.search(cubeId, q.question, 50, refTime)).map((r) => `${String(r.metadata.sessionId)}#${String(r.metadata.turn)}`);
      before += scoreLongMemEval(q, await rank()).any[2];
      await b.settle();
      after += scoreLongMemEval(q, await rank()).any[2];
      activeAfter += (await b.db.query(`SELECT count(*)::int AS n FROM memories WHERE cube_id = $1 AND state = 'active'`, [cubeId]))[0].n;
    }
    results.lme_any5_before = before / lme.length;
    results.lme_any5_after = after / lme.length;
    rows.push(['longmemeval', `${lme.length} questions; active ${activeBefore} → ${activeAfter} (${plantedLme} planted duplicates, ${(100 * plantedLme / activeBefore).toFixed(1)}%)`]);
    }

    // 4: a full sweep of a large cube, and search latency during it vs idle.
    if (PARTS.has('sweep')) {
    const big = await b.cube('sweep', { ttl: { byTag: { temp: 0.00001 } }, fusion: { enabled: false }, invalidation: { enabled: false } });
    const t0 = performance.now();
    for (let i = 0; i < N_SWEEP; i += 1000) {
      const n = Math.min(1000, N_SWEEP - i);
      await b.add(big, Array.from({ length: n }, (_, j) => ({ text: `${pick(words)} #${i + j}`, kind: pick(['fact', 'episode', 'message']), tags: random() < 0.02 ? ['temp'] : [] })));
    }
    rows.push(['sweep cube', `${N_SWEEP} memories written in ${((performance.now() - t0) / 1000).toFixed(1)} s`]);
    await sleep(1500); // the temp TTL (under a second) passes
    const queries = Array.from({ length: 300 }, () => pick(words).split(' ').slice(0, 6).join(' '));
    await b.search(big, queries[0], 10); // loads the index
    const timeSearches = async (stopWhen?: () => boolean) => {
      const ms: number[] = [];
      for (let i = 0; ; i++) {
        if (stopWhen ? stopWhen() && ms.length >= 50 : i >= queries.length) break;
        const s = performance.now();
        await b.search(big, queries[i % queries.length], 10);
        ms.push(performance.now() - s);
        await new Promise((resolve) => setImmediate(resolve));
      }
      return ms;
    };
    const idle = await timeSearches();
    let sweeping = true;
    const s0 = performance.now();
    const sweep = app.get(LifecycleEngine).sweep(big).finally(() => (sweeping = false));
    const during = await timeSearches(() => !sweeping);
    const actions = await sweep;
    results.sweep_100k_s = (performance.now() - s0) / 1000;
    results.search_p99_ratio_during_sweep = percentile(during, 0.99) / percentile(idle, 0.99);
    rows.push(['sweep', `${actions.filter((a) => a.status === 'applied').length} expired; search p99 idle ${percentile(idle, 0.99).toFixed(2)} ms, during ${percentile(during, 0.99).toFixed(2)} ms`]);
    }

    // 5: write-to-decision lag while ingesting at RATE memories/s, the runner polling. The
    // writer is a separate process (as the server is beside the worker in production), so
    // the ingest rate is not bounded by the runner sharing its event loop.
    if (PARTS.has('lag')) {
    const lagCube = await b.cube('lag');
    await b.settle(); // earlier parts' ticks are not this part's lag
    const metrics = app.get(LifecycleMetrics);
    metrics.reset();
    const runner = app.get(JobRunner);
    runner.start();
    const sent = await runWriter({ url: scratch.url, dataDir: scratch.dataDir, ctx, cubeId: lagCube, texts: words });
    await sleep(3000);
    await runner.stop();
    const ticks = await b.db.query(
      `SELECT count(*)::int AS n, avg(EXTRACT(EPOCH FROM (finished_at - updated_at))) AS x, max((progress->>'processed')::int) AS maxbatch,
              avg(EXTRACT(EPOCH FROM (finished_at - run_after)) * 1000)::int AS run_ms
         FROM jobs WHERE name = 'lifecycle.tick' AND payload->>'cubeId' = $1 AND state = 'completed'`,
      [lagCube],
    );
    rows.push(['lag ticks', `${ticks[0].n} ticks, largest ${ticks[0].maxbatch} memories, mean ${ticks[0].run_ms} ms from due to done`]);
    results.lag_p99_ms = metrics.lagPercentile(0.99) ?? NaN;
    results.ingest_per_s = sent / SECONDS;
    rows.push(['lag', `${sent} memories in ${SECONDS} s from a writer process (${(sent / SECONDS).toFixed(0)}/s); lag p50 ${metrics.lagPercentile(0.5)} ms, p99 ${results.lag_p99_ms} ms`]);
    }
  } finally {
    await app.close();
    await scratch.drop();
  }
  console.log('| part | figures |');
  console.log('|---|---|');
  for (const [part, text] of rows) console.log(`| ${part} | ${text} |`);
  for (const [k, v] of Object.entries(results)) console.log(`| ${k} | ${Number.isFinite(v) ? v.toFixed(4) : v} |`);
  console.log(JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v * 10000) / 10000]))));
}

if (process.argv.includes('--writer')) {
  process.once('message', (job: WriterJob) => {
    writer(job).then(
      (sent) => process.send!({ sent }, undefined, {}, () => process.exit(0)),
      (error: unknown) => process.send!({ error: String(error) }, undefined, {}, () => process.exit(1)),
    );
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

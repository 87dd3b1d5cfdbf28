import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { embeddedServerSettings, runningEmbeddedPostgres, usableMemoryBytes } from './embedded-postgres.launcher';

const MB = 1024 ** 2;
const GB = 1024 ** 3;

describe('embeddedServerSettings', () => {
  it('gives shared_buffers a quarter of the memory, from 128 MB to 8 GB, and tells the planner of half', () => {
    expect(embeddedServerSettings(24 * GB)).toEqual({ sharedBuffersMb: 6 * 1024, effectiveCacheSizeMb: 12 * 1024 });
    expect(embeddedServerSettings(256 * MB)).toEqual({ sharedBuffersMb: 128, effectiveCacheSizeMb: 128 });
    expect(embeddedServerSettings(128 * GB)).toEqual({ sharedBuffersMb: 8 * 1024, effectiveCacheSizeMb: 64 * 1024 });
    expect(embeddedServerSettings(3 * GB + 1)).toEqual({ sharedBuffersMb: 768, effectiveCacheSizeMb: 1536 });
  });

  it("takes the operator's size as it is, in whole megabytes", () => {
    expect(embeddedServerSettings(24 * GB, 96 * MB + 1000)).toEqual({ sharedBuffersMb: 96, effectiveCacheSizeMb: 12 * 1024 });
    expect(embeddedServerSettings(1 * GB, 2 * GB).sharedBuffersMb).toBe(2048);
    expect(embeddedServerSettings(1 * GB, null).sharedBuffersMb).toBe(256);
  });

  it("reads this process's memory: the machine's, or less under a cgroup limit", () => {
    const usable = usableMemoryBytes();
    expect(usable).toBeGreaterThan(0);
    expect(usable).toBeLessThanOrEqual(os.totalmem());
  });
});

describe('runningEmbeddedPostgres', () => {
  let dataDir: string;
  const pidFile = (pid: number, state: string) => `${pid}\n${dataDir}/pg\n1796072510\n55432\n/tmp\nlocalhost\n  2188417     32771\n${state}\n`;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-running-pg-'));
    fs.mkdirSync(path.join(dataDir, 'pg'));
    fs.writeFileSync(path.join(dataDir, 'pg', 'PG_VERSION'), '16\n');
    fs.writeFileSync(path.join(dataDir, 'pg.secret'), 'f00d');
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('answers the URL of the cluster a live postmaster serves, from its postmaster.pid and pg.secret', () => {
    fs.writeFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), pidFile(process.pid, 'ready   '));
    expect(runningEmbeddedPostgres(dataDir)).toEqual({ url: 'postgres://engram:f00d@127.0.0.1:55432/engram', pid: process.pid, port: 55432 });
  });

  it('answers null when no postmaster runs: no pid file, a dead pid, or no cluster yet', () => {
    expect(runningEmbeddedPostgres(dataDir)).toBeNull();
    fs.writeFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), pidFile(2 ** 22 + 12345, 'ready'));
    expect(runningEmbeddedPostgres(dataDir)).toBeNull();
    fs.rmSync(path.join(dataDir, 'pg', 'PG_VERSION'));
    expect(runningEmbeddedPostgres(dataDir)).toBeNull();
  });

  it('asks to try again while the cluster starts or stops', () => {
    fs.writeFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), pidFile(process.pid, 'stopping'));
    expect(() => runningEmbeddedPostgres(dataDir)).toThrow(/is stopping: try again in a moment/);
  });

  it('says whose command it is when the password cannot be read', () => {
    fs.writeFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), pidFile(process.pid, 'ready'));
    fs.rmSync(path.join(dataDir, 'pg.secret'));
    expect(() => runningEmbeddedPostgres(dataDir)).toThrow(/cannot be read \(ENOENT\): run this command as the user that started engram/);
  });
});

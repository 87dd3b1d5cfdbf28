import * as os from 'node:os';
import { embeddedServerSettings, usableMemoryBytes } from './embedded-postgres.launcher';

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

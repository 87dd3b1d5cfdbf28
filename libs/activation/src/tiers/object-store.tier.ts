// Object-store tier over any S3-compatible client (the adapter supplies get/put/delete).
// engram ships no S3 SDK; InMemoryObjectStore backs tests.
import { BlobTier, emptyMetrics, TierMetrics } from './tier-metrics';

export interface ObjectStoreClient {
  getObject(key: string): Promise<Uint8Array | undefined>;
  putObject(key: string, bytes: Uint8Array): Promise<void>;
  deleteObject(key: string): Promise<void>;
  headObject(key: string): Promise<boolean>;
}

export class InMemoryObjectStore implements ObjectStoreClient {
  readonly objects = new Map<string, Uint8Array>();
  async getObject(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key);
  }
  async putObject(key: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(key, Uint8Array.from(bytes));
  }
  async deleteObject(key: string): Promise<void> {
    this.objects.delete(key);
  }
  async headObject(key: string): Promise<boolean> {
    return this.objects.has(key);
  }
}

export class ObjectStoreTier implements BlobTier {
  readonly name = 'object' as const;
  private readonly stats = emptyMetrics();

  constructor(private readonly client: ObjectStoreClient, private readonly prefix = 'kv/') {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const bytes = await this.client.getObject(this.prefix + key);
    if (bytes) this.stats.hits++;
    else this.stats.misses++;
    return bytes;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    if (await this.client.headObject(this.prefix + key)) return;
    await this.client.putObject(this.prefix + key, bytes);
    this.stats.puts++;
    this.stats.bytes += bytes.length;
    this.stats.items++;
  }

  has(key: string): Promise<boolean> {
    return this.client.headObject(this.prefix + key);
  }

  async delete(key: string): Promise<void> {
    await this.client.deleteObject(this.prefix + key);
  }

  metrics(): TierMetrics {
    return { ...this.stats };
  }
}

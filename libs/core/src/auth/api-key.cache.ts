// API keys by prefix, kept in process so that authentication is not a database round trip
// on every request (ADR 0126). A key is trusted from the cache only while this process
// listens to `engram_api_keys`, which a trigger notifies at the commit of any change that
// decides whether a key authenticates (revocation, tenant deletion, expiry, scopes...), from
// any process or a hand-written statement. A lookup that overlapped a notification is not
// cached; entries also expire after a minute, and expiry time itself is checked by the
// caller on every use.
import { Injectable, OnModuleInit } from '@nestjs/common';
import { ApiKeyRecord, ApiKeyRepository, DatabaseNotifications, NotificationSubscriber } from '@engram/persistence';

export const API_KEY_CHANNEL = 'engram_api_keys';
const MAX_KEYS = 10_000;
const MAX_AGE_MS = 60_000;

@Injectable()
export class ApiKeyCache implements OnModuleInit, NotificationSubscriber {
  private readonly entries = new Map<string, { key: ApiKeyRecord; at: number }>();
  /** Notifications and resets seen: a lookup that saw it change while in flight is not cached. */
  private generation = 0;

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly notifications: DatabaseNotifications,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.notifications.subscribe(API_KEY_CHANNEL, this);
  }

  /** How many changes (notifications, resets) this cache has taken in: tests wait on it. */
  get changesSeen(): number {
    return this.generation;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The key with this prefix, revoked or not, as stored now (or as the last notification left it). */
  async findByPrefix(prefix: string): Promise<ApiKeyRecord | null> {
    const trusted = this.notifications.listening(API_KEY_CHANNEL);
    const hit = trusted ? this.entries.get(prefix) : undefined;
    if (hit && Date.now() - hit.at < MAX_AGE_MS) return hit.key;
    const generation = this.generation;
    const key = await this.keys.findByPrefix(prefix);
    if (key !== null && generation === this.generation && this.notifications.listening(API_KEY_CHANNEL)) {
      if (this.entries.size >= MAX_KEYS && !this.entries.has(prefix)) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(prefix, { key, at: Date.now() });
    } else {
      this.entries.delete(prefix);
    }
    return key;
  }

  /**
   * Drops the keys a change of this process made (a revocation, a tenant's deletion) at
   * once, without waiting for the notification to come back: its next request must see it.
   */
  forget(match: (key: ApiKeyRecord) => boolean): void {
    this.generation++;
    for (const [prefix, { key }] of this.entries) if (match(key)) this.entries.delete(prefix);
  }

  notify(payload: string): void {
    this.generation++;
    if (payload === '*') this.entries.clear();
    else this.entries.delete(payload);
  }

  reset(): void {
    this.generation++;
    this.entries.clear();
  }
}

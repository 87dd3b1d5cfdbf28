// PostgreSQL LISTEN/NOTIFY for in-process caches (ADR 0126): one connection of its own per
// process, opened on the first subscription, that listens on the subscribed channels and
// reconnects after a failure. A cache may trust what it holds only while its channel is
// listened to: `listening()` is false from the moment the connection fails until it is
// listening again, and every subscriber's reset() runs at both moments (what it cached
// meanwhile may have changed unseen).
import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { Client, Notification } from 'pg';
import { DatabaseServer } from './database.providers';

export interface NotificationSubscriber {
  /** A notification on the channel, with its payload. */
  notify(payload: string): void;
  /** The channel was not listened to for a while, or is again: forget everything cached. */
  reset(): void;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/** PostgreSQL's rule for unquoted identifiers, which channel names must follow here. */
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

@Injectable()
export class DatabaseNotifications implements BeforeApplicationShutdown {
  private readonly logger = new Logger('DatabaseNotifications');
  private readonly subscribers = new Map<string, Set<NotificationSubscriber>>();
  private client: Client | null = null;
  private connected = false;
  private connecting: Promise<void> | null = null;
  private closed = false;
  private retryMs = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly server: DatabaseServer) {}

  /** Starts listening on the channel (connecting if needed); resolves once listening, or after a failed attempt. */
  async subscribe(channel: string, subscriber: NotificationSubscriber): Promise<void> {
    if (!CHANNEL.test(channel)) throw new Error(`invalid notification channel ${JSON.stringify(channel)}`);
    let set = this.subscribers.get(channel);
    const fresh = set === undefined;
    if (!set) {
      set = new Set();
      this.subscribers.set(channel, set);
    }
    set.add(subscriber);
    if (this.closed) return;
    if (this.connected && fresh) {
      try {
        await this.client!.query(`LISTEN ${channel}`);
      } catch (error) {
        this.lost(error);
      }
      return;
    }
    await this.connect();
  }

  /** Whether notifications on the channel are being received now. */
  listening(channel: string): boolean {
    return this.connected && this.subscribers.has(channel);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    this.connected = false;
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = new Client({ connectionString: this.server.url, application_name: 'engram-notifications', keepAlive: true });
    client.on('error', (error) => this.lost(error, client));
    client.on('end', () => this.lost(new Error('connection ended'), client));
    client.on('notification', (message: Notification) => this.deliver(message));
    try {
      await client.connect();
      for (const channel of this.subscribers.keys()) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      this.lost(error);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connected = true;
    this.retryMs = RECONNECT_MIN_MS;
    this.resetAll();
  }

  private deliver(message: Notification): void {
    for (const subscriber of this.subscribers.get(message.channel) ?? []) subscriber.notify(message.payload ?? '');
  }

  /** The connection failed (or never opened): caches stop trusting what they hold, and it is opened again later. */
  private lost(error: unknown, client?: Client): void {
    if (client !== undefined && client !== this.client) return; // an old connection's late event
    const wasConnected = this.connected;
    this.connected = false;
    this.client = null;
    if (wasConnected) client?.end().catch(() => undefined);
    this.resetAll();
    if (this.closed || this.retryTimer) return;
    if (wasConnected || this.retryMs === RECONNECT_MIN_MS) this.logger.warn(`not listening for database notifications (caches bypassed): ${error instanceof Error ? error.message : String(error)}; retrying`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.retryMs);
    this.retryTimer.unref?.();
    this.retryMs = Math.min(RECONNECT_MAX_MS, this.retryMs * 2);
  }

  private resetAll(): void {
    for (const set of this.subscribers.values()) for (const subscriber of set) subscriber.reset();
  }
}

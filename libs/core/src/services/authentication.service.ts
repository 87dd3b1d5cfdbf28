import { Inject, Injectable, Logger } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { ApiKeyRepository, SystemSettingRepository } from '@engram/persistence';
import { ApiKeyCache } from '../auth/api-key.cache';
import { AuthContext } from '../auth/auth-context';
import { Scope } from '../auth/permission';
import { hashSecret, prefixOfApiKey, randomToken, secretMatches } from '../auth/secret';

const ADMIN_TOKEN_HASH = 'admin_token_hash';
/** last_used_at is kept to the minute: this process writes it at most once a minute per key. */
const TOUCH_EVERY_MS = 60_000;
const TOUCHED_KEYS_LIMIT = 10_000;

/** Turns a bearer token into an AuthContext, or null when it is not valid now. */
@Injectable()
export class AuthenticationService {
  private readonly logger = new Logger('Auth');
  private adminTokenHash: string | null = null;
  /** When this process last recorded each key's use. */
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly keyCache: ApiKeyCache,
    private readonly settings: SystemSettingRepository,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {
    if (config.adminToken) this.adminTokenHash = hashSecret(config.adminToken);
  }

  /**
   * Sets up the operator token: ENGRAM_ADMIN_TOKEN when given (its hash is stored),
   * otherwise the stored hash, otherwise a new token printed once to `announce`.
   */
  async initAdminToken(announce: (token: string) => void): Promise<void> {
    if (this.config.adminToken) {
      this.adminTokenHash = hashSecret(this.config.adminToken);
      await this.settings.set(ADMIN_TOKEN_HASH, this.adminTokenHash);
      return;
    }
    const token = `egm_admin_${randomToken(32)}`;
    if (await this.settings.setIfAbsent(ADMIN_TOKEN_HASH, hashSecret(token))) announce(token);
    this.adminTokenHash = await this.settings.get<string>(ADMIN_TOKEN_HASH);
  }

  async authenticate(token: string): Promise<AuthContext | null> {
    // Only hashes are compared, in constant time: the token itself is never compared with ===.
    const adminHash = this.adminTokenHash ?? (token.startsWith('egm_admin_') ? await this.settings.get<string>(ADMIN_TOKEN_HASH) : null);
    if (adminHash !== null && secretMatches(token, adminHash)) return { kind: 'admin', actorId: 'admin' };
    if (token.startsWith('egm_admin_')) return null;
    const prefix = prefixOfApiKey(token);
    if (prefix === null) return null;
    const key = await this.keyCache.findByPrefix(prefix);
    if (!key || !secretMatches(token, key.keyHash)) return null;
    if (key.revokedAt !== null) return null;
    if (key.expiresAt !== null && key.expiresAt.getTime() <= Date.now()) return null;
    this.recordUse(key.id);
    return { kind: 'key', actorId: key.id, keyId: key.id, tenantId: key.tenantId, scopes: key.scopes as Scope[], cubeIds: key.cubeIds, rateLimitPerMinute: key.rateLimitPerMinute };
  }

  private recordUse(keyId: string): void {
    const now = Date.now();
    if (now - (this.touched.get(keyId) ?? 0) < TOUCH_EVERY_MS) return;
    if (this.touched.size >= TOUCHED_KEYS_LIMIT) this.touched.clear();
    this.touched.set(keyId, now);
    this.keys.touch(keyId).catch((error: unknown) => this.logger.warn(`could not record key use: ${String(error)}`));
  }
}

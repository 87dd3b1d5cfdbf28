import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every change to an API key that decides whether it authenticates (revoked, expired,
 * scopes, cubes, limits, hash; deleted with its tenant; tables truncated) notifies the
 * channel `engram_api_keys` with the key's prefix (or `*`), at commit: the servers'
 * authentication caches drop it (ADR 0126). `last_used_at` updates notify nothing.
 */
export class ApiKeyNotify1795970000000 implements MigrationInterface {
    name = 'ApiKeyNotify1795970000000';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE FUNCTION "engram_api_key_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('engram_api_keys', '*');
  ELSE
    PERFORM pg_notify('engram_api_keys', OLD.prefix);
  END IF;
  RETURN NULL;
END $$`);
        await queryRunner.query(`CREATE TRIGGER "TRG_api_keys_changed" AFTER DELETE OR UPDATE OF "prefix", "key_hash", "tenant_id", "scopes", "cube_ids", "expires_at", "revoked_at", "rate_limit_per_minute" ON "api_keys" FOR EACH ROW EXECUTE FUNCTION "engram_api_key_changed"()`);
        await queryRunner.query(`CREATE TRIGGER "TRG_api_keys_truncated" AFTER TRUNCATE ON "api_keys" FOR EACH STATEMENT EXECUTE FUNCTION "engram_api_key_changed"()`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TRIGGER "TRG_api_keys_truncated" ON "api_keys"`);
        await queryRunner.query(`DROP TRIGGER "TRG_api_keys_changed" ON "api_keys"`);
        await queryRunner.query(`DROP FUNCTION "engram_api_key_changed"()`);
    }
}

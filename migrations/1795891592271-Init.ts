import { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1795891592271 implements MigrationInterface {
    name = 'Init1795891592271';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "tenants" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_53be67a04681c66b87ee27c9321" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_tenants_name" ON "tenants"  ("name") `);
        await queryRunner.query(`CREATE TABLE "api_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid NOT NULL, "name" text, "prefix" text NOT NULL, "key_hash" text NOT NULL, "scopes" text array NOT NULL, "cube_ids" uuid array, "expires_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "last_used_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_api_keys_prefix" ON "api_keys"  ("prefix") `);
        await queryRunner.query(`CREATE INDEX "IDX_api_keys_tenant" ON "api_keys"  ("tenant_id", "created_at") `);
        await queryRunner.query(`CREATE TABLE "audit_events" ("id" BIGSERIAL NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "request_id" text, "actor_type" text NOT NULL, "actor_id" uuid, "tenant_id" uuid, "action" text NOT NULL, "target_type" text NOT NULL, "target_id" text, "details" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_910f64d901a5c3e9878f0d4a407" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_audit_events_at" ON "audit_events"  ("at") `);
        await queryRunner.query(`CREATE INDEX "IDX_audit_events_tenant" ON "audit_events"  ("tenant_id", "id") `);
        await queryRunner.query(`CREATE TABLE "cubes" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "tenant_id" uuid NOT NULL, "name" text NOT NULL, "description" text, "settings" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "deleted_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_54ef4ebbd39e4d1581cb032c0ff" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_cubes_tenant_name_live" ON "cubes"  ("tenant_id", "name") WHERE "deleted_at" IS NULL`);
        await queryRunner.query(`CREATE INDEX "IDX_cubes_tenant_created" ON "cubes"  ("tenant_id", "created_at", "id") `);
        await queryRunner.query(`CREATE TABLE "jobs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "payload" jsonb NOT NULL DEFAULT '{}', "state" text NOT NULL DEFAULT 'queued', "tenant_id" uuid, "singleton_key" text, "attempts" integer NOT NULL DEFAULT '0', "max_attempts" integer NOT NULL DEFAULT '5', "run_after" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "locked_by" text, "locked_until" TIMESTAMP WITH TIME ZONE, "last_error" text, "progress" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_cf0a6c42b72fcc7f7c237def345" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_jobs_singleton" ON "jobs"  ("singleton_key") WHERE "singleton_key" IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "IDX_jobs_claim" ON "jobs"  ("state", "run_after") `);
        await queryRunner.query(`CREATE TABLE "system_settings" ("key" text NOT NULL, "value" jsonb NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_b1b5bc664526d375c94ce9ad43d" PRIMARY KEY ("key"))`);
        await queryRunner.query(`ALTER TABLE "api_keys" ADD CONSTRAINT "FK_3ac18429c8d27858d79432e0dda" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "cubes" ADD CONSTRAINT "FK_c7c8609814078c235a42dc8853f" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "cubes" DROP CONSTRAINT "FK_c7c8609814078c235a42dc8853f"`);
        await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "FK_3ac18429c8d27858d79432e0dda"`);
        await queryRunner.query(`DROP TABLE "system_settings"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_jobs_claim"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_jobs_singleton"`);
        await queryRunner.query(`DROP TABLE "jobs"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_cubes_tenant_created"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_cubes_tenant_name_live"`);
        await queryRunner.query(`DROP TABLE "cubes"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_audit_events_tenant"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_audit_events_at"`);
        await queryRunner.query(`DROP TABLE "audit_events"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_api_keys_tenant"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_api_keys_prefix"`);
        await queryRunner.query(`DROP TABLE "api_keys"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_tenants_name"`);
        await queryRunner.query(`DROP TABLE "tenants"`);
    }
}

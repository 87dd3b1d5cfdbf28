import { MigrationInterface, QueryRunner } from 'typeorm';

export class PlaintextMemories1795892029642 implements MigrationInterface {
    name = 'PlaintextMemories1795892029642';

    public async up(queryRunner: QueryRunner): Promise<void> {
        // Reviewed addition: the change sequence that index followers read (not an entity).
        await queryRunner.query(`CREATE SEQUENCE "engram_change_seq" AS bigint`);
        await queryRunner.query(`CREATE TABLE "memories" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "cube_id" uuid NOT NULL, "label" BIGSERIAL NOT NULL, "change_seq" bigint NOT NULL, "text" text NOT NULL, "kind" text NOT NULL DEFAULT 'fact', "role" text, "tags" text array NOT NULL DEFAULT '{}', "metadata" jsonb NOT NULL DEFAULT '{}', "source" jsonb NOT NULL DEFAULT '{}', "session_id" text, "observed_at" TIMESTAMP WITH TIME ZONE, "valid_from" TIMESTAMP WITH TIME ZONE, "valid_to" TIMESTAMP WITH TIME ZONE, "importance" real, "state" text NOT NULL DEFAULT 'active', "version" integer NOT NULL DEFAULT '1', "access_count" integer NOT NULL DEFAULT '0', "last_accessed_at" TIMESTAMP WITH TIME ZONE, "embedding" bytea, "embedder_fingerprint" text, "created_by" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expired_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_aaa0692d9496fe827b0568612f8" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_memories_label" ON "memories"  ("label") `);
        await queryRunner.query(`CREATE INDEX "IDX_memories_cube_created" ON "memories"  ("cube_id", "created_at", "id") `);
        await queryRunner.query(`CREATE INDEX "IDX_memories_cube_change" ON "memories"  ("cube_id", "change_seq") `);
        await queryRunner.query(`CREATE TABLE "memory_versions" ("id" BIGSERIAL NOT NULL, "memory_id" uuid NOT NULL, "version" integer NOT NULL, "action" text NOT NULL, "actor_type" text NOT NULL, "actor_id" uuid, "request_id" text, "old_values" jsonb, "new_values" jsonb, "reason" text, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_8cf4934bc89c443c59475b2ad3e" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_memory_versions_memory" ON "memory_versions"  ("memory_id", "version") `);
        await queryRunner.query(`CREATE TABLE "idempotency_records" ("scope" text NOT NULL, "request_hash" text NOT NULL, "status_code" integer NOT NULL, "response" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_99a3858bc674d44f80ff0c36030" PRIMARY KEY ("scope"))`);
        await queryRunner.query(`CREATE INDEX "IDX_idempotency_records_created" ON "idempotency_records"  ("created_at") `);
        await queryRunner.query(`ALTER TABLE "memories" ADD CONSTRAINT "FK_8194fb7e3b3cc16b14b872ab9d1" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "memory_versions" ADD CONSTRAINT "FK_cf18944d1a4d5dabbfd4e1acb90" FOREIGN KEY ("memory_id") REFERENCES "memories"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "memory_versions" DROP CONSTRAINT "FK_cf18944d1a4d5dabbfd4e1acb90"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP CONSTRAINT "FK_8194fb7e3b3cc16b14b872ab9d1"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_idempotency_records_created"`);
        await queryRunner.query(`DROP TABLE "idempotency_records"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_memory_versions_memory"`);
        await queryRunner.query(`DROP TABLE "memory_versions"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_memories_cube_change"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_memories_cube_created"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_memories_label"`);
        await queryRunner.query(`DROP TABLE "memories"`);
        await queryRunner.query(`DROP SEQUENCE "engram_change_seq"`);
    }
}

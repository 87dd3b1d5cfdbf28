import { MigrationInterface, QueryRunner } from 'typeorm';

export class Lifecycle1795943903663 implements MigrationInterface {
    name = 'Lifecycle1795943903663';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "lifecycle_events" ("id" BIGSERIAL NOT NULL, "cube_id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "memory_ids" uuid array NOT NULL, "action" text NOT NULL, "reason" jsonb NOT NULL DEFAULT '{}', "actor_type" text NOT NULL, "actor_id" text, "run_id" uuid, "before" jsonb NOT NULL DEFAULT '{}', "after" jsonb NOT NULL DEFAULT '{}', "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_34abb88c0eea13bbddefd999a27" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_lifecycle_events_cube" ON "lifecycle_events"  ("cube_id", "id") `);
        await queryRunner.query(`CREATE TABLE "lifecycle_runs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "cube_id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "status" text NOT NULL DEFAULT 'queued', "requested_by_type" text NOT NULL, "requested_by" text, "job_id" uuid, "actions" jsonb NOT NULL DEFAULT '[]', "error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_3fb582b0453377ffbeee23e6107" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_lifecycle_runs_cube" ON "lifecycle_runs"  ("cube_id", "created_at") `);
        await queryRunner.query(`CREATE TABLE "lifecycle_policies" ("scope" text NOT NULL, "policy" jsonb NOT NULL DEFAULT '{}', "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_09ba5ae413675561f0e9cfebe2f" PRIMARY KEY ("scope"))`);
        await queryRunner.query(`CREATE TABLE "cube_lifecycle_state" ("cube_id" uuid NOT NULL, "processed_seq" bigint NOT NULL DEFAULT '0', "swept_at" TIMESTAMP WITH TIME ZONE, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_188b5c0860637fabade07cc25c6" PRIMARY KEY ("cube_id"))`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "pinned" boolean NOT NULL DEFAULT false`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "expires_at" TIMESTAMP WITH TIME ZONE`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "merged_into" uuid`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "superseded_by" uuid`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "fact_subject" text`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "fact_predicate" text`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "fact_object" text`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "fact_key" text`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "restored_at" TIMESTAMP WITH TIME ZONE`);
        await queryRunner.query(`CREATE INDEX "IDX_memories_cube_expires" ON "memories"  ("cube_id", "expires_at") WHERE "expires_at" IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "IDX_memories_cube_fact" ON "memories"  ("cube_id", "fact_key") WHERE "fact_key" IS NOT NULL`);
        await queryRunner.query(`ALTER TABLE "lifecycle_events" ADD CONSTRAINT "FK_e9aadc51b6053da3b9177e62dd9" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "lifecycle_runs" ADD CONSTRAINT "FK_b5a66029dc0b2261ae178424a11" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "cube_lifecycle_state" ADD CONSTRAINT "FK_188b5c0860637fabade07cc25c6" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        // "Events of memory X" (GET …/lifecycle/events?memoryId=); declared with synchronize: false on the entity.
        await queryRunner.query(`CREATE INDEX "IDX_lifecycle_events_memory_ids" ON "lifecycle_events" USING GIN ("memory_ids")`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."IDX_lifecycle_events_memory_ids"`);
        await queryRunner.query(`ALTER TABLE "cube_lifecycle_state" DROP CONSTRAINT "FK_188b5c0860637fabade07cc25c6"`);
        await queryRunner.query(`ALTER TABLE "lifecycle_runs" DROP CONSTRAINT "FK_b5a66029dc0b2261ae178424a11"`);
        await queryRunner.query(`ALTER TABLE "lifecycle_events" DROP CONSTRAINT "FK_e9aadc51b6053da3b9177e62dd9"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_memories_cube_fact"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_memories_cube_expires"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "restored_at"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "fact_key"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "fact_object"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "fact_predicate"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "fact_subject"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "superseded_by"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "merged_into"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "expires_at"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "pinned"`);
        await queryRunner.query(`DROP TABLE "cube_lifecycle_state"`);
        await queryRunner.query(`DROP TABLE "lifecycle_policies"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_lifecycle_runs_cube"`);
        await queryRunner.query(`DROP TABLE "lifecycle_runs"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_lifecycle_events_cube"`);
        await queryRunner.query(`DROP TABLE "lifecycle_events"`);
    }
}

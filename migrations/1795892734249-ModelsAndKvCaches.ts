import { MigrationInterface, QueryRunner } from 'typeorm';

export class ModelsAndKvCaches1795892734249 implements MigrationInterface {
    name = 'ModelsAndKvCaches1795892734249';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "models" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "fingerprint" text NOT NULL, "directory" text NOT NULL, "format" text NOT NULL, "config" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ef9ed7160ea69013636466bf2d5" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_models_name" ON "models"  ("name") `);
        await queryRunner.query(`CREATE TABLE "kv_caches" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "cube_id" uuid NOT NULL, "model_id" uuid NOT NULL, "fingerprint" text NOT NULL, "entry_id" text NOT NULL, "text" text NOT NULL, "token_count" integer NOT NULL, "bytes" bigint NOT NULL, "source_memory_ids" uuid array NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_706799d99f63fef741eebcc1ead" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_kv_caches_cube_entry" ON "kv_caches"  ("cube_id", "entry_id") `);
        await queryRunner.query(`CREATE INDEX "IDX_kv_caches_cube_created" ON "kv_caches"  ("cube_id", "created_at", "id") `);
        await queryRunner.query(`ALTER TABLE "kv_caches" ADD CONSTRAINT "FK_9783e766d214ad50c18f3ceaccd" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "kv_caches" ADD CONSTRAINT "FK_0ec462dce30bc3fcabeee532f19" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "kv_caches" DROP CONSTRAINT "FK_0ec462dce30bc3fcabeee532f19"`);
        await queryRunner.query(`ALTER TABLE "kv_caches" DROP CONSTRAINT "FK_9783e766d214ad50c18f3ceaccd"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_kv_caches_cube_created"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_kv_caches_cube_entry"`);
        await queryRunner.query(`DROP TABLE "kv_caches"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_models_name"`);
        await queryRunner.query(`DROP TABLE "models"`);
    }
}

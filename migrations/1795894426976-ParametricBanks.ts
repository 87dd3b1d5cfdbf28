import { MigrationInterface, QueryRunner } from 'typeorm';

export class ParametricBanks1795894426976 implements MigrationInterface {
    name = 'ParametricBanks1795894426976';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "banks" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "cube_id" uuid NOT NULL, "model_id" uuid NOT NULL, "model_fingerprint" text NOT NULL, "embedder" jsonb NOT NULL, "embedder_fingerprint" text NOT NULL, "levels" integer NOT NULL, "branching" integer NOT NULL, "ranks" integer array NOT NULL, "state" text NOT NULL DEFAULT 'building', "progress" jsonb NOT NULL DEFAULT '{}', "generation" integer NOT NULL DEFAULT '0', "directory" text NOT NULL, "job_id" uuid, "error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3975b5f684ec241e3901db62d77" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "IDX_banks_cube_created" ON "banks"  ("cube_id", "created_at", "id") `);
        await queryRunner.query(`ALTER TABLE "banks" ADD CONSTRAINT "FK_14b8548aaab2818746e7d8354e3" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "banks" ADD CONSTRAINT "FK_535c7a82c250bdc2e2c90ffb534" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "banks" DROP CONSTRAINT "FK_535c7a82c250bdc2e2c90ffb534"`);
        await queryRunner.query(`ALTER TABLE "banks" DROP CONSTRAINT "FK_14b8548aaab2818746e7d8354e3"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_banks_cube_created"`);
        await queryRunner.query(`DROP TABLE "banks"`);
    }
}

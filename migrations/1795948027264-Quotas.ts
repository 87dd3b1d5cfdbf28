import { MigrationInterface, QueryRunner } from 'typeorm';

export class Quotas1795948027264 implements MigrationInterface {
    name = 'Quotas1795948027264';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "rate_limit_windows" ("subject" text NOT NULL, "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "count" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_965170bef6042dddefb08bfa628" PRIMARY KEY ("subject", "window_start"))`);
        await queryRunner.query(`CREATE INDEX "IDX_rate_limit_windows_start" ON "rate_limit_windows"  ("window_start") `);
        await queryRunner.query(`ALTER TABLE "tenants" ADD "quotas" jsonb NOT NULL DEFAULT '{}'`);
        await queryRunner.query(`ALTER TABLE "api_keys" ADD "rate_limit_per_minute" integer`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "rate_limit_per_minute"`);
        await queryRunner.query(`ALTER TABLE "tenants" DROP COLUMN "quotas"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_rate_limit_windows_start"`);
        await queryRunner.query(`DROP TABLE "rate_limit_windows"`);
    }
}

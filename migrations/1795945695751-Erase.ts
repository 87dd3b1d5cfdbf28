import { MigrationInterface, QueryRunner } from 'typeorm';

export class Erase1795945695751 implements MigrationInterface {
    name = 'Erase1795945695751';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."UQ_tenants_name"`);
        await queryRunner.query(`ALTER TABLE "tenants" ADD "deleted_at" TIMESTAMP WITH TIME ZONE`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "erased_at" TIMESTAMP WITH TIME ZONE`);
        await queryRunner.query(`ALTER TABLE "idempotency_records" ADD "cube_id" uuid`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_tenants_name_live" ON "tenants"  ("name") WHERE "deleted_at" IS NULL`);
        await queryRunner.query(`CREATE INDEX "IDX_idempotency_records_cube" ON "idempotency_records"  ("cube_id") `);
        await queryRunner.query(`ALTER TABLE "idempotency_records" ADD CONSTRAINT "FK_4463bbc301c763a92d7b94afecf" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "idempotency_records" DROP CONSTRAINT "FK_4463bbc301c763a92d7b94afecf"`);
        await queryRunner.query(`DROP INDEX "public"."IDX_idempotency_records_cube"`);
        await queryRunner.query(`DROP INDEX "public"."UQ_tenants_name_live"`);
        await queryRunner.query(`ALTER TABLE "idempotency_records" DROP COLUMN "cube_id"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "erased_at"`);
        await queryRunner.query(`ALTER TABLE "tenants" DROP COLUMN "deleted_at"`);
        await queryRunner.query(`CREATE UNIQUE INDEX "UQ_tenants_name" ON "tenants" USING btree ("name") `);
    }
}

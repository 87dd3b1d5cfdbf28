import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A memory's access statistics move out of its row into memory_access (ADR 0129): counting a
 * search's hits rewrote each hit's whole row (text, metadata, a 1 KB embedding) with an entry
 * in each of its eight indexes, about 0.25–1.4 s of database time per 1,000 hits at 1M
 * memories; here a narrow row, updated in place (fillfactor leaves room for that). The
 * counts already kept are carried over, both ways.
 */
export class MemoryAccess1796025865170 implements MigrationInterface {
    name = 'MemoryAccess1796025865170';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "memory_access" ("memory_id" uuid NOT NULL, "access_count" integer NOT NULL DEFAULT '0', "last_accessed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_5cc8b0a8c69134e3fccbc424774" PRIMARY KEY ("memory_id")) WITH (fillfactor = 70)`);
        await queryRunner.query(`INSERT INTO "memory_access" ("memory_id", "access_count", "last_accessed_at") SELECT "id", "access_count", "last_accessed_at" FROM "memories" WHERE "access_count" <> 0 OR "last_accessed_at" IS NOT NULL`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "access_count"`);
        await queryRunner.query(`ALTER TABLE "memories" DROP COLUMN "last_accessed_at"`);
        await queryRunner.query(`ALTER TABLE "memory_access" ADD CONSTRAINT "FK_5cc8b0a8c69134e3fccbc424774" FOREIGN KEY ("memory_id") REFERENCES "memories"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "memory_access" DROP CONSTRAINT "FK_5cc8b0a8c69134e3fccbc424774"`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "last_accessed_at" TIMESTAMP WITH TIME ZONE`);
        await queryRunner.query(`ALTER TABLE "memories" ADD "access_count" integer NOT NULL DEFAULT '0'`);
        await queryRunner.query(`UPDATE "memories" m SET "access_count" = a."access_count", "last_accessed_at" = a."last_accessed_at" FROM "memory_access" a WHERE a."memory_id" = m."id"`);
        await queryRunner.query(`DROP TABLE "memory_access"`);
    }
}

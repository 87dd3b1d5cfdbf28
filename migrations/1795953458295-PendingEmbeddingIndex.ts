import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deferred embedding (ADR 0106) looks for memories still without a vector: the boot sweep
 * over every cube, then each cube's catch-up in change order. A partial index on those
 * rows only keeps both reads proportional to what is pending, not to every memory stored.
 */
export class PendingEmbeddingIndex1795953458295 implements MigrationInterface {
    name = 'PendingEmbeddingIndex1795953458295';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE INDEX "IDX_memories_pending_embedding" ON "memories"  ("cube_id", "change_seq") WHERE "embedding" IS NULL AND "state" <> 'deleted'`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."IDX_memories_pending_embedding"`);
    }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

export class BankBlocks1795901935063 implements MigrationInterface {
    name = 'BankBlocks1795901935063';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "bank_blocks" ("bank_id" uuid NOT NULL, "level" integer NOT NULL, "node" integer NOT NULL, "memory_ids" uuid array NOT NULL, "stale" boolean NOT NULL DEFAULT false, "locked" boolean NOT NULL DEFAULT false, "generation" integer NOT NULL, "steps" integer NOT NULL DEFAULT '0', "final_loss" double precision, "written_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_5216b90080a4c535a39d5d8efcc" PRIMARY KEY ("bank_id", "level", "node"))`);
        await queryRunner.query(`CREATE TABLE "bank_deleted_memories" ("bank_id" uuid NOT NULL, "memory_id" uuid NOT NULL, "deleted_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_e9b1b1ba0ba5563b54ac5fbbeb9" PRIMARY KEY ("bank_id", "memory_id"))`);
        await queryRunner.query(`ALTER TABLE "bank_blocks" ADD CONSTRAINT "FK_b2c0ba456c488a8557db928bde7" FOREIGN KEY ("bank_id") REFERENCES "banks"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "bank_deleted_memories" ADD CONSTRAINT "FK_dc6b7e5fba9dbe8a2415b7e3e77" FOREIGN KEY ("bank_id") REFERENCES "banks"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        // "Which blocks hold memory X" (forgetting); declared with synchronize: false on the entity.
        await queryRunner.query(`CREATE INDEX "IDX_bank_blocks_memory_ids" ON "bank_blocks" USING GIN ("memory_ids")`);
        // Ready banks kept their provenance in the bank directory's sidecar: with the row at
        // generation 0 the bank file is ahead of it, so the first open imports every block
        // from the file side (ADR 0305).
        await queryRunner.query(`UPDATE "banks" SET "generation" = 0 WHERE "state" = 'ready'`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        // Generations reset by up() are not restored: the sidecars still hold the provenance.
        await queryRunner.query(`DROP INDEX "IDX_bank_blocks_memory_ids"`);
        await queryRunner.query(`ALTER TABLE "bank_deleted_memories" DROP CONSTRAINT "FK_dc6b7e5fba9dbe8a2415b7e3e77"`);
        await queryRunner.query(`ALTER TABLE "bank_blocks" DROP CONSTRAINT "FK_b2c0ba456c488a8557db928bde7"`);
        await queryRunner.query(`DROP TABLE "bank_deleted_memories"`);
        await queryRunner.query(`DROP TABLE "bank_blocks"`);
    }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

export class WorkingMemory1795956408738 implements MigrationInterface {
    name = 'WorkingMemory1795956408738';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "working_memories" ("cube_id" uuid NOT NULL, "model_id" uuid NOT NULL, "fingerprint" text NOT NULL, "entry_id" text NOT NULL, "text" text NOT NULL, "token_count" integer NOT NULL, "bytes" bigint NOT NULL, "source_memory_ids" uuid array NOT NULL DEFAULT '{}', "generation" integer NOT NULL DEFAULT '1', "stale_since" TIMESTAMP WITH TIME ZONE, "built_at" TIMESTAMP WITH TIME ZONE NOT NULL, "build_ms" integer NOT NULL DEFAULT '0', "reused_tokens" integer NOT NULL DEFAULT '0', "prefilled_tokens" integer NOT NULL DEFAULT '0', "last_used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_99bb0f481fc7dcbd431dfacdb08" PRIMARY KEY ("cube_id"))`);
        await queryRunner.query(`ALTER TABLE "working_memories" ADD CONSTRAINT "FK_99bb0f481fc7dcbd431dfacdb08" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "working_memories" ADD CONSTRAINT "FK_e323b71dab3d55922f5d4ff61e5" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "working_memories" DROP CONSTRAINT "FK_e323b71dab3d55922f5d4ff61e5"`);
        await queryRunner.query(`ALTER TABLE "working_memories" DROP CONSTRAINT "FK_99bb0f481fc7dcbd431dfacdb08"`);
        await queryRunner.query(`DROP TABLE "working_memories"`);
    }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

export class WorkingMemoryRefusals1795963172279 implements MigrationInterface {
    name = 'WorkingMemoryRefusals1795963172279';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "working_memory_refusals" ("cube_id" uuid NOT NULL, "needed_bytes" bigint NOT NULL, "used_bytes" bigint NOT NULL, "limit_bytes" bigint NOT NULL, "refused_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_adffe412fff0d01ac7d0670302f" PRIMARY KEY ("cube_id"))`);
        await queryRunner.query(`ALTER TABLE "working_memory_refusals" ADD CONSTRAINT "FK_adffe412fff0d01ac7d0670302f" FOREIGN KEY ("cube_id") REFERENCES "cubes"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "working_memory_refusals" DROP CONSTRAINT "FK_adffe412fff0d01ac7d0670302f"`);
        await queryRunner.query(`DROP TABLE "working_memory_refusals"`);
    }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

export class CubeLabelIndex1795953579477 implements MigrationInterface {
    name = 'CubeLabelIndex1795953579477';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE INDEX "IDX_memories_cube_label" ON "memories"  ("cube_id", "label") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."IDX_memories_cube_label"`);
    }
}

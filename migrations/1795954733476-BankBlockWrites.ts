import { MigrationInterface, QueryRunner } from 'typeorm';

export class BankBlockWrites1795954733476 implements MigrationInterface {
    name = 'BankBlockWrites1795954733476';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "bank_blocks" ADD "writes" integer NOT NULL DEFAULT '1'`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "bank_blocks" DROP COLUMN "writes"`);
    }
}

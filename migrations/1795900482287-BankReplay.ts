import { MigrationInterface, QueryRunner } from 'typeorm';

export class BankReplay1795900482287 implements MigrationInterface {
    name = 'BankReplay1795900482287';

    public async up(queryRunner: QueryRunner): Promise<void> {
        // Banks made before replay get the defaults of ADR 0304; new rows always carry their settings.
        await queryRunner.query(`ALTER TABLE "banks" ADD "replay" jsonb NOT NULL DEFAULT '{"source":"anchor","perStep":8,"weight":20,"samples":128}'`);
        await queryRunner.query(`ALTER TABLE "banks" ALTER COLUMN "replay" DROP DEFAULT`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "banks" DROP COLUMN "replay"`);
    }
}

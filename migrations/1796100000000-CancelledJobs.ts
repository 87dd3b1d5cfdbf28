import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Jobs an operator cancelled get a state of their own, `cancelled` (ADR 0408): until now they
 * ended `failed` with the error "cancelled by the operator", and counted as failures in
 * /v1/admin/scheduler and /metrics. The rows that ended that way become `cancelled`.
 */
export class CancelledJobs1796100000000 implements MigrationInterface {
    name = 'CancelledJobs1796100000000';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`UPDATE "jobs" SET "state" = 'cancelled' WHERE "state" = 'failed' AND "last_error" = 'cancelled by the operator'`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`UPDATE "jobs" SET "state" = 'failed' WHERE "state" = 'cancelled'`);
    }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Chat and bank jobs got scopes of their own (inference:run, banks:write). Keys issued
 * before keep what they could do: a key that could read memories may still chat, one that
 * could write them may still build banks. New keys ask for them explicitly.
 */
export class CostScopes1795949091660 implements MigrationInterface {
    name = 'CostScopes1795949091660';

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`UPDATE "api_keys" SET "scopes" = array_append("scopes", 'inference:run')
                                  WHERE "scopes" && ARRAY['memories:read', 'memories:write', 'cubes:write']::text[] AND NOT 'inference:run' = ANY("scopes")`);
        await queryRunner.query(`UPDATE "api_keys" SET "scopes" = array_append("scopes", 'banks:write')
                                  WHERE 'memories:write' = ANY("scopes") AND NOT 'banks:write' = ANY("scopes")`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`UPDATE "api_keys" SET "scopes" = array_remove(array_remove("scopes", 'inference:run'), 'banks:write')`);
    }
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';

/**
 * Writes `migrations/<epoch>-<Name>.ts` holding the SQL that takes the database from
 * its migrated state to the entities (as `typeorm migration:generate` would), and
 * appends it to `migrations/index.ts`. Returns the file, or null when nothing changed.
 */
export async function generateMigration(dataSource: DataSource, name: string, migrationsDir: string, now = Date.now()): Promise<string | null> {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(name)) throw new Error(`migration name must be PascalCase letters and digits, got "${name}"`);
  const sql = await dataSource.driver.createSchemaBuilder().log();
  if (sql.upQueries.length === 0) return null;
  const className = `${name}${now}`;
  const quote = (query: string, parameters?: unknown[]) =>
    `        await queryRunner.query(\`${query.replace(/`/g, '\\`')}\`${parameters?.length ? `, ${JSON.stringify(parameters)}` : ''});`;
  const up = sql.upQueries.map((q) => quote(q.query, q.parameters)).join('\n');
  const down = [...sql.downQueries].reverse().map((q) => quote(q.query, q.parameters)).join('\n');
  const file = path.join(migrationsDir, `${now}-${name}.ts`);
  fs.writeFileSync(
    file,
    `import { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
    name = '${className}';

    public async up(queryRunner: QueryRunner): Promise<void> {
${up}
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
${down}
    }
}
`,
  );
  const indexFile = path.join(migrationsDir, 'index.ts');
  const index = fs.readFileSync(indexFile, 'utf8');
  const importLine = `import { ${className} } from './${now}-${name}';\n`;
  const withImport = index.replace(/(\/\/[^\n]*\n)/, `$1${importLine}`);
  const withEntry = withImport.replace(/export const MIGRATIONS: Function\[\] = \[([^\]]*)\];/, (_m, body: string) => {
    const entries = body.split(',').map((e) => e.trim()).filter(Boolean);
    entries.push(className);
    return `export const MIGRATIONS: Function[] = [${entries.join(', ')}];`;
  });
  fs.writeFileSync(indexFile, withEntry);
  return file;
}

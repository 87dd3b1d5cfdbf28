import { Command, InvalidArgumentError } from 'commander';
import { NestFactory } from '@nestjs/core';
import { plainToInstance } from 'class-transformer';
import { isUUID, validate } from 'class-validator';
import { EngramConfig } from '@engram/config';
import { ALL_SCOPES, ApiKeyService, CoreModule, CreateApiKeyDto, CreateTenantDto, RequestContext, TenantService } from '@engram/core';
import { operatorConfig } from './operator-database';

export const CLI_CONTEXT: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'cli' };

/**
 * Runs an operator command on the core services. Nest logs nothing: a failed start (no
 * database, bad credentials…) is thrown to main.ts, which prints the cause and what to do,
 * and stdout keeps only the command's result. The embedded PostgreSQL of a running
 * `engram serve` is used as it runs (operatorConfig).
 */
export async function withCore<T>(config: EngramConfig, run: (get: <S>(type: new (...args: never[]) => S) => S) => Promise<T>): Promise<T> {
  const context = await NestFactory.createApplicationContext(CoreModule.forRoot(operatorConfig(config)), { logger: false, abortOnError: false });
  try {
    return await run((type) => context.get(type));
  } finally {
    await context.close();
  }
}

export async function validated<T extends object>(type: new () => T, plain: object): Promise<T> {
  const dto = plainToInstance(type, plain);
  const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) {
    throw new InvalidArgumentError(errors.map((e) => Object.values(e.constraints ?? {}).join('; ')).join('; '));
  }
  return dto;
}

/** An id argument checked before it reaches SQL (where "nope" would be PostgreSQL's `invalid input syntax for type uuid`). */
export function requireUuid(name: string, value: string, hint: string): string {
  if (!isUUID(value, 'all')) throw new InvalidArgumentError(`${name} "${value}" is not a UUID: ${hint}`);
  return value;
}

const TENANT_HINT = 'give the tenant\'s id (the "id" printed by `engram admin create-tenant`)';

const list = (value: string) => value.split(',').map((v) => v.trim()).filter(Boolean);

export function registerAdminCommands(program: Command, config: () => EngramConfig): void {
  const admin = program.command('admin').description('operator tasks run directly against the database (audited as admin, request id "cli")');

  admin
    .command('create-tenant <name>')
    .action(async (name: string) => {
      const dto = await validated(CreateTenantDto, { name });
      const tenant = await withCore(config(), (get) => get(TenantService).create(CLI_CONTEXT, dto));
      process.stdout.write(`${JSON.stringify(tenant)}\n`);
    });

  admin
    .command('create-key <tenantId>')
    .requiredOption('--scopes <scopes>', `comma-separated, of: ${ALL_SCOPES.join(', ')}`, list)
    .option('--cubes <cubeIds>', 'comma-separated cube ids the key is limited to', list)
    .option('--name <name>', 'a label for the key')
    .option('--expires-at <iso>', 'expiry, ISO-8601')
    .action(async (tenantId: string, options: { scopes: string[]; cubes?: string[]; name?: string; expiresAt?: string }) => {
      requireUuid('tenantId', tenantId, TENANT_HINT);
      const dto = await validated(CreateApiKeyDto, { scopes: options.scopes, cubeIds: options.cubes, name: options.name, expiresAt: options.expiresAt });
      const key = await withCore(config(), (get) => get(ApiKeyService).create(CLI_CONTEXT, tenantId, dto));
      // stdout is the JSON alone (`| jq -r .key` works); the note is for the person at the terminal.
      process.stdout.write(`${JSON.stringify(key)}\n`);
      process.stderr.write('the key is shown only now: store it.\n');
    });

  admin
    .command('revoke-key <tenantId> <keyId>')
    .action(async (tenantId: string, keyId: string) => {
      requireUuid('tenantId', tenantId, TENANT_HINT);
      requireUuid('keyId', keyId, 'give the key\'s id (the "id" printed by `engram admin create-key`), not the key itself');
      await withCore(config(), (get) => get(ApiKeyService).revoke(CLI_CONTEXT, tenantId, keyId));
      process.stdout.write(`revoked ${keyId}\n`);
    });
}

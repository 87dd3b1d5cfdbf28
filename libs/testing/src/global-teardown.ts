import { withAdminClient } from './test-postgres';

export default async function globalTeardown(): Promise<void> {
  const template = process.env.ENGRAM_TEST_TEMPLATE;
  if (!template) return;
  await withAdminClient(async (client) => void (await client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`)));
}

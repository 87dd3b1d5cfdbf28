import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { EngramConfig } from '@engram/config';
import { CoreModule } from '@engram/core';
import { createApp } from '@engram/server';
import { WorkerModule } from '@engram/worker';
import supertest from 'supertest';
import { Factory } from './factories';
import { createTestDatabase, TestDatabase } from './test-postgres';
import { testConfig } from './test-config';

/** Medium tier: real services on a fresh migrated database. */
export interface MediumHarness {
  db: TestDatabase;
  config: EngramConfig;
  app: INestApplicationContext;
  factory: Factory;
  close(): Promise<void>;
}

export async function createMediumHarness(overrides: Partial<EngramConfig> = {}, withWorkerProviders = false): Promise<MediumHarness> {
  const db = await createTestDatabase();
  const config = testConfig(db.url, overrides);
  const module = withWorkerProviders ? WorkerModule.forRoot(config, { runWorker: false }) : CoreModule.forRoot(config);
  const app = await NestFactory.createApplicationContext(module, { logger: false });
  return {
    db,
    config,
    app,
    factory: new Factory(app),
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

/** e2e tier: the real HTTP app on a fresh migrated database, driven through supertest. */
export interface E2eHarness {
  db: TestDatabase;
  config: EngramConfig;
  app: NestExpressApplication;
  http: ReturnType<typeof supertest>;
  adminToken: string;
  factory: Factory;
  close(): Promise<void>;
}

export async function createE2eHarness(overrides: Partial<EngramConfig> = {}): Promise<E2eHarness> {
  const db = await createTestDatabase();
  const config = testConfig(db.url, overrides);
  const app = await createApp(config, { quiet: true, runWorker: false });
  await app.init();
  return {
    db,
    config,
    app,
    http: supertest(app.getHttpServer()),
    adminToken: config.adminToken!,
    factory: new Factory(app),
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

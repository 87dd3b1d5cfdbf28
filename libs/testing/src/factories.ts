import { INestApplicationContext } from '@nestjs/common';
import { ApiKeyService, CubeService, RequestContext, Scope, TenantService } from '@engram/core';
import { randomBytes } from 'node:crypto';

const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'test' };
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export interface TestKey {
  id: string;
  key: string;
  tenantId: string;
  ctx: RequestContext;
}

/** Factories with overridable defaults that persist through the real services and repositories. */
export class Factory {
  constructor(private readonly app: INestApplicationContext) {}

  async tenant(overrides: { name?: string } = {}): Promise<{ id: string; name: string }> {
    return this.app.get(TenantService).create(ADMIN, { name: overrides.name ?? unique('tenant') });
  }

  async apiKey(overrides: { tenantId?: string; scopes?: Scope[]; cubeIds?: string[]; expiresAt?: Date } = {}): Promise<TestKey> {
    const tenantId = overrides.tenantId ?? (await this.tenant()).id;
    const created = await this.app.get(ApiKeyService).create(ADMIN, tenantId, {
      scopes: overrides.scopes ?? [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite, Scope.InferenceRun, Scope.BanksWrite],
      cubeIds: overrides.cubeIds,
      expiresAt: overrides.expiresAt,
    });
    const ctx: RequestContext = {
      auth: { kind: 'key', actorId: created.id, keyId: created.id, tenantId, scopes: created.scopes as Scope[], cubeIds: created.cubeIds },
      requestId: 'test',
    };
    return { id: created.id, key: created.key, tenantId, ctx };
  }

  async cube(overrides: { tenantId?: string; name?: string; settings?: Record<string, unknown> } = {}): Promise<{ id: string; tenantId: string; name: string }> {
    const owner = await this.apiKey({ tenantId: overrides.tenantId, scopes: [Scope.CubesWrite] });
    const cube = await this.app.get(CubeService).create(owner.ctx, { name: overrides.name ?? unique('cube'), settings: overrides.settings });
    return { id: cube.id, tenantId: owner.tenantId, name: cube.name };
  }

  readonly admin = ADMIN;
}

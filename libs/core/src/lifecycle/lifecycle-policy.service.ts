import { Injectable } from '@nestjs/common';
import { LifecycleRepository } from '@engram/persistence';
import { EntityManager } from 'typeorm';
import { effectivePolicy, LifecyclePolicy, PartialLifecyclePolicy } from './lifecycle-policy';

export const INSTANCE_SCOPE = 'instance';
export const tenantScope = (tenantId: string) => `tenant:${tenantId}`;
export const cubeScope = (cubeId: string) => `cube:${cubeId}`;

/** Stored policy levels and the effective policy of a cube (instance → tenant → cube, field by field). */
@Injectable()
export class LifecyclePolicies {
  constructor(private readonly lifecycle: LifecycleRepository) {}

  async levels(tenantId: string, cubeId: string, tx?: EntityManager): Promise<{ instance: PartialLifecyclePolicy; tenant: PartialLifecyclePolicy; cube: PartialLifecyclePolicy }> {
    const [instance, tenant, cube] = (await this.lifecycle.policies([INSTANCE_SCOPE, tenantScope(tenantId), cubeScope(cubeId)], tx)) as PartialLifecyclePolicy[];
    return { instance, tenant, cube };
  }

  /** `tx`: read on a transaction's connection (one that holds it must not wait for a second one from the pool). */
  async effective(tenantId: string, cubeId: string, tx?: EntityManager): Promise<LifecyclePolicy> {
    const { instance, tenant, cube } = await this.levels(tenantId, cubeId, tx);
    return effectivePolicy([instance, tenant, cube]);
  }

  async level(scope: string): Promise<PartialLifecyclePolicy> {
    return (await this.lifecycle.policies([scope]))[0] as PartialLifecyclePolicy;
  }

  put(scope: string, policy: PartialLifecyclePolicy, tx?: EntityManager): Promise<void> {
    return this.lifecycle.putPolicy(scope, policy as Record<string, unknown>, tx);
  }
}

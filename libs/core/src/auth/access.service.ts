import { Injectable } from '@nestjs/common';
import { CubeRecord, CubeRepository } from '@engram/persistence';
import { EngramError } from '../errors/engram.error';
import { assertUnreachable, ErrorCode } from '../errors/error-code';
import { AuthContext } from './auth-context';
import { Permission, Scope } from './permission';

/** The scope a tenant key needs for each permission; null: only the operator. */
function requiredScope(permission: Permission): Scope | null {
  switch (permission) {
    case Permission.AdminAll:
      return null;
    case Permission.CubeCreate:
    case Permission.CubeUpdate:
    case Permission.CubeDelete:
      return Scope.CubesWrite;
    case Permission.CubeList:
    case Permission.CubeRead:
    case Permission.MemoryRead:
    case Permission.KvCacheRead:
    case Permission.BankRead:
      return Scope.MemoriesRead;
    case Permission.MemoryWrite:
    case Permission.KvCacheWrite:
      return Scope.MemoriesWrite;
    case Permission.ModelUse:
      return Scope.InferenceRun;
    case Permission.BankWrite:
      return Scope.BanksWrite;
    case Permission.CubeExport:
      return Scope.CubesExport;
    case Permission.MemoryErase:
      return Scope.MemoriesErase;
    default:
      return assertUnreachable(permission);
  }
}

/** Scopes that also grant a permission (a writer may read what it writes). */
const IMPLIED_BY: Partial<Record<Scope, Scope[]>> = {
  [Scope.MemoriesRead]: [Scope.MemoriesWrite, Scope.CubesWrite],
};

/**
 * Every access rule of engram. Services call `require` on their first line. A cube the
 * caller may not see — another tenant's, deleted, or outside the key's cube list —
 * answers 404 exactly like one that does not exist.
 */
@Injectable()
export class AccessService {
  constructor(private readonly cubes: CubeRepository) {}

  /** Checks the permission alone (routes without a cube). */
  requirePermission(auth: AuthContext, permission: Permission): void {
    const scope = requiredScope(permission);
    if (auth.kind === 'admin') return;
    if (scope === null) throw EngramError.notFound('resource');
    const granted = auth.scopes.includes(scope) || (IMPLIED_BY[scope] ?? []).some((s) => auth.scopes.includes(s));
    if (!granted) throw EngramError.forbidden(`this API key lacks the scope ${scope}`);
  }

  /** Checks the permission, then that the cube is a live cube the key may reach; returns it. */
  async requireCube(auth: AuthContext, permission: Permission, cubeId: string): Promise<CubeRecord> {
    const tenantId = this.cubeTenant(auth, permission, cubeId);
    const cube = await this.cubes.getLive(tenantId, cubeId);
    if (!cube) throw EngramError.notFound('cube');
    return cube;
  }

  /**
   * As requireCube, and the highest change sequence of the cube's memories read in the
   * same round trip (search uses it to skip the change feed when its index is current).
   */
  async requireCubeWithChangeSeq(auth: AuthContext, permission: Permission, cubeId: string): Promise<{ cube: CubeRecord; changeSeq: number }> {
    return this.cubeWithChangeSeq(this.requireCubeTenant(auth, permission, cubeId), cubeId);
  }

  /**
   * requireCubeWithChangeSeq in two halves, for a caller that works while the database
   * answers (search, ADR 0131): the checks that need no database, which give the tenant
   * whose live cube it must be, ...
   */
  requireCubeTenant(auth: AuthContext, permission: Permission, cubeId: string): string {
    return this.cubeTenant(auth, permission, cubeId);
  }

  /** ... then the read of that cube with its change sequence (404 when it is not a live cube of the tenant). */
  async cubeWithChangeSeq(tenantId: string, cubeId: string): Promise<{ cube: CubeRecord; changeSeq: number }> {
    const found = await this.cubes.getLiveWithChangeSeq(tenantId, cubeId);
    if (!found) throw EngramError.notFound('cube');
    return found;
  }

  /** The checks before a cube is read: the caller's tenant, when it may reach the cube at all. */
  private cubeTenant(auth: AuthContext, permission: Permission, cubeId: string): string {
    if (auth.kind === 'admin') throw adminOnTenantRoute();
    this.requirePermission(auth, permission);
    if (auth.cubeIds !== null && !auth.cubeIds.includes(cubeId)) throw EngramError.notFound('cube');
    return auth.tenantId;
  }

  tenantOf(auth: AuthContext): string {
    if (auth.kind === 'admin') throw adminOnTenantRoute();
    if (auth.kind !== 'key') throw EngramError.notFound('resource');
    return auth.tenantId;
  }
}

/**
 * The admin token on a tenant route: a 404 as ADR 0001 decided, saying why, so an operator
 * is not told that a cube they can see in /v1/admin/cubes does not exist (only the operator
 * holds that token: the message reveals nothing of a tenant's data).
 */
function adminOnTenantRoute(): EngramError {
  return new EngramError(
    ErrorCode.NotFound,
    'not found for the admin token: tenant routes take an API key of the tenant (POST /v1/admin/tenants/{id}/keys makes one); the admin token works on /v1/admin/* (e.g. GET /v1/admin/cubes, POST /v1/admin/cubes/{id}/lifecycle/run)',
  );
}

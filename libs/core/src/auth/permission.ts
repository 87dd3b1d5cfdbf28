/** Scopes an API key may carry. */
export enum Scope {
  CubesWrite = 'cubes:write',
  MemoriesRead = 'memories:read',
  MemoriesWrite = 'memories:write',
  /** Export a whole cube (every memory it holds) as an archive. */
  CubesExport = 'cubes:export',
  /** Erase memories for good (text, history, stored responses, caches, bank weights). */
  MemoriesErase = 'memories:erase',
  /** Run a model (chat completions): it costs inference time and tokens. */
  InferenceRun = 'inference:run',
  /** Build, write and delete parametric banks: long training jobs. */
  BanksWrite = 'banks:write',
}

export const ALL_SCOPES: readonly Scope[] = Object.values(Scope);

/** What a caller asks to do; the access service decides who may. */
export enum Permission {
  AdminAll = 'admin',
  CubeCreate = 'cube.create',
  CubeList = 'cube.list',
  CubeRead = 'cube.read',
  CubeUpdate = 'cube.update',
  CubeDelete = 'cube.delete',
  MemoryRead = 'memory.read',
  MemoryWrite = 'memory.write',
  KvCacheRead = 'kv_cache.read',
  KvCacheWrite = 'kv_cache.write',
  BankRead = 'bank.read',
  BankWrite = 'bank.write',
  /** Download a cube archive (every memory of the cube at once). */
  CubeExport = 'cube.export',
  /** Run a registered model (chat completions). */
  ModelUse = 'model.use',
  /** Erase a memory for good (no restore). */
  MemoryErase = 'memory.erase',
}

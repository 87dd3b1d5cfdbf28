/** Names and payloads of every job engram queues. */
export enum JobName {
  CubePurge = 'cube.purge',
}

export interface CubePurgePayload {
  cubeId: string;
  tenantId: string;
}

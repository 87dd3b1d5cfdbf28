import { ADMIN_EXAMPLES } from './admin.examples';
import { CUBE_EXAMPLES } from './cube.examples';
import { INFERENCE_EXAMPLES } from './inference.examples';
import { MEMORY_EXAMPLES } from './memory.examples';
import type { OperationExamples } from './operation-examples';

export type { OperationExamples } from './operation-examples';

export const OPERATION_EXAMPLES: Record<string, OperationExamples> = { ...ADMIN_EXAMPLES, ...CUBE_EXAMPLES, ...MEMORY_EXAMPLES, ...INFERENCE_EXAMPLES };

/** Path parameters by name: the same ids the bodies' examples use. */
export const PARAMETER_EXAMPLES: Record<string, string | number> = {
  tenantId: '7d2c9e41-3a6b-4f08-b5e1-9c4a2d7f6e38',
  keyId: '1b9e4d7a-2c5f-4a83-9e6d-0f3b8a2c5d71',
  cubeId: 'c0a8f3e2-5b7d-4e1a-9f3c-2d6b8e4a1f07',
  memoryId: '3f6e2b1a-8c4d-4f7e-a2b9-5d1c7e9f0a13',
  cacheId: '4e8a2c6f-0b1d-4f3e-9a5c-7d2b6e0f8a19',
  bankId: '6f1c2a9e-4b1d-4c55-9a77-2d8f0e3b9c41',
  level: 1,
  node: 0,
  runId: '9c7e1f3a-5b2d-4a6c-8e0f-1d3b5a7c9e62',
  jobId: 'e5b3a7c9-1d2f-4e6a-b8c0-3f9d1a5e7b24',
};

export * from './test-postgres';
export * from './test-config';
export * from './factories';
export * from './harness';
export * from './archive-crafter';
export * from './child-process';

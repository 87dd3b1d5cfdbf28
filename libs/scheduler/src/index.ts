export * from './job-handler';
export * from './job-runner';
export * from './cube-purge.handler';
export * from './bank.handlers';
export * from './lifecycle.handlers';
export * from './scheduler.module';
export * from './maintenance.handler';
export * from './activation.handlers';

export * from './worker.module';
export * from './bootstrap';

export * from './bootstrap';
export * from './app.module';

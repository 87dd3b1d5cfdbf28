export * from './engram-config';
export * from './config.loader';
export * from './config.token';

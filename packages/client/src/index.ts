// @engram/client: a typed client for the engram API. fetch only; ESM and CJS builds.
export * from './client.js';
export * from './errors.js';
export * from './chat-types.js';
export { retryAfterMs } from './transport.js';
export type { TransportOptions as EngramClientOptions, RequestOptions } from './transport.js';
export type * from './openapi-types.js';

/** Injection token of the EngramConfig in every Nest container. */
export const ENGRAM_CONFIG = Symbol('ENGRAM_CONFIG');

// Every migration, in order. `engram migrate generate NAME` writes a new file and appends it here.
import { Init1795891592271 } from './1795891592271-Init';
export const MIGRATIONS: Function[] = [Init1795891592271];

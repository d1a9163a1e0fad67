/**
 * lmdb, loaded on first use. Importing it allocates about 16 MiB of buffers (and about 12 MiB of RSS) at once,
 * which a backend on memory stores (the gateway's default) never needs.
 */
import { createRequire } from 'node:module';
import type * as Lmdb from 'lmdb';

let loaded: typeof Lmdb | undefined;

export function lmdb(): typeof Lmdb {
  loaded ??= createRequire(import.meta.url)('lmdb') as typeof Lmdb;
  return loaded;
}

import type { LmdbStoreOptions, StoreOptions, Stores } from '../types';
import type { StoreBackend } from './backend';
import { LmdbBackend } from './lmdb-backend';
import { MemoryBackend } from './memory-backend';
import { resolveStoreOptions } from './options';
import { BackendRetainedStore } from './retained-store';
import { BackendSessionStore } from './session-store';
import { BackendWillStore } from './will-store';

function storesOver(backend: StoreBackend, options: StoreOptions): Stores {
  const resolved = resolveStoreOptions(options);
  const sessions = new BackendSessionStore(backend, resolved);
  const retained = new BackendRetainedStore(backend, resolved);
  const wills = new BackendWillStore(backend, resolved);
  let closing: Promise<void> | undefined;
  return {
    sessions,
    retained,
    wills,
    close() {
      closing ??= (async () => {
        await Promise.all([sessions.close(), retained.close(), wills.close()]);
        await backend.close();
      })();
      return closing;
    },
  };
}

/** Session, retained and will stores in memory (lost with the process). Throws `ConfigurationError` for bad limits. */
export function createMemoryStores(options: StoreOptions = {}): Stores {
  return storesOver(new MemoryBackend(), options);
}

/**
 * Durable session, retained and will stores in one LMDB environment at `options.path` (created if missing).
 * Everything written survives a restart of the process; reopen the same path to read it back.
 */
export function openLmdbStores(options: LmdbStoreOptions): Stores {
  const resolved = resolveStoreOptions(options);
  return storesOver(new LmdbBackend(options.path), resolved);
}

import type { LmdbStoreOptions, StoreOptions, Stores } from '../types';
import type { StoreBackend } from './backend';
import { type GroupedResult, LmdbBackend } from './lmdb-backend';
import { MemoryBackend } from './memory-backend';
import { resolveStoreOptions } from './options';
import type { Qos2Store } from './qos2-store';
import { BackendRetainedStore } from './retained-store';
import { BackendSessionStore } from './session-store';
import { BackendWillStore } from './will-store';

/**
 * The QoS 2 memory kept in the stores' own durable environment: `atomically` commits the store writes a routing
 * starts synchronously and the remember (written by `finish`, through `store`) as one transaction.
 */
export interface StoresQos2 {
  readonly store: Qos2Store;
  atomically<T>(body: () => T, finish: (results: readonly GroupedResult[]) => void): T;
}

export type { GroupedResult };

/** Stores made by `openLmdbStores` → their environment's QoS 2 memory (the public `Stores` type stays as it is). */
const durableQos2 = new WeakMap<Stores, StoresQos2>();

/** The QoS 2 memory of stores made by `openLmdbStores`; undefined for any other stores (memory, the host's own). */
export function storesQos2Of(stores: Stores): StoresQos2 | undefined {
  return durableQos2.get(stores);
}

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
 * Everything written survives a restart of the process; reopen the same path to read it back. The embedded
 * backend keeps its QoS 2 memory (publications routed and not released) in the same environment, committed with
 * the routing (`BackendOptions.qos2Store`).
 */
export function openLmdbStores(options: LmdbStoreOptions): Stores {
  const resolved = resolveStoreOptions(options);
  const backend = new LmdbBackend(options.path);
  const stores = storesOver(backend, resolved);
  durableQos2.set(stores, {
    store: backend.qos2,
    atomically: (body, finish) => backend.atomically(body, finish),
  });
  return stores;
}

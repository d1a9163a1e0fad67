/**
 * One backend per test, with the rhea peers connected to it, all closed after the test; durable stores and
 * temporary directories a test opens are closed and removed after its backends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import {
  type Backend,
  type BackendOptions,
  createBackend,
  openLmdbStores,
  type StoreOptions,
  type Stores,
} from '../../../src/index';
import { type Inbox, Peer, publishMessage, send, text } from './peer';

export interface Fixture {
  readonly backend: Backend;
  peer(): Promise<Peer>;
}

/** A store a test opens: closed after the test's backends, unless the test closed it with `closeStore`. */
interface Closable {
  close(): Promise<void>;
}

const backends: Backend[] = [];
const peers: Peer[] = [];
const stores: Closable[] = [];
const directories: string[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  for (const b of backends.splice(0)) await b.close();
  for (const s of stores.splice(0)) await s.close();
  for (const d of directories.splice(0)) await rm(d, { recursive: true, force: true });
});

export async function startBackend(options: BackendOptions = {}): Promise<Fixture> {
  const backend = await createBackend(options);
  backends.push(backend);
  return {
    backend,
    async peer() {
      const p = await Peer.connect(backend.port);
      peers.push(p);
      return p;
    },
  };
}

/** A new empty directory, removed after the test (once the stores in it are closed). */
export async function temporaryDirectory(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  directories.push(dir);
  return dir;
}

/** Keeps `store` open until the end of the test (or until `closeStore`). */
export function closeAfterTest<T extends Closable>(store: T): T {
  stores.push(store);
  return store;
}

/** Closes a store before the end of the test. */
export async function closeStore(store: Closable): Promise<void> {
  stores.splice(stores.indexOf(store), 1);
  await store.close();
}

export interface DurableFixture extends Fixture {
  readonly stores: Stores;
  /** Closes the backend, then its stores (a new backend on the same path sees what they hold). */
  stop(): Promise<void>;
}

/** A backend on the LMDB stores at `path` (QoS 2 memory in the same environment). */
export async function startDurableBackend(path: string, options: StoreOptions = {}): Promise<DurableFixture> {
  const lmdb = closeAfterTest(openLmdbStores({ ...options, path }));
  const f = await startBackend({ store: lmdb });
  return {
    ...f,
    stores: lmdb,
    async stop() {
      await f.backend.close();
      await closeStore(lmdb);
    },
  };
}

/** Stops a backend before the end of the test (its peers are dropped). */
export async function stopBackend(fixture: Fixture): Promise<void> {
  await fixture.backend.close();
}

/**
 * Publishes `marker` on `topic` and returns the payloads `inbox` got up to and including it (accepting them).
 * The backend routes one link's messages in order, so whatever was routed to `inbox` before the marker shows.
 */
export async function upToMarker(
  fixture: Fixture,
  inbox: Inbox,
  topic: string,
  marker = 'marker',
): Promise<string[]> {
  const publisher = await (await fixture.peer()).sender(topic);
  expect((await send(publisher, publishMessage(topic, marker, 1))).state).toBe('accepted');
  return takeUpTo(inbox, marker);
}

/** Takes (accepting) the payloads `inbox` gets up to and including `marker`; fewer when the inbox ends. */
export async function takeUpTo(inbox: Inbox, marker: string): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const [item] = await inbox.take(1);
    if (item === undefined) return seen;
    item.delivery.accept();
    seen.push(text(item.message));
    if (text(item.message) === marker) return seen;
  }
}

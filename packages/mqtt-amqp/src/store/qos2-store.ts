/**
 * Where a backend keeps the QoS 2 publications it has routed and whose publisher has not released them yet
 * ("received, not released": MQTT's PUBREC sent, PUBREL not seen), as (client id, packet id) pairs. The backend
 * holds them in memory (bounded, see `UnreleasedQos2`) and writes every change through to a store; a durable
 * store gives them back after a restart, so that a client with a persistent session that re-sends such a
 * PUBLISH with DUP after the restart does not get it routed twice.
 */
import { createHash } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import { lmdb } from './lmdb-module';

/** One remembered publication: who, under which packet id, and a digest of what (topic, payload, flags). */
export interface Qos2Entry {
  readonly clientId: string;
  readonly packetId: number;
  readonly fingerprint: string;
}

/**
 * The store interface. Writes are synchronous and durable when they return (a durable store commits before
 * returning), so that an entry is kept before the publication is accepted. A write that fails throws.
 */
export interface Qos2Store {
  /** Every entry, oldest first (the order the backend evicts in when full). */
  load(): Qos2Entry[];
  /** Adds (or replaces, moving it to the newest end) the entry for (client id, packet id). */
  add(entry: Qos2Entry): void;
  remove(clientId: string, packetId: number): void;
  /** Removes every entry of the client. */
  clear(clientId: string): void;
  close(): Promise<void>;
}

/** Keeps nothing beyond the backend's own memory: entries are lost with the process. */
export function createMemoryQos2Store(): Qos2Store {
  return {
    load: () => [],
    add: () => {},
    remove: () => {},
    clear: () => {},
    close: () => Promise.resolve(),
  };
}

/** What is kept under a key: how old the entry is, and the entry itself (the key may hold only a digest). */
export interface EntryValue {
  age: number;
  clientId: string;
  packetId: number;
  fingerprint: string;
}

// LMDB keys are limited to about 1 978 bytes, MQTT client ids to 65 535: a long one is keyed by its SHA-256
// digest behind a NUL, which no MQTT string contains.
const MAX_PLAIN_KEY_BYTES = 1_024;
function storageKey(clientId: string): string {
  if (Buffer.byteLength(clientId) <= MAX_PLAIN_KEY_BYTES) return clientId;
  return `\u0000${createHash('sha256').update(clientId).digest('hex')}`;
}

/** `<client key> NUL <packet id>`: one client's entries are contiguous (a range from `<key> NUL` to `<key> SOH`). */
function entryKey(clientId: string, packetId: number): string {
  return `${storageKey(clientId)}\u0000${packetId}`;
}

/**
 * The durable store over one LMDB database: a named database of the session stores' environment
 * (`openLmdbStores` makes one, so that a routing and its remember commit together), or of an environment of its
 * own (`openLmdbQos2Store`). Each entry is kept under its client and packet id with a counter saying how old it
 * is. Writes are synchronous; inside a transaction of the environment they are part of it.
 */
export class LmdbQos2Store implements Qos2Store {
  readonly #db: Database<EntryValue, string>;
  readonly #close: () => Promise<void>;
  #next = 0;

  /** Over `db`; `close` is what closing the store does (nothing for a database of a shared environment). */
  constructor(db: Database<EntryValue, string>, close: () => Promise<void>) {
    this.#db = db;
    this.#close = close;
  }

  load(): Qos2Entry[] {
    const all: Array<{ entry: Qos2Entry; age: number }> = [];
    for (const { value } of this.#db.getRange()) {
      const { clientId, packetId, fingerprint } = value;
      all.push({ entry: { clientId, packetId, fingerprint }, age: value.age });
      if (value.age >= this.#next) this.#next = value.age + 1;
    }
    all.sort((a, b) => a.age - b.age);
    return all.map((a) => a.entry);
  }

  add(entry: Qos2Entry): void {
    const { clientId, packetId, fingerprint } = entry;
    this.#db.putSync(entryKey(clientId, packetId), { age: this.#next++, clientId, packetId, fingerprint });
  }

  remove(clientId: string, packetId: number): void {
    this.#db.removeSync(entryKey(clientId, packetId));
  }

  clear(clientId: string): void {
    const id = storageKey(clientId);
    for (const key of [...this.#db.getKeys({ start: `${id}\u0000`, end: `${id}\u0001` })]) {
      this.#db.removeSync(key);
    }
  }

  close(): Promise<void> {
    return this.#close();
  }
}

/** The name of the QoS 2 database, in its own environment or in the session stores' one. */
export const QOS2_DB_NAME = 'qos2-unreleased';

/** The entries' database in an open environment. */
export function openQos2Db(root: RootDatabase): Database<EntryValue, string> {
  return root.openDB<EntryValue, string>({ name: QOS2_DB_NAME });
}

/**
 * Opens (creating it if missing) a durable QoS 2 store in an LMDB environment of its own at `options.path`. One
 * process opens a path at a time. Its writes are not atomic with the routing (a crash between the two can give a
 * duplicate): with `openLmdbStores`, leave `BackendOptions.qos2Store` unset instead, and the backend keeps the
 * entries in the stores' environment, committed together with the routing.
 */
export function openLmdbQos2Store(options: { path: string }): Qos2Store {
  const root = lmdb().open({ path: options.path, maxDbs: 2 });
  return new LmdbQos2Store(openQos2Db(root), () => root.close());
}

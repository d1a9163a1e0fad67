import { createHash } from 'node:crypto';
import { type Database, open, type RootDatabase } from 'lmdb';
import type {
  BacklogMeta,
  BacklogTable,
  MessageRecord,
  SessionRecord,
  StoreBackend,
  Table,
  WillRecord,
} from './backend';

// Backlog keys are [clientId, seq]: LMDB orders array keys element by element, so one client's entries are
// contiguous and in sequence order, and a range read returns its backlog oldest first.
type BacklogKey = [string, number];
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

// LMDB keys are limited to about 1 978 bytes; MQTT topics and client ids may be up to 65 535. Longer keys are
// stored under a SHA-256 digest behind a NUL, which no MQTT string may contain, so the two never collide. The
// record itself holds the real key (`keyOf`).
const MAX_PLAIN_KEY_BYTES = 1_024;
function storageKey(key: string): string {
  if (key.length * 3 <= MAX_PLAIN_KEY_BYTES || Buffer.byteLength(key) <= MAX_PLAIN_KEY_BYTES) return key;
  return `\u0000${createHash('sha256').update(key).digest('hex')}`;
}

class LmdbTable<V> implements Table<V> {
  readonly #db: Database<V, string>;
  readonly #keyOf: (value: V) => string;
  constructor(db: Database<V, string>, keyOf: (value: V) => string) {
    this.#db = db;
    this.#keyOf = keyOf;
  }
  get(key: string): V | undefined {
    return this.#db.get(storageKey(key));
  }
  put(key: string, value: V): boolean {
    const stored = storageKey(key);
    const created = !this.#db.doesExist(stored);
    this.#db.putSync(stored, value);
    return created;
  }
  remove(key: string): boolean {
    return this.#db.removeSync(storageKey(key));
  }
  keys(): Iterable<string> {
    return [...this.#db.getRange()].map((entry) => this.#keyOf(entry.value));
  }
  values(): Iterable<V> {
    return [...this.#db.getRange()].map((entry) => entry.value);
  }
  count(): number {
    // O(1): LMDB keeps the entry count of each database.
    return (this.#db.getStats() as { entryCount: number }).entryCount;
  }
}

class LmdbBacklog implements BacklogTable {
  readonly #db: Database<MessageRecord, BacklogKey>;
  readonly #meta: Database<BacklogMeta, string>;
  constructor(db: Database<MessageRecord, BacklogKey>, meta: Database<BacklogMeta, string>) {
    this.#db = db;
    this.#meta = meta;
  }
  meta(clientId: string): BacklogMeta | undefined {
    return this.#meta.get(storageKey(clientId));
  }
  setMeta(clientId: string, meta: BacklogMeta): void {
    this.#meta.putSync(storageKey(clientId), meta);
  }
  entries(clientId: string): Iterable<{ seq: number; record: MessageRecord }> {
    const id = storageKey(clientId);
    // Lazy: a reader that stops early decodes only what it read.
    return this.#db
      .getRange({ start: [id, 0], end: [id, MAX_SEQ] })
      .map((entry) => ({ seq: entry.key[1], record: entry.value }));
  }
  get(clientId: string, seq: number): MessageRecord | undefined {
    return this.#db.get([storageKey(clientId), seq]);
  }
  put(clientId: string, seq: number, record: MessageRecord): void {
    this.#db.putSync([storageKey(clientId), seq], record);
  }
  remove(clientId: string, seq: number): boolean {
    return this.#db.removeSync([storageKey(clientId), seq]);
  }
  clear(clientId: string): void {
    const id = storageKey(clientId);
    for (const key of [...this.#db.getKeys({ start: [id, 0], end: [id, MAX_SEQ] })]) {
      this.#db.removeSync(key);
    }
    this.#meta.removeSync(id);
  }
}

/**
 * The durable backend: one LMDB environment at `path` with five named databases (sessions, backlog, retained,
 * wills, plus the backlogs' bookkeeping). Values are encoded by lmdb's own msgpack encoding; a transaction's promise resolves once LMDB has
 * committed it. One process opens a path at a time.
 */
export class LmdbBackend implements StoreBackend {
  readonly sessions: Table<SessionRecord>;
  readonly backlog: BacklogTable;
  readonly retained: Table<MessageRecord>;
  readonly wills: Table<WillRecord>;
  readonly #root: RootDatabase;

  constructor(path: string) {
    this.#root = open({ path, maxDbs: 8 });
    this.sessions = new LmdbTable(
      this.#root.openDB<SessionRecord, string>({ name: 'sessions' }),
      (r) => r.clientId,
    );
    this.backlog = new LmdbBacklog(
      this.#root.openDB<MessageRecord, BacklogKey>({ name: 'backlog' }),
      this.#root.openDB<BacklogMeta, string>({ name: 'backlog-meta' }),
    );
    this.retained = new LmdbTable(
      this.#root.openDB<MessageRecord, string>({ name: 'retained' }),
      (r) => r.message.topic,
    );
    this.wills = new LmdbTable(this.#root.openDB<WillRecord, string>({ name: 'wills' }), (r) => r.clientId);
  }

  transaction<T>(fn: () => T): Promise<T> {
    return this.#root.transaction(fn);
  }

  close(): Promise<void> {
    return this.#root.close();
  }
}

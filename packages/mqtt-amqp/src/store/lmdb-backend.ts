import { createHash } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import type {
  BacklogMeta,
  BacklogTable,
  MessageRecord,
  SessionRecord,
  StoreBackend,
  Table,
  WillRecord,
} from './backend';
import { lmdb } from './lmdb-module';
import { LmdbQos2Store, openQos2Db, type Qos2Store } from './qos2-store';

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
  setMeta(clientId: string, meta: Readonly<BacklogMeta>): void {
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

/** How one transaction of an atomic group ended: its result, or that it threw (having written nothing). */
export type GroupedResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false };

/** A transaction started inside `LmdbBackend.atomically`, run when the group commits. */
interface GroupedTransaction {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The durable backend: one LMDB environment at `path` with six named databases (sessions, backlog, retained,
 * wills, the backlogs' bookkeeping, and the QoS 2 publications routed and not released, `qos2-unreleased`). Values are
 * encoded by lmdb's own msgpack encoding; a transaction's promise resolves once LMDB has committed it. One
 * process opens a path at a time.
 */
export class LmdbBackend implements StoreBackend {
  readonly sessions: Table<SessionRecord>;
  readonly backlog: BacklogTable;
  readonly retained: Table<MessageRecord>;
  readonly wills: Table<WillRecord>;
  /** The embedded backend's QoS 2 memory; closed with the environment (its own `close` does nothing). */
  readonly qos2: Qos2Store;
  readonly #root: RootDatabase;
  /** Transactions started inside `atomically`, waiting to commit together. */
  #group: GroupedTransaction[] | undefined;
  /**
   * While a group's answers are not all delivered: settles after them. A group answers one step later than a
   * lone transaction would, so transactions started after it wait for it: answers come in the order started
   * (a session's backlog answers make its delivery order). Unset when no group is under way: no cost then.
   */
  #tail: Promise<void> | undefined;

  constructor(path: string) {
    this.#root = lmdb().open({ path, maxDbs: 8 });
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
    this.qos2 = new LmdbQos2Store(openQos2Db(this.#root), () => Promise.resolve());
  }

  transaction<T>(fn: () => T): Promise<T> {
    const group = this.#group;
    if (group !== undefined) {
      return new Promise<T>((resolve, reject) => {
        group.push({ run: fn, resolve: resolve as (value: unknown) => void, reject });
      });
    }
    const committed = this.#root.transaction(fn);
    const tail = this.#tail;
    if (tail === undefined) return committed;
    // Its failure is seen through `answered`; not an unhandled rejection while the tail is pending.
    committed.catch(() => {});
    const answered = tail.then(() => committed);
    this.#setTail(answered);
    return answered;
  }

  /** What started later waits for `answered` too. */
  #setTail(answered: Promise<unknown>): void {
    const tail = answered.then(
      () => {},
      () => {},
    );
    this.#tail = tail;
    void tail.then(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
  }

  /**
   * Runs `body`; the transactions it starts synchronously are not committed on their own but, in the order
   * started, in ONE LMDB transaction that ends with `finish`, given how each ended: after a crash all of it is
   * there, or none. A throw of `finish` leaves none of it written (a child transaction) and fails them all.
   * Transactions `body` starts later (after an await) commit on their own as usual. Not nested.
   */
  atomically<T>(body: () => T, finish: (results: readonly GroupedResult[]) => void): T {
    if (this.#group !== undefined) throw new Error('LmdbBackend.atomically does not nest');
    const group: GroupedTransaction[] = [];
    this.#group = group;
    let finished = false;
    try {
      const result = body();
      finished = true;
      return result;
    } finally {
      this.#group = undefined;
      // A body that threw still gets the transactions it started, without `finish`.
      this.#commitGroup(group, finished ? finish : () => {});
    }
  }

  #commitGroup(group: GroupedTransaction[], finish: (results: readonly GroupedResult[]) => void): void {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const settle = (): void => {
      group.forEach((job, i) => {
        const outcome = outcomes[i];
        if (outcome?.ok === true) job.resolve(outcome.value);
        else job.reject(outcome?.error);
      });
    };
    const failAll = (error: unknown): void => {
      for (const job of group) job.reject(error);
    };
    let committed: Promise<void>;
    try {
      committed = this.#root.childTransaction(() => {
        outcomes.length = 0;
        for (const job of group) {
          // Each one throws before writing, never halfway (`StoreBackend.transaction`): caught alone.
          try {
            outcomes.push({ ok: true, value: job.run() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
        finish(outcomes.map((o) => (o.ok ? o : { ok: false })));
      });
    } catch (error) {
      failAll(error); // the environment is closed
      return;
    }
    const tail = this.#tail;
    committed.catch(() => {}); // seen by `failAll` below
    const answered = (tail === undefined ? committed : tail.then(() => committed)).then(settle, failAll);
    this.#setTail(answered);
  }

  close(): Promise<void> {
    return this.#root.close();
  }
}

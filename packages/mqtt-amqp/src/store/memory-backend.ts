import type {
  BacklogMeta,
  BacklogTable,
  MessageRecord,
  SessionRecord,
  StoreBackend,
  Table,
  WillRecord,
} from './backend';
import { SeqTable } from './seq-table';

class MemoryTable<V> implements Table<V> {
  readonly #map = new Map<string, V>();
  get(key: string): V | undefined {
    return this.#map.get(key);
  }
  put(key: string, value: V): boolean {
    const created = !this.#map.has(key);
    this.#map.set(key, value);
    return created;
  }
  remove(key: string): boolean {
    return this.#map.delete(key);
  }
  keys(): Iterable<string> {
    return [...this.#map.keys()];
  }
  values(): Iterable<V> {
    return [...this.#map.values()];
  }
  count(): number {
    return this.#map.size;
  }
}

class MemoryBacklog implements BacklogTable {
  // Sequence numbers only grow: each client's entries are kept in seq order (see `SeqTable`).
  readonly #byClient = new Map<string, SeqTable<MessageRecord>>();
  readonly #meta = new Map<string, BacklogMeta>();
  // One record per client, handed out as it is and updated in place (no object per message): see `BacklogTable`.
  meta(clientId: string): Readonly<BacklogMeta> | undefined {
    return this.#meta.get(clientId);
  }
  setMeta(clientId: string, meta: Readonly<BacklogMeta>): void {
    const kept = this.#meta.get(clientId);
    if (kept === undefined) this.#meta.set(clientId, { nextSeq: meta.nextSeq, count: meta.count });
    else {
      kept.nextSeq = meta.nextSeq;
      kept.count = meta.count;
    }
  }
  *entries(clientId: string): Iterable<{ seq: number; record: MessageRecord }> {
    const entries = this.#byClient.get(clientId);
    if (entries === undefined) return;
    for (const [seq, record] of entries.entries()) yield { seq, record };
  }
  get(clientId: string, seq: number): MessageRecord | undefined {
    return this.#byClient.get(clientId)?.get(seq);
  }
  put(clientId: string, seq: number, record: MessageRecord): void {
    let entries = this.#byClient.get(clientId);
    if (entries === undefined) {
      entries = new SeqTable();
      this.#byClient.set(clientId, entries);
    }
    entries.set(seq, record);
  }
  remove(clientId: string, seq: number): boolean {
    // The client's table stays when it empties (until `clear`), and keeps its arrays for the next entries.
    return this.#byClient.get(clientId)?.delete(seq) === true;
  }
  clear(clientId: string): void {
    this.#byClient.delete(clientId);
    this.#meta.delete(clientId);
  }
}

/** The in-memory backend: plain maps, lost with the process. */
export class MemoryBackend implements StoreBackend {
  readonly sessions: Table<SessionRecord> = new MemoryTable();
  readonly backlog: BacklogTable = new MemoryBacklog();
  readonly retained: Table<MessageRecord> = new MemoryTable();
  readonly wills: Table<WillRecord> = new MemoryTable();

  readonly immediate = true;

  async transaction<T>(fn: () => T): Promise<T> {
    return fn();
  }

  async close(): Promise<void> {}
}

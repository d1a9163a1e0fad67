import { StoreClosedError, StoreLimitError } from '../errors';
import type { MqttMessage, RetainedStore, RetainResult } from '../types';
import type { MessageRecord, StoreBackend } from './backend';
import { copyMessage, expiresAtOf, isExpired, messageAt } from './messages';
import type { ResolvedStoreOptions } from './options';
import { TopicIndex } from './topic-index';

/**
 * Retained messages over a backend, with an in-memory index of the retained topics (built from the backend
 * when the store opens, bounded by `maxRetained`). `match(filter)` walks the index (see `TopicIndex` for the
 * cost) and reads only the matching records.
 */
export class BackendRetainedStore implements RetainedStore {
  readonly #backend: StoreBackend;
  readonly #options: ResolvedStoreOptions;
  readonly #index = new TopicIndex();
  #closed = false;

  constructor(backend: StoreBackend, options: ResolvedStoreOptions) {
    this.#backend = backend;
    this.#options = options;
    for (const topic of backend.retained.keys()) this.#index.add(topic);
  }

  async set(message: MqttMessage): Promise<RetainResult> {
    this.#checkOpen();
    if (message.payload.length === 0) return (await this.delete(message.topic)) ? 'deleted' : 'absent';
    const max = this.#options.maxPayloadBytes;
    if (message.payload.length > max) {
      throw new StoreLimitError(
        'payload',
        max,
        `retained payload of ${message.payload.length} bytes (max ${max})`,
      );
    }
    const now = this.#options.now();
    const record: MessageRecord = { message: copyMessage(message, true) };
    const expiresAt = expiresAtOf(message, now);
    if (expiresAt !== undefined) record.expiresAt = expiresAt;
    return this.#backend.transaction((): RetainResult => {
      const exists = this.#index.has(message.topic);
      if (!exists && this.#index.size >= this.#options.maxRetained) {
        this.#purgeExpired(now);
        if (this.#index.size >= this.#options.maxRetained) {
          throw new StoreLimitError(
            'retained',
            this.#options.maxRetained,
            `retained store full (${this.#options.maxRetained} topics)`,
          );
        }
      }
      this.#backend.retained.put(message.topic, record);
      this.#index.add(message.topic);
      return exists ? 'replaced' : 'stored';
    });
  }

  async get(topic: string): Promise<MqttMessage | undefined> {
    this.#checkOpen();
    const record = this.#backend.retained.get(topic);
    return record === undefined ? undefined : messageAt(record, this.#options.now());
  }

  async delete(topic: string): Promise<boolean> {
    this.#checkOpen();
    return this.#backend.transaction(() => {
      this.#index.remove(topic);
      return this.#backend.retained.remove(topic);
    });
  }

  async match(filter: string): Promise<MqttMessage[]> {
    this.#checkOpen();
    const now = this.#options.now();
    const out: MqttMessage[] = [];
    for (const topic of this.#index.match(filter)) {
      const record = this.#backend.retained.get(topic);
      const message = record === undefined ? undefined : messageAt(record, now);
      if (message !== undefined) out.push(message);
    }
    return out;
  }

  async size(): Promise<number> {
    this.#checkOpen();
    return this.#index.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #purgeExpired(now: number): void {
    for (const topic of this.#index.topics()) {
      const record = this.#backend.retained.get(topic);
      if (record === undefined || isExpired(record, now)) {
        this.#backend.retained.remove(topic);
        this.#index.remove(topic);
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

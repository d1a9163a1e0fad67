import { StoreClosedError, StoreLimitError } from '../errors';
import type { MqttMessage, StoredWill, WillStore } from '../types';
import type { StoreBackend, WillRecord } from './backend';
import { copyMessage } from './messages';
import type { ResolvedStoreOptions } from './options';

function toStoredWill(record: WillRecord): StoredWill {
  return {
    clientId: record.clientId,
    message: { ...record.message },
    delayInterval: record.delayInterval,
    storedAt: record.storedAt,
  };
}

/** Wills over a backend, one per client id. */
export class BackendWillStore implements WillStore {
  readonly #backend: StoreBackend;
  readonly #options: ResolvedStoreOptions;
  #closed = false;

  constructor(backend: StoreBackend, options: ResolvedStoreOptions) {
    this.#backend = backend;
    this.#options = options;
  }

  async set(clientId: string, message: MqttMessage, options: { delayInterval?: number } = {}): Promise<void> {
    this.#checkOpen();
    const max = this.#options.maxPayloadBytes;
    if (message.payload.length > max) {
      throw new StoreLimitError(
        'payload',
        max,
        `will payload of ${message.payload.length} bytes (max ${max})`,
      );
    }
    const record: WillRecord = {
      clientId,
      message: copyMessage(message),
      delayInterval: options.delayInterval ?? 0,
      storedAt: this.#options.now(),
    };
    await this.#backend.transaction(() => {
      const wills = this.#backend.wills;
      if (wills.get(clientId) === undefined && wills.count() >= this.#options.maxWills) {
        throw new StoreLimitError(
          'wills',
          this.#options.maxWills,
          `will store full (${this.#options.maxWills} wills)`,
        );
      }
      wills.put(clientId, record);
    });
  }

  async get(clientId: string): Promise<StoredWill | undefined> {
    this.#checkOpen();
    const record = this.#backend.wills.get(clientId);
    return record === undefined ? undefined : toStoredWill(record);
  }

  async delete(clientId: string): Promise<boolean> {
    this.#checkOpen();
    return this.#backend.transaction(() => this.#backend.wills.remove(clientId));
  }

  async list(): Promise<StoredWill[]> {
    this.#checkOpen();
    return [...this.#backend.wills.values()].map(toStoredWill);
  }

  async size(): Promise<number> {
    this.#checkOpen();
    return this.#backend.wills.count();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

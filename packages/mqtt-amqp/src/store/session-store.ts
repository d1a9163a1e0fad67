import { StoreClosedError, StoreLimitError } from '../errors';
import type {
  EnqueueResult,
  MqttMessage,
  OpenSessionOptions,
  OpenSessionResult,
  QueuedMessage,
  Session,
  SessionStore,
  SessionSubscription,
} from '../types';
import type { BacklogMeta, MessageRecord, SessionRecord, StoreBackend } from './backend';
import { copyMessage, expiresAtOf, isExpired, messageAt } from './messages';
import type { ResolvedStoreOptions } from './options';

/**
 * A session store whose writes take effect at once (`BackendSessionStore.immediate`): the two per-message
 * operations answer without a promise. They throw what `enqueue` and `ack` would reject with.
 */
export interface ImmediateSessionStore {
  enqueueNow(clientId: string, message: MqttMessage): EnqueueResult;
  ackNow(clientId: string, seq: number): boolean;
}

/** Session expiry interval meaning "never" (MQTT 5 0xFFFFFFFF; the 3.1.1 persistent session). */
export const SESSION_NEVER_EXPIRES = 0xffff_ffff;

function sessionExpired(record: SessionRecord, now: number): boolean {
  if (record.disconnectedAt === undefined || record.expiryInterval === SESSION_NEVER_EXPIRES) return false;
  return record.disconnectedAt + record.expiryInterval * 1000 <= now;
}

function toSession(record: SessionRecord): Session {
  return {
    clientId: record.clientId,
    expiryInterval: record.expiryInterval,
    disconnectedAt: record.disconnectedAt,
    subscriptions: new Map(record.subscriptions.map(([filter, sub]) => [filter, { ...sub }])),
  };
}

/**
 * The session store over a backend. Backlog policy when a session's backlog holds `maxBacklogPerSession`
 * entries and a message arrives: expired entries are purged; then the oldest QoS 0 entry is dropped; then a new
 * QoS 0 message is dropped; then a new QoS 1/2 message either evicts the oldest entry (`drop-oldest`, default)
 * or is refused (`refuse`). Released QoS 2 entries (`release`: a PUBREL the client is owed) are neither purged
 * nor evicted.
 */
export class BackendSessionStore implements SessionStore {
  readonly #backend: StoreBackend;
  readonly #options: ResolvedStoreOptions;
  #closed = false;

  constructor(backend: StoreBackend, options: ResolvedStoreOptions) {
    this.#backend = backend;
    this.#options = options;
  }

  async open(clientId: string, options: OpenSessionOptions): Promise<OpenSessionResult> {
    this.#checkOpen();
    const expiryInterval = options.expiryInterval ?? (options.clean ? 0 : SESSION_NEVER_EXPIRES);
    return this.#backend.transaction(() => {
      const { sessions, backlog } = this.#backend;
      const now = this.#options.now();
      const previous = sessions.get(clientId);
      const present = previous !== undefined && !options.clean && !sessionExpired(previous, now);
      let record: SessionRecord;
      if (present) {
        record = { ...previous, expiryInterval };
        delete record.disconnectedAt;
      } else {
        // A new or discarded session starts with an empty backlog (and sequence numbers from 1).
        backlog.clear(clientId);
        if (previous === undefined && sessions.count() >= this.#options.maxSessions) {
          this.#purgeExpiredSessions(now);
          if (sessions.count() >= this.#options.maxSessions) {
            throw new StoreLimitError(
              'sessions',
              this.#options.maxSessions,
              `session store full (${this.#options.maxSessions} sessions)`,
            );
          }
        }
        record = { clientId, expiryInterval, subscriptions: [] };
      }
      sessions.put(clientId, record);
      return { session: toSession(record), present };
    });
  }

  async get(clientId: string): Promise<Session | undefined> {
    this.#checkOpen();
    const record = this.#live(clientId);
    return record === undefined ? undefined : toSession(record);
  }

  async list(): Promise<Session[]> {
    this.#checkOpen();
    const now = this.#options.now();
    return [...this.#backend.sessions.values()].filter((r) => !sessionExpired(r, now)).map(toSession);
  }

  async subscribe(
    clientId: string,
    subscriptions: ReadonlyArray<readonly [filter: string, subscription: SessionSubscription]>,
  ): Promise<boolean> {
    this.#checkOpen();
    return this.#backend.transaction(() => {
      const record = this.#live(clientId);
      if (record === undefined) return false;
      const map = new Map(record.subscriptions);
      for (const [filter, subscription] of subscriptions) map.set(filter, stripUndefined(subscription));
      if (map.size > this.#options.maxSubscriptionsPerSession && map.size > record.subscriptions.length) {
        throw new StoreLimitError(
          'subscriptions',
          this.#options.maxSubscriptionsPerSession,
          `session '${clientId}' would hold ${map.size} subscriptions (max ${this.#options.maxSubscriptionsPerSession})`,
        );
      }
      this.#backend.sessions.put(clientId, { ...record, subscriptions: [...map] });
      return true;
    });
  }

  async unsubscribe(clientId: string, filters: readonly string[]): Promise<boolean[]> {
    this.#checkOpen();
    return this.#backend.transaction(() => {
      const record = this.#live(clientId);
      if (record === undefined) return filters.map(() => false);
      const map = new Map(record.subscriptions);
      const existed = filters.map((filter) => map.delete(filter));
      if (existed.some(Boolean)) this.#backend.sessions.put(clientId, { ...record, subscriptions: [...map] });
      return existed;
    });
  }

  async disconnect(clientId: string, options: { at?: number; expiryInterval?: number } = {}): Promise<void> {
    this.#checkOpen();
    await this.#backend.transaction(() => {
      const record = this.#backend.sessions.get(clientId);
      if (record === undefined) return;
      const expiryInterval = options.expiryInterval ?? record.expiryInterval;
      if (expiryInterval === 0) {
        // A session that ends with its connection: nothing to keep.
        this.#backend.sessions.remove(clientId);
        this.#backend.backlog.clear(clientId);
        return;
      }
      const disconnectedAt = options.at ?? this.#options.now();
      this.#backend.sessions.put(clientId, { ...record, expiryInterval, disconnectedAt });
    });
  }

  async delete(clientId: string): Promise<boolean> {
    this.#checkOpen();
    return this.#backend.transaction(() => {
      this.#backend.backlog.clear(clientId);
      return this.#backend.sessions.remove(clientId);
    });
  }

  async expire(clientId?: string): Promise<string[]> {
    this.#checkOpen();
    if (clientId === undefined) {
      return this.#backend.transaction(() => this.#purgeExpiredSessions(this.#options.now()));
    }
    return this.#backend.transaction(() => {
      const record = this.#backend.sessions.get(clientId);
      // Checked inside the transaction: a session resumed (or replaced) meanwhile is not expired.
      if (record === undefined || !sessionExpired(record, this.#options.now())) return [];
      this.#backend.sessions.remove(clientId);
      this.#backend.backlog.clear(clientId);
      return [clientId];
    });
  }

  // Not `async`: this runs for every QoS 1/2 copy of a message, and the transaction's promise is the answer
  // (an async function would wrap it in one more, resolved a tick later).
  enqueue(clientId: string, message: MqttMessage): Promise<EnqueueResult> {
    try {
      this.#checkOpen();
      const now = this.#options.now();
      const refused = this.#refusal(message, now);
      if (refused !== undefined) return Promise.resolve(refused);
      return this.#backend.transaction(() => this.#append(clientId, message, now));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The store's writes take effect at once (`StoreBackend.immediate`, the memory backend): `enqueueNow` and
   * `ackNow` may be used, and answer without a promise. Undefined otherwise.
   */
  get immediate(): ImmediateSessionStore | undefined {
    // A store whose `enqueue` or `ack` was replaced (wrapped by its host, or by a test) is used through them.
    const own =
      this.enqueue === BackendSessionStore.prototype.enqueue &&
      this.ack === BackendSessionStore.prototype.ack;
    return own && this.#backend.immediate === true ? this : undefined;
  }

  enqueueNow(clientId: string, message: MqttMessage): EnqueueResult {
    this.#checkImmediate();
    const now = this.#options.now();
    return this.#refusal(message, now) ?? this.#append(clientId, message, now);
  }

  ackNow(clientId: string, seq: number): boolean {
    this.#checkImmediate();
    return this.#removeEntry(clientId, seq);
  }

  /** Why a message is not queued whatever the backlog holds; undefined when it may be. */
  #refusal(message: MqttMessage, now: number): EnqueueResult | undefined {
    const options = this.#options;
    if (message.payload.length > options.maxPayloadBytes)
      return { status: 'refused', reason: 'payload-too-large' };
    if (message.qos === 0 && !options.queueQos0) return { status: 'dropped', reason: 'qos0-not-queued' };
    const expiresAt = expiresAtOf(message, now);
    if (expiresAt !== undefined && expiresAt <= now) return { status: 'refused', reason: 'expired' };
    return undefined;
  }

  /** The body of `enqueue`'s transaction: the backlog policy, then the new entry. */
  #append(clientId: string, message: MqttMessage, now: number): EnqueueResult {
    const options = this.#options;
    const { backlog } = this.#backend;
    if (this.#live(clientId) === undefined) return { status: 'refused', reason: 'no-session' };
    // Made before anything is written: a copy that throws leaves the backlog as it was.
    const stored: MessageRecord = { message: copyMessage(message) };
    const expiresAt = expiresAtOf(message, now);
    if (expiresAt !== undefined) stored.expiresAt = expiresAt;
    const meta = backlog.meta(clientId) ?? { nextSeq: 1, count: 0 };
    let count = meta.count;
    let evicted = 0;
    if (count >= options.maxBacklogPerSession) {
      const live: Array<{ seq: number; record: MessageRecord }> = [];
      for (const entry of [...backlog.entries(clientId)]) {
        if (isExpired(entry.record, now) && entry.record.released !== true)
          backlog.remove(clientId, entry.seq);
        else live.push(entry);
      }
      // Recounted from the entries themselves, so a miscount can never evict from an empty backlog.
      count = live.length;
      while (count >= options.maxBacklogPerSession) {
        const index = live.findIndex((entry) => entry.record.message.qos === 0);
        // A released entry is a PUBREL the client is owed: never evicted.
        const oldest = live.findIndex((entry) => entry.record.released !== true);
        if (index !== -1) {
          backlog.remove(clientId, live[index]!.seq);
          live.splice(index, 1);
        } else if (message.qos === 0 || options.backlogPolicy === 'refuse' || oldest === -1) {
          backlog.setMeta(clientId, this.#metaOf(meta.nextSeq, count));
          return message.qos === 0
            ? { status: 'dropped', reason: 'backlog-full' }
            : { status: 'refused', reason: 'backlog-full' };
        } else {
          backlog.remove(clientId, live[oldest]!.seq);
          live.splice(oldest, 1);
        }
        count--;
        evicted++;
      }
    }
    const seq = meta.nextSeq;
    backlog.put(clientId, seq, stored);
    backlog.setMeta(clientId, this.#metaOf(seq + 1, count + 1));
    return { status: 'queued', seq, evicted };
  }

  async backlog(clientId: string, options: { limit?: number } = {}): Promise<QueuedMessage[]> {
    this.#checkOpen();
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (this.#live(clientId) === undefined) return [];
    // Read without a write transaction; expired entries met on the way are purged afterwards.
    const now = this.#options.now();
    const out: QueuedMessage[] = [];
    const expired: number[] = [];
    for (const entry of this.#backend.backlog.entries(clientId)) {
      // A released entry has no expiry left (`release` drops it).
      const released = entry.record.released === true;
      const message = messageAt(entry.record, now);
      if (message === undefined) expired.push(entry.seq);
      else if (out.length >= limit) break;
      else out.push(released ? { seq: entry.seq, message, released } : { seq: entry.seq, message });
    }
    if (expired.length > 0) {
      await this.#backend.transaction(() => {
        for (const seq of expired) this.#removeEntry(clientId, seq);
      });
    }
    return out;
  }

  // Not `async`, as `enqueue`.
  ack(clientId: string, seq: number): Promise<boolean> {
    try {
      this.#checkOpen();
      return this.#backend.transaction(() => this.#removeEntry(clientId, seq));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async release(clientId: string, seq: number): Promise<boolean> {
    this.#checkOpen();
    return this.#backend.transaction(() => {
      if (this.#live(clientId) === undefined) return false;
      const record = this.#backend.backlog.get(clientId, seq);
      if (record === undefined) return false;
      if (record.released === true) return true;
      // Only the packet id (its seq) and topic matter from now on: the payload and expiry go.
      const { expiresAt: _expiry, ...kept } = record;
      this.#backend.backlog.put(clientId, seq, {
        ...kept,
        message: { ...record.message, payload: Buffer.alloc(0) },
        released: true,
      });
      return true;
    });
  }

  async backlogSize(clientId: string): Promise<number> {
    this.#checkOpen();
    if (this.#live(clientId) === undefined) return 0;
    return this.#backend.backlog.meta(clientId)?.count ?? 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Removes one backlog entry and counts it out; false when it was not there. */
  #removeEntry(clientId: string, seq: number): boolean {
    const backlog = this.#backend.backlog;
    if (!backlog.remove(clientId, seq)) return false;
    const meta = backlog.meta(clientId);
    if (meta !== undefined)
      backlog.setMeta(clientId, this.#metaOf(meta.nextSeq, Math.max(0, meta.count - 1)));
    return true;
  }

  /** Bookkeeping handed to `setMeta`, which keeps its values, not the object: one reused for every write. */
  readonly #nextMeta: BacklogMeta = { nextSeq: 1, count: 0 };

  #metaOf(nextSeq: number, count: number): Readonly<BacklogMeta> {
    const meta = this.#nextMeta;
    meta.nextSeq = nextSeq;
    meta.count = count;
    return meta;
  }

  /** The session record unless absent or expired. */
  #live(clientId: string): SessionRecord | undefined {
    const record = this.#backend.sessions.get(clientId);
    if (record === undefined || sessionExpired(record, this.#options.now())) return undefined;
    return record;
  }

  #purgeExpiredSessions(now: number): string[] {
    const expired: string[] = [];
    for (const record of this.#backend.sessions.values()) {
      if (!sessionExpired(record, now)) continue;
      this.#backend.sessions.remove(record.clientId);
      this.#backend.backlog.clear(record.clientId);
      expired.push(record.clientId);
    }
    return expired;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  #checkImmediate(): void {
    this.#checkOpen();
    if (this.#backend.immediate !== true) throw new TypeError('the store backend does not write at once');
  }
}

function stripUndefined(subscription: SessionSubscription): SessionSubscription {
  const out: SessionSubscription = { qos: subscription.qos };
  if (subscription.noLocal !== undefined) out.noLocal = subscription.noLocal;
  if (subscription.retainAsPublished !== undefined) out.retainAsPublished = subscription.retainAsPublished;
  if (subscription.retainHandling !== undefined) out.retainHandling = subscription.retainHandling;
  if (subscription.subscriptionIdentifier !== undefined) {
    out.subscriptionIdentifier = subscription.subscriptionIdentifier;
  }
  return out;
}

import type { MqttMessage, SessionSubscription } from '../types';

/** A session as stored: what `Session` shows plus the backlog bookkeeping. */
export interface SessionRecord {
  clientId: string;
  expiryInterval: number;
  disconnectedAt?: number;
  /** Filter → subscription pairs, in subscription order. */
  subscriptions: Array<[string, SessionSubscription]>;
}

/** Bookkeeping of one backlog, kept apart from the session so that a queue or an ack does not rewrite it. */
export interface BacklogMeta {
  /** The next sequence number (strictly increasing, never reused until the backlog is cleared). */
  nextSeq: number;
  /** Entries in the backlog. */
  count: number;
}

/** A stored message (backlog entry or retained message) with its absolute expiry. */
export interface MessageRecord {
  message: MqttMessage;
  /** Epoch ms from which the message is expired. */
  expiresAt?: number;
  /** Backlog only: QoS 2 entry in its PUBREL step (`SessionStore.release`); never expires nor is evicted. */
  released?: boolean;
}

export interface WillRecord {
  clientId: string;
  message: MqttMessage;
  delayInterval: number;
  storedAt: number;
}

/** A key → value table of a backend. Writes happen inside `StoreBackend.transaction`. */
export interface Table<V> {
  get(key: string): V | undefined;
  /** Returns true when the key is new. */
  put(key: string, value: V): boolean;
  remove(key: string): boolean;
  keys(): Iterable<string>;
  values(): Iterable<V>;
  count(): number;
}

/** The backlogs of all sessions, each ordered by sequence number. */
export interface BacklogTable {
  /**
   * The client's bookkeeping; read-only, and valid until the next `setMeta` (the memory table hands out the object
   * it keeps, and `setMeta` changes that object).
   */
  meta(clientId: string): Readonly<BacklogMeta> | undefined;
  /** Replaces the bookkeeping with `meta`'s values; `meta` itself is not kept (the caller may reuse it). */
  setMeta(clientId: string, meta: Readonly<BacklogMeta>): void;
  /** A client's entries, lowest sequence number first; lazy, so do not write while iterating. */
  entries(clientId: string): Iterable<{ seq: number; record: MessageRecord }>;
  get(clientId: string, seq: number): MessageRecord | undefined;
  /** Adds an entry, or replaces it in place (its order is its seq). */
  put(clientId: string, seq: number, record: MessageRecord): void;
  remove(clientId: string, seq: number): boolean;
  /** Removes every entry and the bookkeeping. */
  clear(clientId: string): void;
}

/**
 * Where the stores keep their data: memory, or an LMDB environment. The store logic (limits, policies,
 * expiry) is written once over this interface.
 */
export interface StoreBackend {
  readonly sessions: Table<SessionRecord>;
  readonly backlog: BacklogTable;
  readonly retained: Table<MessageRecord>;
  readonly wills: Table<WillRecord>;
  /**
   * Runs `fn` (synchronous) as one atomic transaction, after any transaction started earlier. For a durable
   * backend the writes are committed when the promise resolves. `fn` throws before writing, never halfway.
   */
  transaction<T>(fn: () => T): Promise<T>;
  /**
   * True for a backend whose writes take effect as they are made and whose `transaction(fn)` is `fn()` with its
   * answer in a promise (memory): the stores may then run the body themselves and answer without a promise.
   */
  readonly immediate?: boolean;
  close(): Promise<void>;
}

/**
 * Public types of the embedded backend.
 */
import type { ListenOptions } from '@dragoman/amqp';
import type { SubscriptionServiceStats, WillServiceStats } from '../services/types';
import type { AddressOptions, Dialect, DialectName, MqttMessage, Stores } from '../types';

/** Options of `createBackend`. Every field is optional; each limit has a safe default. */
export interface BackendOptions {
  /** Where and how to listen (host, port, TLS, SASL, …). Default 127.0.0.1, a free port, SASL ANONYMOUS. */
  readonly listen?: ListenOptions;
  /**
   * Session, retained and will stores. Default: in-memory stores made for this backend (and closed with it).
   * Stores given here are not closed by `close()`: they belong to the caller (pass `openLmdbStores(…)` for a
   * backend whose sessions, retained messages and wills survive a restart).
   */
  readonly store?: Stores;
  /**
   * How published messages spell QoS, retain and DUP, and how topics map to addresses (spec appendix): for
   * what publishers send to topic addresses and what the backend delivers. Default `enmasse` (the spec).
   * Control messages always follow the spec.
   */
  readonly dialect?: DialectName | Dialect;
  /** Well-known addresses; the spec's by default. */
  readonly addresses?: AddressOptions;
  /** How long a will found in the store at start waits for its client to come back, ms. Default 60 000. */
  readonly restartGraceMs?: number;
  /**
   * Most messages held in memory per session, sent or waiting for credit. Default 100. QoS 1/2 messages beyond
   * it wait in the session store (bounded by its `maxBacklogPerSession`, with its policy); QoS 0 messages with
   * no credit to go are dropped (`stats().subscriptions.droppedNoCredit`).
   */
  readonly maxInMemoryPerClient?: number;
  /** Credit window granted to every link that publishes to a topic (messages being routed at once). Default 100. */
  readonly publishCreditWindow?: number;
  /**
   * Most messages queued on one native AMQP receiver link without credit; beyond it messages for that link are
   * dropped (`stats().nativeDropped`). Default 100.
   */
  readonly maxQueuedPerNativeReceiver?: number;
  /** How long AMQP_LIST waits for the client's control link to attach and take the reply, ms. Default 10 000. */
  readonly controlReplyTimeoutMs?: number;
  /** Refuses subscriptions: false answers the AMQP_SUBSCRIBE with `rejected` (`amqp:unauthorized-access`). */
  readonly authorizeSubscription?: (clientId: string, filter: string) => boolean;
  /**
   * The MQTT reason code a refused subscription is answered with; carried in the rejection's error info as
   * `reason-code` for the front end's SUBACK. Default 0x80 (unspecified error).
   */
  readonly refusedSubscriptionReasonCode?: number;
  /** Clock, epoch ms (message expiry). Default `Date.now`. */
  readonly now?: () => number;
}

/** Counters of a running backend; plain numbers, so tests can compare them. */
export interface BackendStats {
  readonly connections: number;
  readonly subscriptions: SubscriptionServiceStats;
  readonly wills: WillServiceStats;
  /** Native AMQP receivers attached to topic addresses. */
  readonly nativeReceivers: number;
  /** Messages queued on native receiver links, waiting for credit. */
  readonly nativeQueued: number;
  /** Messages dropped for native receivers (no credit and the link's queue full). */
  readonly nativeDropped: number;
  /** Messages published (by any link, and wills). */
  readonly published: number;
  /** Deliveries refused as malformed (rejected with `amqp:decode-error` or `amqp:invalid-field`). */
  readonly malformed: number;
}

export interface BackendEvents {
  /** A will was published (its client went away abruptly, or did not come back after a restart). */
  willPublished: [clientId: string, message: MqttMessage];
  /** A background operation failed (a store write, a send); the backend keeps running. */
  error: [error: Error];
}

/**
 * Public types of the embedded backend.
 */
import type { ListenOptions } from '@dragoman/amqp';
import type { SubscriptionServiceStats, WillServiceStats } from '../services/types';
import type { Qos2Store } from '../store/qos2-store';
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
   * it wait in the session store (bounded by its `maxBacklogPerSession`, with its policy); QoS 0 messages wait
   * for credit in memory too, and those that find memory full (only possible with the `drop` policy) are
   * dropped (`stats().subscriptions.droppedNoCredit`).
   */
  readonly maxInMemoryPerClient?: number;
  /**
   * Most messages a connected session holds in memory and still takes a live QoS 0 message; a QoS 0 publication
   * waits for (or, with the `drop` policy, is dropped without) room below it. Default, and at most:
   * `maxInMemoryPerClient`. Lower than that, a window made large for QoS 1/2 messages in flight does not also
   * let QoS 0 messages queue as long.
   */
  readonly maxInMemoryForQos0?: number;
  /**
   * Credit window granted to every link that publishes to a topic: publications being routed or waiting for
   * room at once, per link. Default 100.
   */
  readonly publishCreditWindow?: number;
  /**
   * Largest message, bytes, the backend's receiving links take from AMQP peers: announced as their
   * max-message-size; a larger one detaches the link with `amqp:link:message-size-exceeded`. 0: no limit.
   * Default 2 MiB (`DEFAULT_MAX_MESSAGE_SIZE` of `@dragoman/amqp`). Keep it above the session store's
   * `maxPayloadBytes`, or large messages stop at the AMQP side instead of at the store.
   */
  readonly maxMessageSize?: number;
  /**
   * Most messages queued on one native AMQP receiver link without credit. With the `backpressure` policy a
   * publication waits until every matching link has room; with `drop`, what finds the queue full is dropped
   * (`stats().nativeDropped`). Default 100.
   */
  readonly maxQueuedPerNativeReceiver?: number;
  /**
   * What a publication does when a connected subscriber it reaches has no room (a native receiver's queue
   * full; an MQTT session's memory window full or, for a QoS 1/2 copy, its backlog not read up to its end).
   * `backpressure` (default), for every QoS, pre-settled or not: it is routed (and an unsettled one accepted)
   * only once every such subscriber has room; meanwhile it and the publications after it on the same link wait
   * and that link gets no credit, so a slow subscriber slows its publishers to its pace instead of losing
   * their QoS 0 messages. `drop`: it is routed at once; native receivers drop what does not fit
   * (`nativeDropped`), sessions drop QoS 0 copies that find memory full (`droppedNoCredit`) and queue QoS 1/2
   * ones in their backlog under the store's policy (`droppedBacklogFull`).
   */
  readonly slowSubscriberPolicy?: SlowSubscriberPolicy;
  /**
   * With `backpressure`: how long a publication waits for room before it is rejected with
   * `amqp:resource-limit-exceeded` (the bridge answers PUBACK/PUBREC 0x97; a pre-settled one is dropped), so
   * that a subscriber that takes nothing holds its publishers for a bounded time
   * (`stats().rejectedSlowSubscriber` counts both). Default 60 000 ms.
   */
  readonly slowSubscriberTimeoutMs?: number;
  /** How long AMQP_LIST waits for the client's control link to attach and take the reply, ms. Default 10 000. */
  readonly controlReplyTimeoutMs?: number;
  /** Refuses subscriptions: false answers the AMQP_SUBSCRIBE with `rejected` (`amqp:unauthorized-access`). */
  readonly authorizeSubscription?: (clientId: string, filter: string) => boolean;
  /**
   * The MQTT reason code a refused subscription is answered with; carried in the rejection's error info as
   * `reason-code` for the front end's SUBACK. Default 0x80 (unspecified error).
   */
  readonly refusedSubscriptionReasonCode?: number;
  /**
   * Where the QoS 2 publications routed and not yet released by their MQTT client are remembered (so that a
   * DUP re-send after a reconnect is not routed twice). Default: with `openLmdbStores` stores, their own LMDB
   * environment, written in the same transaction as the publication's backlog writes (a crash leaves it routed
   * and remembered, or neither); with other stores, memory made for this backend (lost with it). A store given
   * here (`openLmdbQos2Store({ path })`) is written after the routing (a crash in between can give one
   * duplicate); it belongs to the caller and is not closed by `close()`.
   */
  readonly qos2Store?: Qos2Store;
  /**
   * Most QoS 2 publications remembered per client (each held until its PUBREL). Beyond it the client's oldest
   * entry is forgotten (at worst a later DUP re-send of that one is routed twice; nothing is lost). Default
   * 1 000 — above any sensible receive maximum, since a client has at most that many unreleased at once.
   */
  readonly maxUnreleasedQos2PerClient?: number;
  /** Most QoS 2 publications remembered in total; beyond it the oldest is forgotten. Default 100 000. */
  readonly maxUnreleasedQos2?: number;
  /** Clock, epoch ms (message expiry). Default `Date.now`. */
  readonly now?: () => number;
}

/** See `BackendOptions.slowSubscriberPolicy`. */
export type SlowSubscriberPolicy = 'backpressure' | 'drop';

/** Counters of a running backend; plain numbers, so tests can compare them. */
export interface BackendStats {
  readonly connections: number;
  readonly subscriptions: SubscriptionServiceStats;
  readonly wills: WillServiceStats;
  /** Native AMQP receivers attached to topic addresses. */
  readonly nativeReceivers: number;
  /** Messages queued on native receiver links, waiting for credit (at most `maxQueuedPerNativeReceiver` each). */
  readonly nativeQueued: number;
  /** Messages dropped for native receivers (the link's queue full): QoS 0, or any with the `drop` policy. */
  readonly nativeDropped: number;
  /** Publications read from publisher links and waiting for a subscriber's room (at most the credit window per link). */
  readonly waitingPublications: number;
  /** Publisher links held (a publication waits for room; no credit is granted). */
  readonly heldPublisherLinks: number;
  /** Publications rejected because a subscriber had no room for `slowSubscriberTimeoutMs`. */
  readonly rejectedSlowSubscriber: number;
  /** QoS 2 publications remembered until their MQTT client releases them (PUBREL). */
  readonly unreleasedQos2: number;
  /** Remembered QoS 2 publications forgotten because `maxUnreleasedQos2PerClient` / `maxUnreleasedQos2` was reached. */
  readonly unreleasedQos2Evicted: number;
  /** DUP re-sends of remembered QoS 2 publications: accepted and not routed again. */
  readonly duplicatesNotRouted: number;
  /** Retained publications refused (`amqp:resource-limit-exceeded`) because the retained store was full. */
  readonly rejectedRetained: number;
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

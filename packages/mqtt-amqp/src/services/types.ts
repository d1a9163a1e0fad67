/**
 * Public types of the Will service and the Subscription service (the back end of MQTT over AMQP).
 */

/** Counters of the Subscription service. Every field is a plain number so tests can compare them. */
export interface SubscriptionServiceStats {
  /** Sessions held (connected or not). */
  readonly sessions: number;
  /** Sessions whose client is connected (has a publish link). */
  readonly connected: number;
  /**
   * Messages held in memory for sessions, queued or sent and unsettled, over every session. Bounded by
   * `maxInMemoryPerClient` per session; the rest of a backlog stays in the session store.
   */
  readonly buffered: number;
  /** The most `buffered` ever was. */
  readonly bufferedHighWater: number;
  /** QoS 0 messages dropped: the client's memory window was full (the backend's `drop` policy) or its link had gone. */
  readonly droppedNoCredit: number;
  /** Messages dropped because a session's backlog was full (evicted by `drop-oldest` or refused by `refuse`). */
  readonly droppedBacklogFull: number;
  /** Messages the session store would not take for another reason (payload over its limit, session gone). */
  readonly droppedByStore: number;
  /** Messages that expired before they could be delivered. */
  readonly expired: number;
  /** Deliveries the client's front end rejected (they are not redelivered). */
  readonly rejectedByClient: number;
}

/** Counters of the Will service. */
export interface WillServiceStats {
  /** Wills held: those of connected clients plus those waiting (delay or restart grace). */
  readonly wills: number;
  /** Wills waiting for their delay interval or the restart grace time. */
  readonly pending: number;
  /** Wills published so far. */
  readonly published: number;
}

/**
 * One client's session in the Subscription service: its subscriptions, and the delivery of its messages, in
 * order, against the credit of the client's publish link.
 *
 * QoS 1/2 messages are written to the session store's backlog before they count as taken (so a restart
 * loses nothing acknowledged); memory holds only a window of at most `window` of them (plus QoS 0
 * messages, which are never stored), refilled from the store as deliveries settle. A QoS 0 message waits in
 * memory for credit like the others, and is dropped (counted) only when memory is full.
 *
 * Packet ids: a QoS 1/2 backlog entry goes out with message-id = its MQTT packet id, derived from its store
 * seq (`packetIdOf`), so every delivery of it — a redelivery after a reconnect or a restart included —
 * carries the same one. Two entries 65 535 apart share an id: the later one waits while the earlier is in
 * flight, so ids in flight are always unique.
 *
 * DUP (AMQP header delivery-count > 0) on a re-delivery: entries sent on a link that went away unsettled are
 * remembered while the process runs (`ClientSessionContext.sentUnsettled`). Across a restart, memory is gone, but
 * a bound holds: entries go out in store order, and the entries held in memory plus the acknowledgements whose
 * removal from the store is under way never exceed the window; so the entries a previous process may have sent
 * are among the first `window` live entries of the backlog it left. The first read of such a backlog in this
 * process marks them (`RestartedBacklog`): they go out with DUP, the entries after them without.
 *
 * QoS 2 (docs/mqtt-over-amqp-mapping.md, "QoS 2 towards the client"): the FE's AMQP_PUBREL for a delivery
 * marks its entry released in the store (`release`); the delivery stays in flight until the FE settles it on
 * the client's PUBCOMP, and only then leaves the backlog. A released entry that comes back unsettled (the
 * link went, or the service restarted) is sent again as a PUBREL request — subject `pubrel`, message-id =
 * the packet id — never as the PUBLISH, so the client gets its PUBREL again and nothing twice.
 */
import type { AmqpMessage, Outcome } from '@dragoman/amqp';
import { encodePubrelRequest } from '../mapping/pubrel';
import type { ImmediateSessionStore } from '../store/session-store';
import type { EnqueueResult, MqttMessage, QueuedMessage, SessionStore, SessionSubscription } from '../types';
import type { DeliveryCounters } from './counters';
import { NumberMap } from './number-map';
import type { Outlet } from './outlet';

/** A message held in memory for a client. */
export interface PendingDelivery {
  /** Unique in this session while the process runs; orders memory. */
  readonly seq: number;
  /** The entry in the store's backlog (QoS 1/2), acknowledged there once delivered. */
  readonly storeSeq: number | undefined;
  /**
   * QoS 1/2 backlog entries: the MQTT packet id (1..65535), the AMQP message-id the FE sees and echoes in
   * AMQP_PUBREL; the same on every delivery of the entry. Undefined for QoS 0.
   */
  readonly packetId: number | undefined;
  /** QoS 2: its AMQP_PUBREL was accepted; what is sent now is a PUBREL request, not the PUBLISH. */
  released: boolean;
  /** As it is delivered: QoS and retain flag of this delivery, subscription identifiers set. */
  readonly message: MqttMessage;
  /** Epoch ms; undefined = never expires. */
  readonly expiresAt: number | undefined;
  /** Times it was sent without a final outcome (non-zero = DUP). */
  deliveryCount: number;
}

/**
 * What became of a message given to `enqueueDurable`: `stored` in the backlog; `refused` because the backlog is
 * full under the store's `refuse` policy; `dropped` by another store rule (QoS 0 not queued, too large, expired).
 */
export type EnqueueOutcome = 'stored' | 'refused' | 'dropped';

/** Who `enqueueDurableThen` answers: `took` gets the outcome, or undefined and the store's error. */
export interface EnqueueWaiter {
  took(outcome: EnqueueOutcome | undefined, error: unknown): void;
}

/**
 * A client's backlog as a previous process left it (found non-empty at the service's start): which of its entries
 * that process may have sent. Shared by the client's sessions in this process; dropped once no such entry is left,
 * or when the backlog is discarded (clean start, session end).
 */
export interface RestartedBacklog {
  /** The store seq of this process's first entry in the backlog (an older one is the previous process's). */
  firstNewSeq: number | undefined;
  /**
   * Set by the first read of the backlog in this process: entries up to this seq may have been sent before the
   * restart, and are delivered with DUP. Undefined until then.
   */
  resentUpTo: number | undefined;
}

/** What a session needs from its service. */
export interface ClientSessionContext {
  readonly store: SessionStore;
  /**
   * The same store when its writes take effect at once (the memory backend): a message is queued and
   * acknowledged without a promise and its callbacks. Undefined for any other store.
   */
  readonly immediate: ImmediateSessionStore | undefined;
  /** Most messages one session holds in memory. */
  readonly window: number;
  /** Most messages one connected session holds in memory and still takes a live QoS 0 message (≤ `window`). */
  readonly qos0Window: number;
  readonly counters: DeliveryCounters;
  now(): number;
  /** The AMQP_PUBLISH for one delivery. */
  encode(delivery: PendingDelivery, now: number): AmqpMessage;
  /** A store operation failed in the background (refill, acknowledgement). */
  onError(error: unknown): void;
  /** A session may have room again (memory freed, its backlog caught up, its client gone). */
  onRoom(): void;
  /**
   * Store entries of each client sent on a link that went away before they were settled: when loaded again
   * they are redeliveries (MQTT DUP). Kept across the client's sessions while the process runs.
   */
  readonly sentUnsettled: Map<string, Set<number>>;
  /** Clients whose backlog a previous process left, by client id (see `RestartedBacklog`). */
  readonly restarted: Map<string, RestartedBacklog>;
}

/** The subscriptions of a session that has none (shared: read only). */
const NO_SUBSCRIPTIONS: ReadonlyMap<string, SessionSubscription> = new Map();

export class ClientSession {
  readonly clientId: string;
  /**
   * Seconds the session outlives its client's connection (MQTT 5 session expiry interval): 0 ends it with the
   * connection (AMQP_CLOSE without an interval), 0xFFFFFFFF never (AMQP_LIST without one).
   */
  expiryInterval = 0;
  /** By filter; made at the first one and then kept (see `subscriptions`). */
  #subscriptions: Map<string, SessionSubscription> | undefined;
  readonly #context: ClientSessionContext;
  /** Not sent yet, in order (store entries by seq; QoS 0 wherever they came). */
  readonly #pending: PendingDelivery[] = [];
  // The NumberMaps below (no table garbage as entries come and go) are made at their first entry (an idle
  // client's session holds none of them: an empty one still costs its arrays) and then kept.
  /** Sent on the current outlet and not settled yet; by seq. */
  #inFlight: NumberMap<PendingDelivery> | undefined;
  /** The QoS 1/2 ones of `#inFlight`, by packet id. */
  #inFlightIds: NumberMap<PendingDelivery> | undefined;
  /** Store seqs in memory, or delivered and waiting for their acknowledgement: never loaded twice. */
  #known: NumberMap<true> | undefined;
  /** Store operations under way, for `idle()`. */
  #operations = 0;
  /** Called once `#operations` is back to 0 (see `idle`); made by the first waiter. */
  #idleWaiters: Array<() => void> | undefined;
  #outlet: Outlet | undefined;
  /** The backlog may flow: AMQP_SUBSCRIPTIONS was sent (or the session was started clean). */
  #ready = false;
  /** The store may hold entries not loaded into memory (so newer ones must not overtake them). */
  #storeBehind = true;
  /** Bumped whenever a write leaves an entry in the store only, so a refill under way does not clear `#storeBehind`. */
  #behindMarks = 0;
  /** Bumped by `deactivate`: answers of the store to an older activation are ignored. */
  #epoch = 0;
  #refilling = false;
  #refillAgain = false;
  #pumpScheduled = false;
  #nextSeq = 1;
  /** `enqueueDurable` / `enqueueDurableThen` calls whose store write is under way: room they already took. */
  #writing = 0;
  /**
   * Acknowledged entries whose removal from the store is under way: they keep their place in the window until it
   * is done, so that what a crash can leave sent in the store stays within the window (see the top).
   */
  #acking = 0;
  /** Set when a previous process left this client's backlog (the service's start found it). */
  #restarted: RestartedBacklog | undefined;

  constructor(clientId: string, context: ClientSessionContext) {
    this.clientId = clientId;
    this.#context = context;
    this.#restarted = context.restarted.get(clientId);
  }

  /** The client's subscriptions by filter (change them with `setSubscription` and the like). */
  get subscriptions(): ReadonlyMap<string, SessionSubscription> {
    return this.#subscriptions ?? NO_SUBSCRIPTIONS;
  }

  setSubscription(filter: string, subscription: SessionSubscription): void {
    this.#subscriptions ??= new Map();
    this.#subscriptions.set(filter, subscription);
  }

  /** False when the session had no subscription with this filter. */
  deleteSubscription(filter: string): boolean {
    return this.#subscriptions?.delete(filter) === true;
  }

  clearSubscriptions(): void {
    this.#subscriptions?.clear();
  }

  /** Held in memory: queued plus in flight. */
  get buffered(): number {
    return this.#pending.length + (this.#inFlight?.size ?? 0);
  }

  /** What counts against the window: memory, and acknowledgements whose store write is under way. */
  get #occupied(): number {
    return this.#pending.length + (this.#inFlight?.size ?? 0) + this.#acking;
  }

  get connected(): boolean {
    return this.#outlet !== undefined;
  }

  isAttached(outlet: Outlet): boolean {
    return this.#outlet === outlet;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Some `enqueueDurable` / `enqueueDurableThen` call of this session is still writing to the store. */
  get writing(): boolean {
    return this.#writing > 0;
  }

  /**
   * The store may have got entries this session did not write itself (those of a session it replaced, whose
   * writes were under way): it is read again, and a read that began before does not count as its end.
   */
  storeGrew(): void {
    this.#storeBehind = true;
    this.#behindMarks += 1;
    this.#refill();
  }

  /**
   * Whether a QoS 1/2 message can be taken without piling up in the store behind memory: always for a client
   * that is not connected (its backlog's policy applies); for a connected one, when the backlog has been read
   * up to its end and memory (writes under way included) is below the window. Asking starts a refill when
   * memory has space and the store is behind, so the answer turns true as soon as the store has caught up.
   */
  hasRoom(): boolean {
    if (this.#outlet === undefined) return true;
    const space = this.#occupied + this.#writing < this.#context.window;
    if (space && this.#storeBehind) this.#refill();
    return this.#ready && !this.#storeBehind && space;
  }

  /** Lets the backlog flow (after AMQP_SUBSCRIPTIONS, or at once for a clean session). */
  activate(): void {
    this.#ready = true;
    this.#storeBehind = true;
    this.#refill();
  }

  /** The client's publish link attached, replacing any previous one. */
  attach(outlet: Outlet): void {
    if (this.#outlet !== undefined) this.#requeueInFlight();
    this.#outlet = outlet;
    this.pump();
  }

  /**
   * The publish link went away: memory is let go (the store keeps QoS 1/2 entries; QoS 0 ones are lost, as
   * MQTT allows). Returns false when `outlet` was not this session's current one.
   */
  detach(outlet: Outlet): boolean {
    if (this.#outlet !== outlet) return false;
    this.#outlet = undefined;
    this.deactivate();
    return true;
  }

  /** The client went away (its connection closed): no outlet, delivery stopped, memory let go. */
  goOffline(): void {
    this.#outlet = undefined;
    this.deactivate();
  }

  /** Stops delivery and empties memory; the store's backlog is untouched. */
  deactivate(): void {
    this.#rememberInFlight();
    this.#ready = false;
    this.#storeBehind = true;
    this.#epoch += 1;
    this.#known?.clear();
    const dropped = this.buffered;
    this.#pending.length = 0;
    this.#inFlight?.clear();
    this.#inFlightIds?.clear();
    if (dropped > 0) this.#context.counters.addBuffered(-dropped);
    this.#context.onRoom();
  }

  /**
   * Whether a QoS 0 message can be taken now: memory below the QoS 0 window for a connected, ready client; always
   * otherwise (an offline or not yet ready session stores it under its backlog's policy).
   */
  hasRoomForVolatile(): boolean {
    return this.#outlet === undefined || !this.#ready || this.#occupied < this.#context.qos0Window;
  }

  /**
   * Offers a QoS 0 message: queued for delivery (it goes as credit comes, in order with QoS 1/2 ones) while
   * memory is below the QoS 0 window, otherwise dropped and counted. With the backend's `backpressure` policy its
   * publisher waited for `hasRoomForVolatile`, so only a `drop` policy or a race drops here.
   */
  offerVolatile(message: MqttMessage, expiresAt: number | undefined): void {
    if (this.#outlet === undefined || !this.#ready || this.#occupied >= this.#context.qos0Window) {
      this.#context.counters.droppedNoCredit += 1;
      return;
    }
    this.#push(this.#volatile(message, expiresAt));
    this.pump();
  }

  /**
   * Queues a QoS 0 message meant for this client only (a retained message on subscribe), within the memory
   * window even without credit; dropped and counted when the window is full.
   */
  queueVolatile(message: MqttMessage, expiresAt: number | undefined): void {
    if (this.#occupied >= this.#context.window) {
      this.#context.counters.droppedBacklogFull += 1;
      return;
    }
    this.#push(this.#volatile(message, expiresAt));
    this.pump();
  }

  /**
   * Writes a QoS 1/2 message to the store's backlog (its policy applies when full) and, when the client is
   * there and memory has room, queues it for delivery. Resolves once the store has it (or refused it).
   */
  enqueueDurable(message: MqttMessage, expiresAt: number | undefined): Promise<EnqueueOutcome> {
    return new Promise((resolve, reject) => {
      this.enqueueDurableThen(message, expiresAt, {
        took: (outcome, error) => {
          if (outcome === undefined) reject(error);
          else resolve(outcome);
        },
      });
    });
  }

  /**
   * `enqueueDurable` with a waiter instead of a promise (the routing of every QoS 1/2 message goes here):
   * `waiter.took` gets the outcome once the store has answered, or undefined and the store's error. Called
   * synchronously when the store writes at once (`ClientSessionContext.immediate`), later otherwise.
   */
  enqueueDurableThen(message: MqttMessage, expiresAt: number | undefined, waiter: EnqueueWaiter): void {
    const immediate = this.#context.immediate;
    if (immediate !== undefined) {
      let result: EnqueueResult;
      try {
        result = immediate.enqueueNow(this.clientId, message);
      } catch (error) {
        waiter.took(undefined, error);
        return;
      }
      waiter.took(this.#enqueued(result, message, expiresAt, this.#epoch), undefined);
      return;
    }
    // Not serialised: concurrent writes let a durable store commit them together. Their answers come back in
    // the order they were made, which is the backlog's order.
    const epoch = this.#epoch;
    this.#writing += 1;
    let operation: Promise<EnqueueResult>;
    try {
      operation = this.#context.store.enqueue(this.clientId, message);
    } catch (error) {
      operation = Promise.reject(error);
    }
    // One handler both forgets the operation and goes on (no separate tracking promise per message).
    this.#operations += 1;
    operation.then(
      (result) => {
        this.#operationDone();
        this.#writing -= 1;
        this.#context.onRoom();
        waiter.took(this.#enqueued(result, message, expiresAt, epoch), undefined);
      },
      (error: unknown) => {
        this.#operationDone();
        this.#writing -= 1;
        this.#context.onRoom();
        waiter.took(undefined, error);
      },
    );
  }

  /** What the store's answer to `enqueueDurableThen` means for memory. */
  #enqueued(
    result: EnqueueResult,
    message: MqttMessage,
    expiresAt: number | undefined,
    epoch: number,
  ): EnqueueOutcome {
    if (result.status !== 'queued') {
      this.#countRefusal(result.reason);
      return result.status === 'refused' && result.reason === 'backlog-full' ? 'refused' : 'dropped';
    }
    const restarted = this.#restarted;
    if (restarted !== undefined && restarted.firstNewSeq === undefined) restarted.firstNewSeq = result.seq;
    if (result.evicted > 0) this.#evictOldest(result.evicted);
    if (epoch !== this.#epoch || this.#known?.has(result.seq) === true) return 'stored'; // a refill loaded it already
    if (!this.#ready || this.#storeBehind || this.#occupied >= this.#context.window) {
      this.#storeBehind = true;
      this.#behindMarks += 1;
      return 'stored';
    }
    this.#knownSeqs().set(result.seq, true);
    this.#push(this.#stored(result.seq, message, expiresAt, 0, false));
    this.pump();
    return 'stored';
  }

  /**
   * AMQP_PUBREL for the QoS 2 delivery in flight with this packet id: its entry is marked released in the
   * store (resolves once durable; the caller accepts the AMQP_PUBREL only then). The delivery stays in flight
   * until the FE settles it (on the client's PUBCOMP). False when no QoS 2 delivery has this id in flight.
   */
  async release(packetId: number): Promise<boolean> {
    const delivery = this.#inFlightIds?.get(packetId);
    if (delivery === undefined || delivery.storeSeq === undefined || delivery.message.qos !== 2) return false;
    if (delivery.released) return true;
    const stored = await this.#track(this.#context.store.release(this.clientId, delivery.storeSeq));
    // Also when the link went meanwhile: should the object be sent again, it goes as a PUBREL request.
    if (stored) delivery.released = true;
    return stored;
  }

  /** Resolves once no store operation of this session is under way. */
  async idle(): Promise<void> {
    // Looked at again after each wake-up: the code that ended the last operation may have started another.
    while (this.#operations > 0) {
      await new Promise<void>((resolve) => {
        this.#idleWaiters ??= [];
        this.#idleWaiters.push(resolve);
      });
    }
  }

  /** Sends what the outlet's credit allows, oldest first; drops what expired on the way. */
  pump(): void {
    const outlet = this.#outlet;
    if (outlet === undefined || !this.#ready) return;
    while (outlet.credit > 0 && this.#pending.length > 0) {
      const delivery = this.#pending[0] as PendingDelivery;
      // Its packet id is still in flight with an entry 65 535 older: wait until that one is done.
      if (delivery.packetId !== undefined && this.#inFlightIds?.has(delivery.packetId) === true) break;
      this.#pending.shift();
      const now = this.#context.now();
      // A released message is past expiry's reach: the client answered PUBREC and is owed its PUBREL.
      if (!delivery.released && delivery.expiresAt !== undefined && delivery.expiresAt <= now) {
        this.#context.counters.expired += 1;
        this.#freed(1);
        this.#finish(delivery);
        continue;
      }
      this.#inFlight ??= new NumberMap();
      this.#inFlight.set(delivery.seq, delivery);
      if (delivery.packetId !== undefined) {
        this.#inFlightIds ??= new NumberMap();
        this.#inFlightIds.set(delivery.packetId, delivery);
      }
      const message =
        delivery.released && delivery.packetId !== undefined
          ? encodePubrelRequest(delivery.packetId, delivery.message.topic)
          : withPacketId(this.#context.encode(delivery, now), delivery.packetId);
      outlet.send(message, (outcome) => this.#onOutcome(outlet, delivery, outcome));
    }
    if (this.#pending.length === 0) this.#refill();
  }

  #onOutcome(outlet: Outlet, delivery: PendingDelivery, outcome: Outcome | undefined): void {
    // Settled by its AMQP_PUBREL already, or let go when the link went away.
    if (this.#inFlight?.get(delivery.seq) !== delivery || outcome === undefined) return;
    this.#leaveInFlight(delivery);
    switch (outcome.state) {
      case 'accepted':
        this.#freed(1);
        this.#finish(delivery);
        break;
      case 'rejected':
        this.#context.counters.rejectedByClient += 1;
        this.#freed(1);
        this.#finish(delivery);
        break;
      case 'modified':
        if (outcome.undeliverableHere) {
          this.#context.counters.rejectedByClient += 1;
          this.#freed(1);
          this.#finish(delivery);
          break;
        }
        if (outcome.deliveryFailed) delivery.deliveryCount += 1;
        this.#insertBySeq(delivery);
        break;
      case 'released':
        this.#insertBySeq(delivery);
        break;
    }
    // Not synchronously: a peer that releases at once would otherwise recurse. One pump for the outcomes of
    // a tick.
    if (this.#outlet === outlet && !this.#pumpScheduled) {
      this.#pumpScheduled = true;
      // Made at the first outcome and kept: an idle client's session holds no closure for it.
      this.#pumpSoon ??= () => {
        this.#pumpScheduled = false;
        this.pump();
      };
      queueMicrotask(this.#pumpSoon);
    }
  }

  #pumpSoon: (() => void) | undefined;

  /** Removes a finished delivery from the store's backlog, then tops memory up from it. */
  #finish(delivery: PendingDelivery): void {
    const storeSeq = delivery.storeSeq;
    if (storeSeq === undefined) {
      this.#refill();
      return;
    }
    const sent = this.#context.sentUnsettled.get(this.clientId);
    if (sent?.delete(storeSeq) === true && sent.size === 0) this.#context.sentUnsettled.delete(this.clientId);
    const immediate = this.#context.immediate;
    if (immediate !== undefined) {
      try {
        immediate.ackNow(this.clientId, storeSeq);
      } catch (error) {
        // Reported as the promise's rejection would have been: not from inside the caller's call.
        queueMicrotask(() => this.#context.onError(error));
        return;
      }
      this.#forgetKnown(storeSeq);
      this.#refill();
      return;
    }
    const operation = this.#context.store.ack(this.clientId, storeSeq);
    // One handler both forgets the operation and goes on, as in `enqueueDurableThen`.
    this.#operations += 1;
    this.#acking += 1;
    operation.then(
      () => {
        this.#operationDone();
        this.#ackDone();
        // Only now, and after a backlog read under way is loaded: a read that began before the acknowledgement
        // took effect still lists it (`#known` skips it meanwhile).
        this.#forgetKnown(storeSeq);
        this.#refill();
      },
      (error: unknown) => {
        this.#operationDone();
        this.#ackDone();
        this.#context.onError(error);
      },
    );
  }

  /** An acknowledgement's store write is over: its place in the window is free. */
  #ackDone(): void {
    this.#acking -= 1;
    this.#context.onRoom();
  }

  /**
   * An acknowledged entry may be loaded again no more. While a backlog read is under way it may still list it
   * (read before the acknowledgement): `#known` keeps it until that read has been loaded.
   */
  #forgetKnown(storeSeq: number): void {
    if (!this.#refilling) this.#known?.delete(storeSeq);
    else {
      this.#forgetAfterRefill ??= [];
      this.#forgetAfterRefill.push(storeSeq);
    }
  }

  /** Acknowledged during the backlog read under way: forgotten by `#known` once it is loaded. */
  #forgetAfterRefill: number[] | undefined;

  #forgetAcknowledged(): void {
    const acknowledged = this.#forgetAfterRefill;
    if (acknowledged === undefined || acknowledged.length === 0) return;
    for (const storeSeq of acknowledged) this.#known?.delete(storeSeq);
    acknowledged.length = 0;
  }

  /**
   * Loads what the store holds beyond memory, oldest first, up to the window. One read at a time; a request
   * made meanwhile runs after it.
   */
  #refill(): void {
    if (!this.#ready || !this.#storeBehind || this.#occupied >= this.#context.window) return;
    if (this.#refilling) {
      this.#refillAgain = true;
      return;
    }
    this.#refilling = true;
    const epoch = this.#epoch;
    const marks = this.#behindMarks;
    // The backlog starts with what memory already holds (and what awaits its acknowledgement).
    let limit = (this.#known?.size ?? 0) + (this.#context.window - this.#occupied);
    const restarted = this.#restarted;
    // The first read after a restart looks at the whole window, to mark what the previous process may have sent.
    const marking = restarted !== undefined && restarted.resentUpTo === undefined;
    if (marking) limit = Math.max(limit, this.#context.window);
    this.#track(this.#context.store.backlog(this.clientId, { limit })).then(
      (entries) => {
        this.#refilling = false;
        if (restarted !== undefined) this.#markRestarted(restarted, entries, marking);
        const oldest = entries[0];
        if (oldest !== undefined) this.#forgetSentBefore(oldest.seq);
        if (epoch === this.#epoch && this.#ready)
          this.#load(entries, entries.length < limit && marks === this.#behindMarks);
        this.#forgetAcknowledged();
        if (this.#refillAgain) {
          this.#refillAgain = false;
          this.#refill();
        }
      },
      (error: unknown) => {
        this.#refilling = false;
        this.#forgetAcknowledged();
        this.#context.onError(error);
      },
    );
  }

  /**
   * A read of a backlog a previous process left (oldest entries first, from its front). The first one (`first`:
   * begun before any marking, with a limit of at least the window) marks the entries that process may have sent:
   * the first `window` of them, none of this process's own. Once a read starts past them, the mark goes.
   */
  #markRestarted(restarted: RestartedBacklog, entries: readonly QueuedMessage[], first: boolean): void {
    if (first && restarted.resentUpTo === undefined) {
      const firstNew = restarted.firstNewSeq ?? Number.POSITIVE_INFINITY;
      const window = this.#context.window;
      let upTo = 0;
      for (let i = 0; i < entries.length && i < window; i++) {
        const seq = (entries[i] as QueuedMessage).seq;
        if (seq >= firstNew) break;
        upTo = seq;
      }
      restarted.resentUpTo = upTo;
    }
    const resentUpTo = restarted.resentUpTo;
    if (resentUpTo === undefined) return;
    // Empty, or starting past the marked entries: none of them is left.
    const oldest = entries[0]?.seq;
    if (oldest === undefined || oldest > resentUpTo) this.#forgetRestart(restarted);
  }

  /**
   * A read of the backlog starts at `oldest`: the entries sent unsettled before it have left the store without an
   * acknowledgement here (evicted, expired, or acknowledged on another link), and are forgotten, so that what is
   * remembered stays within what the store holds. (Anything queued after the read has a higher seq.)
   */
  #forgetSentBefore(oldest: number): void {
    const unsettled = this.#context.sentUnsettled;
    const sent = unsettled.get(this.clientId);
    if (sent === undefined) return;
    for (const seq of sent) if (seq < oldest) sent.delete(seq);
    if (sent.size === 0) unsettled.delete(this.clientId);
  }

  /** No entry of the previous process is left in the backlog. */
  #forgetRestart(restarted: RestartedBacklog): void {
    this.#restarted = undefined;
    const restarts = this.#context.restarted;
    if (restarts.get(this.clientId) === restarted) restarts.delete(this.clientId);
  }

  /** Puts backlog entries not in memory yet into it; `sawEnd`: nothing newer waits in the store. */
  #load(entries: readonly QueuedMessage[], sawEnd: boolean): void {
    const now = this.#context.now();
    const resentUpTo = this.#restarted?.resentUpTo ?? 0;
    const sent = this.#context.sentUnsettled.get(this.clientId);
    let complete = true;
    for (const entry of entries) {
      if (this.#known?.has(entry.seq) === true) continue;
      if (this.#occupied >= this.#context.window) {
        complete = false;
        break;
      }
      this.#knownSeqs().set(entry.seq, true);
      const interval = entry.message.properties?.messageExpiryInterval;
      // Sent before, on a link that went away unsettled or by a previous process: a redelivery (MQTT DUP, which
      // QoS 0 never has).
      const resent = entry.message.qos > 0 && (entry.seq <= resentUpTo || sent?.has(entry.seq) === true);
      const expiresAt = interval === undefined ? undefined : now + interval * 1000;
      this.#push(this.#stored(entry.seq, entry.message, expiresAt, resent ? 1 : 0, entry.released === true));
    }
    if (complete && sawEnd) {
      this.#storeBehind = false;
      this.#context.onRoom();
    }
    this.pump();
  }

  #track<T>(operation: Promise<T>): Promise<T> {
    this.#operations += 1;
    // A closure per operation, let go once it settles, rather than one the session keeps all its life.
    const done = (): void => this.#operationDone();
    operation.then(done, done);
    return operation;
  }

  /** A store operation is over (counted, not kept: a Set of them cost two updates per message). */
  #operationDone(): void {
    this.#operations -= 1;
    if (this.#operations > 0 || this.#idleWaiters === undefined) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = undefined;
    for (const resolve of waiters) resolve();
  }

  #knownSeqs(): NumberMap<true> {
    this.#known ??= new NumberMap();
    return this.#known;
  }

  #rememberInFlight(): void {
    if (this.#inFlight === undefined || this.#inFlight.size === 0) return;
    let sent = this.#context.sentUnsettled.get(this.clientId);
    this.#inFlight.forEach((delivery) => {
      if (delivery.storeSeq === undefined) return;
      if (sent === undefined) {
        sent = new Set();
        this.#context.sentUnsettled.set(this.clientId, sent);
      }
      sent.add(delivery.storeSeq);
    });
  }

  #countRefusal(
    reason: 'qos0-not-queued' | 'backlog-full' | 'payload-too-large' | 'no-session' | 'expired',
  ): void {
    const counters = this.#context.counters;
    if (reason === 'qos0-not-queued') counters.droppedNoCredit += 1;
    else if (reason === 'backlog-full') counters.droppedBacklogFull += 1;
    else if (reason === 'expired') counters.expired += 1;
    else counters.droppedByStore += 1;
  }

  /**
   * The store dropped its `count` oldest entries to make room. Which ones memory held is not known (delivered
   * entries awaiting their acknowledgement count too), so the queued store entries are let go and read again
   * from the store, in its order; those already sent stay in flight.
   */
  #evictOldest(count: number): void {
    this.#context.counters.droppedBacklogFull += count;
    const before = this.#pending.length;
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const storeSeq = (this.#pending[i] as PendingDelivery).storeSeq;
      if (storeSeq === undefined) continue;
      this.#known?.delete(storeSeq);
      this.#pending.splice(i, 1);
    }
    const dropped = before - this.#pending.length;
    if (dropped > 0) this.#freed(dropped);
    this.#storeBehind = true;
    this.#behindMarks += 1;
    this.#refill();
  }

  /** `count` messages left memory. */
  #freed(count: number): void {
    this.#context.counters.addBuffered(-count);
    this.#context.onRoom();
  }

  #volatile(message: MqttMessage, expiresAt: number | undefined): PendingDelivery {
    return {
      seq: this.#takeSeq(),
      storeSeq: undefined,
      packetId: undefined,
      released: false,
      message,
      expiresAt,
      deliveryCount: 0,
    };
  }

  /** A delivery of backlog entry `storeSeq`; QoS 1/2 ones carry its packet id. */
  #stored(
    storeSeq: number,
    message: MqttMessage,
    expiresAt: number | undefined,
    deliveryCount: number,
    released: boolean,
  ): PendingDelivery {
    return {
      seq: this.#takeSeq(),
      storeSeq,
      packetId: message.qos > 0 ? packetIdOf(storeSeq) : undefined,
      released,
      message,
      expiresAt,
      deliveryCount,
    };
  }

  #leaveInFlight(delivery: PendingDelivery): void {
    this.#inFlight?.delete(delivery.seq);
    if (delivery.packetId !== undefined && this.#inFlightIds?.get(delivery.packetId) === delivery) {
      this.#inFlightIds.delete(delivery.packetId);
    }
  }

  #push(delivery: PendingDelivery): void {
    this.#insertBySeq(delivery);
    this.#context.counters.addBuffered(1);
  }

  #takeSeq(): number {
    const seq = this.#nextSeq;
    this.#nextSeq += 1;
    return seq;
  }

  #requeueInFlight(): void {
    if (this.#inFlight === undefined) return;
    this.#inFlight.forEach((delivery) => {
      delivery.deliveryCount += 1;
      this.#insertBySeq(delivery);
    });
    this.#inFlight.clear();
    this.#inFlightIds?.clear();
  }

  #insertBySeq(delivery: PendingDelivery): void {
    const pending = this.#pending;
    let at = pending.length;
    while (at > 0 && (pending[at - 1] as PendingDelivery).seq > delivery.seq) at -= 1;
    // Most deliveries are the newest: a push, where splice would also build an array of what it removed.
    if (at === pending.length) pending.push(delivery);
    else pending.splice(at, 0, delivery);
  }
}

/**
 * The encoded AMQP_PUBLISH with message-id = the packet id (the service numbers the session's messages,
 * whatever id the encoder put there); none for QoS 0, which has no packet id.
 */
function withPacketId(message: AmqpMessage, packetId: number | undefined): AmqpMessage {
  // The encoder was given the packet id already (the embedded backend's does): nothing to copy.
  if (message.properties?.messageId === packetId) return message;
  const { messageId: _encoded, ...properties } = message.properties ?? {};
  if (packetId !== undefined) return { ...message, properties: { ...properties, messageId: packetId } };
  if (message.properties?.messageId === undefined) return message;
  return { ...message, properties };
}

/** The MQTT packet id of backlog entry `storeSeq`: 1..65535, in turn. */
export function packetIdOf(storeSeq: number): number {
  return ((storeSeq - 1) % 0xffff) + 1;
}

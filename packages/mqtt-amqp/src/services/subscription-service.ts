/**
 * The Subscription service: each client's session (subscriptions and backlog), the routing of published
 * messages to the sessions whose subscriptions match, and the retained messages.
 *
 * It works on decoded requests (AMQP_LIST, AMQP_CLOSE, AMQP_SUBSCRIBE, AMQP_UNSUBSCRIBE, AMQP_PUBREL) and on
 * `Outlet`s, the clients' publish links; the embedded backend (or any other host) turns AMQP links into these.
 *
 * Delivery rules:
 * - one copy per session for all its matching ordinary subscriptions, at the highest granted QoS (capped by
 *   the message's QoS), carrying every matching subscription identifier; one more copy per matching shared
 *   group, to one member in turn (connected members first);
 * - the retain flag is cleared on routed messages unless a matching subscription has retain-as-published;
 *   retained messages sent on subscribe always carry it, and go to the subscribing client only;
 * - QoS 1/2 messages go through the session store's backlog (bounded, its policy when full), QoS 0 messages
 *   are sent if the client's link has spare credit and dropped otherwise; every drop is counted in `stats()`.
 */

import type { AmqpMessage } from '@dragoman/amqp';
import { parseSubscriptionFilter, type QoS } from '@dragoman/mqtt';
import { StoreLimitError } from '../errors';
import { BackendSessionStore, SESSION_NEVER_EXPIRES } from '../store/session-store';
import type {
  MessageProperties,
  MqttMessage,
  RetainedStore,
  SessionStore,
  SessionSubscription,
} from '../types';
import {
  ClientSession,
  type EnqueueOutcome,
  type EnqueueWaiter,
  type PendingDelivery,
  type RestartedBacklog,
} from './client-session';
import { DeliveryCounters } from './counters';
import type { Outlet } from './outlet';
import { SubscriptionIndex, splitShared } from './subscription-index';
import type { SubscriptionServiceStats } from './types';

/** Decides whether a client may subscribe to a filter; false refuses the whole AMQP_SUBSCRIBE. */
export type SubscriptionAuthorizer = (clientId: string, filter: string) => boolean;

/** Options of `SubscriptionService.start`. */
export interface SubscriptionServiceOptions {
  readonly sessions: SessionStore;
  readonly retained: RetainedStore;
  /**
   * Builds the AMQP_PUBLISH of one delivery, DUP = `deliveryCount > 0`. The service sets its message-id to
   * `delivery.packetId` (the MQTT packet id; none for QoS 0) whatever the encoder put there. Released QoS 2
   * deliveries go as PUBREL requests, which the service builds itself.
   */
  readonly encode: (delivery: PendingDelivery, now: number) => AmqpMessage;
  /** Most messages held in memory per session (the rest waits in the store). Default 100. */
  readonly maxInMemoryPerClient?: number;
  /**
   * Most messages a connected session holds in memory and still takes a live QoS 0 message (`hasRoomFor`,
   * `offer`): QoS 0 has no acknowledgement to wait for, so what waits here only waits for credit, and a smaller
   * bound keeps that wait short while `maxInMemoryPerClient` leaves room for QoS 1/2 messages in flight.
   * Default, and at most: `maxInMemoryPerClient`.
   */
  readonly maxInMemoryForQos0?: number;
  readonly authorize?: SubscriptionAuthorizer;
  /** Clock, epoch ms. Default `Date.now`. */
  readonly now?: () => number;
  /** A background store operation failed. */
  readonly onError?: (error: unknown) => void;
  /** A connected session may have room again (see `hasRoomFor`); called often, so keep it cheap. */
  readonly onRoom?: () => void;
  /**
   * A session ended without its client starting a new one: it expired (its client gone longer than its
   * session expiry interval, or an interval of 0 when its connection closed). The embedded backend publishes
   * the client's will then, if it is still waiting out its delay (MQTT 5: at the earlier of the two).
   */
  readonly onSessionEnded?: (clientId: string) => void;
}

/** What became of an AMQP_SUBSCRIBE. */
export type SubscribeOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** Why, for the AMQP rejection: `unauthorized-access`, `invalid-field`, `resource-limit-exceeded`, `not-found`. */
      readonly condition:
        | 'amqp:unauthorized-access'
        | 'amqp:invalid-field'
        | 'amqp:resource-limit-exceeded'
        | 'amqp:not-found';
      readonly description: string;
    };

/** What `publish` did with a message. */
export interface PublishOutcome {
  /** Sessions it was routed to. */
  readonly sessions: number;
  /**
   * Sessions whose full backlog refused it (the store's `refuse` policy). The caller should then refuse the
   * publication (the embedded backend rejects it with `amqp:resource-limit-exceeded`); the other sessions have it.
   */
  readonly refused: number;
}

/** `publishThen`'s answer: the outcome, or undefined and the first error. */
export type PublishDone = (outcome: PublishOutcome | undefined, error: unknown) => void;

/**
 * One `publishThen` under way: counts the store writes it waits for and answers once, when the last is done
 * (or at the first error), never before every write has been started and never synchronously. It is itself
 * the waiter of its writes (`EnqueueWaiter`): no closure per message.
 */
class Routing implements EnqueueWaiter {
  sessions = 0;
  #refused = 0;
  /** Writes under way. */
  #waiting = 0;
  #started = false;
  #failed = false;
  #error: unknown;
  #done: PublishDone | undefined;
  readonly #answers: DueAnswers;

  constructor(done: PublishDone, answers: DueAnswers) {
    this.#done = done;
    this.#answers = answers;
  }

  wait(): void {
    this.#waiting += 1;
  }

  /** Every write has been started: answers (in a microtask) if none is under way any more, or one failed. */
  started(): void {
    this.#started = true;
    if (this.#waiting === 0 || this.#failed) this.#answers.add(this);
  }

  /** One write is done (`outcome`), or failed (`outcome` undefined, `error`). May come synchronously. */
  took(outcome: EnqueueOutcome | undefined, error: unknown): void {
    if (this.#done === undefined) return;
    this.#waiting -= 1;
    if (outcome === undefined) {
      if (this.#failed) return;
      this.#failed = true;
      this.#error = error;
    } else if (outcome === 'refused') this.#refused += 1;
    // Before `started` the writes may be answering synchronously, within `publishThen`: it answers then.
    if (this.#started && (this.#failed || this.#waiting === 0)) this.answer();
  }

  /** Calls `done` (once). */
  answer(): void {
    const done = this.#done;
    if (done === undefined) return;
    this.#done = undefined;
    if (this.#failed) done(undefined, this.#error);
    else done(outcomeOf(this.sessions, this.#refused), undefined);
  }
}

/** The answers of publications nothing refused, for up to 16 sessions: shared, read-only. */
const PLAIN_OUTCOMES: readonly PublishOutcome[] = Array.from({ length: 17 }, (_, sessions) =>
  Object.freeze({ sessions, refused: 0 }),
);

function outcomeOf(sessions: number, refused: number): PublishOutcome {
  return (refused === 0 ? PLAIN_OUTCOMES[sessions] : undefined) ?? { sessions, refused };
}

/** A publication's answer that is an error (rare: made when it happens). */
class Failure {
  constructor(readonly error: unknown) {}
}

/**
 * Publications whose answer is due but must not be given synchronously: answered together in one microtask, by
 * a function made once per service (not a closure per message). Entries are pairs: a `Routing` and undefined, or
 * a `PublishDone` and its answer (an outcome, or a `Failure`).
 */
class DueAnswers {
  readonly #due: unknown[] = [];

  add(routing: Routing): void {
    this.#push(routing, undefined);
  }

  addAnswer(done: PublishDone, answer: PublishOutcome | Failure): void {
    this.#push(done, answer);
  }

  #push(first: unknown, second: unknown): void {
    if (this.#due.push(first, second) === 2) queueMicrotask(this.#answerAll);
  }

  readonly #answerAll = (): void => {
    const due = this.#due;
    // Answers may route more (a will, a reply): those join this round, after the ones before them.
    for (let i = 0; i < due.length; i += 2) {
      try {
        const first = due[i];
        const answer = due[i + 1];
        if (first instanceof Routing) first.answer();
        else if (answer instanceof Failure) (first as PublishDone)(undefined, answer.error);
        else (first as PublishDone)(answer as PublishOutcome, undefined);
      } catch (error) {
        // What one answer threw does not keep the others waiting; it still surfaces, as a throw in its own
        // microtask would have.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    due.length = 0;
  };
}

/**
 * The waiter of the writes of a publication routed at once, when the store answers within the call
 * (`ClientSessionContext.immediate`): one per service, reused, so such a publication needs no `Routing`.
 */
class Tally implements EnqueueWaiter {
  /** A publication is being routed with it (a nested one makes a `Routing` instead). */
  busy = false;
  refused = 0;
  failed: Failure | undefined;

  begin(): void {
    this.busy = true;
    this.refused = 0;
    this.failed = undefined;
  }

  took(outcome: EnqueueOutcome | undefined, error: unknown): void {
    if (outcome === undefined) this.failed ??= new Failure(error);
    else if (outcome === 'refused') this.refused += 1;
  }
}

export const DEFAULT_MAX_IN_MEMORY_PER_CLIENT = 100;

/** Session expiry interval meaning "never": AMQP_LIST without `x-opt-mqtt-session-expiry`. */
const NEVER_EXPIRES = SESSION_NEVER_EXPIRES;
/** setTimeout's longest delay (about 24.8 days); a later deadline is reached in steps. */
const MAX_TIMER_MS = 0x7fff_ffff;
/** Least delay before a deadline is looked at again (the store's clock may lag the service's by a little). */
const MIN_RECHECK_MS = 50;

export class SubscriptionService {
  readonly #sessions = new Map<string, ClientSession>();
  readonly #index: SubscriptionIndex;
  readonly #sessionStore: SessionStore;
  readonly #retained: RetainedStore;
  readonly #counters = new DeliveryCounters();
  readonly #authorize: SubscriptionAuthorizer | undefined;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #onSessionEnded: (clientId: string) => void;
  /**
   * One timer per disconnected session that expires (never one per connected client); its deadline is in the
   * session store (`disconnectedAt` + interval), so it is set again from there after a restart.
   */
  readonly #expiryTimers = new Map<
    string,
    { session: ClientSession; timer: ReturnType<typeof setTimeout> }
  >();
  #stopped = false;
  readonly #context;
  readonly #dueAnswers = new DueAnswers();
  readonly #tally = new Tally();

  private constructor(options: SubscriptionServiceOptions) {
    this.#sessionStore = options.sessions;
    this.#retained = options.retained;
    this.#authorize = options.authorize;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#onSessionEnded = options.onSessionEnded ?? (() => {});
    const window = options.maxInMemoryPerClient ?? DEFAULT_MAX_IN_MEMORY_PER_CLIENT;
    if (!Number.isInteger(window) || window < 1) {
      throw new RangeError(`maxInMemoryPerClient must be a positive integer: ${window}`);
    }
    const qos0Window = options.maxInMemoryForQos0 ?? window;
    if (!Number.isInteger(qos0Window) || qos0Window < 1) {
      throw new RangeError(`maxInMemoryForQos0 must be a positive integer: ${qos0Window}`);
    }
    this.#index = new SubscriptionIndex((clientId) => this.#sessions.get(clientId)?.connected === true);
    this.#context = {
      store: options.sessions,
      immediate: options.sessions instanceof BackendSessionStore ? options.sessions.immediate : undefined,
      window,
      qos0Window: Math.min(qos0Window, window),
      counters: this.#counters,
      now: this.#now,
      encode: options.encode,
      onError: this.#onError,
      onRoom: options.onRoom ?? (() => {}),
      sentUnsettled: new Map<string, Set<number>>(),
      restarted: new Map<string, RestartedBacklog>(),
    };
  }

  /**
   * Loads the stored sessions (so offline persistent sessions keep receiving into their backlogs). Sessions
   * the store still shows connected (the previous process ended without saying) are marked disconnected now.
   * Sessions that expired meanwhile are removed (`onSessionEnded` is called for each, before this resolves);
   * the others get their expiry timer back, from the deadline in the store. A backlog found non-empty may hold
   * entries the previous process sent: its first window of entries goes out with DUP (see `ClientSession`).
   */
  static async start(options: SubscriptionServiceOptions): Promise<SubscriptionService> {
    const service = new SubscriptionService(options);
    // Sessions whose client was gone longer than their expiry interval while the service was down.
    for (const clientId of await options.sessions.expire()) service.#onSessionEnded(clientId);
    for (const stored of await options.sessions.list()) {
      let disconnectedAt = stored.disconnectedAt;
      if (disconnectedAt === undefined) {
        // Connected when the previous process ended: its client is gone since now.
        disconnectedAt = service.#now();
        await options.sessions.disconnect(stored.clientId, { at: disconnectedAt });
      }
      if (stored.expiryInterval === 0) continue; // ended with its connection
      if ((await options.sessions.backlogSize(stored.clientId)) > 0) {
        service.#context.restarted.set(stored.clientId, { firstNewSeq: undefined, resentUpTo: undefined });
      }
      const session = service.#session(stored.clientId);
      session.expiryInterval = stored.expiryInterval;
      service.#setSubscriptions(session, stored.subscriptions);
      service.#armExpiry(session, disconnectedAt);
    }
    return service;
  }

  /** Stops the expiry timers (stored deadlines stay, for the next start). */
  stop(): void {
    this.#stopped = true;
    for (const { timer } of this.#expiryTimers.values()) clearTimeout(timer);
    this.#expiryTimers.clear();
  }

  stats(): SubscriptionServiceStats {
    let connected = 0;
    for (const session of this.#sessions.values()) if (session.connected) connected += 1;
    const c = this.#counters;
    return {
      sessions: this.#sessions.size,
      connected,
      buffered: c.buffered,
      bufferedHighWater: c.bufferedHighWater,
      droppedNoCredit: c.droppedNoCredit,
      droppedBacklogFull: c.droppedBacklogFull,
      expired: c.expired,
      rejectedByClient: c.rejectedByClient,
      droppedByStore: c.droppedByStore,
    };
  }

  /** Whether the session exists and its client is connected. */
  isConnected(clientId: string): boolean {
    return this.#sessions.get(clientId)?.connected === true;
  }

  /**
   * AMQP_LIST: resumes the client's session unless it expired (or starts an empty one) and returns its
   * subscriptions for AMQP_SUBSCRIPTIONS. Call `ready` once that reply is sent: only then does the backlog flow.
   * `expiryInterval`: seconds the session outlives the connection (MQTT 5); default never (3.1.1).
   */
  async list(
    clientId: string,
    expiryInterval: number = NEVER_EXPIRES,
  ): Promise<ReadonlyMap<string, SessionSubscription>> {
    this.#cancelExpiry(clientId);
    const { session: stored, present } = await this.#sessionStore.open(clientId, {
      clean: false,
      expiryInterval,
    });
    const session = this.#takeOver(clientId, !present);
    session.expiryInterval = expiryInterval;
    this.#setSubscriptions(session, present ? stored.subscriptions : new Map());
    return new Map(session.subscriptions);
  }

  /**
   * AMQP_CLOSE: drops any previous session and starts a clean one, which ends when the client disconnects, or
   * `expiryInterval` seconds later (MQTT 5 clean start with a session expiry interval).
   */
  async close(clientId: string, expiryInterval = 0): Promise<void> {
    this.#cancelExpiry(clientId);
    await this.#sessionStore.open(clientId, { clean: true, expiryInterval });
    const session = this.#takeOver(clientId, true);
    session.expiryInterval = expiryInterval;
    this.#setSubscriptions(session, new Map());
    session.activate();
  }

  /**
   * AMQP_SESSION_EXPIRY: the session expiry interval in force from now on (an MQTT 5 DISCONNECT changed it);
   * the one in force when the client goes decides how long the session outlives it. False when the client has
   * no session.
   */
  setExpiry(clientId: string, expiryInterval: number): boolean {
    const session = this.#sessions.get(clientId);
    if (session === undefined) return false;
    session.expiryInterval = expiryInterval;
    return true;
  }

  /** The session's expiry interval, seconds; undefined when the client has no session. */
  expiryOf(clientId: string): number | undefined {
    return this.#sessions.get(clientId)?.expiryInterval;
  }

  /** The reply to AMQP_LIST went out: the session's backlog may flow. */
  ready(clientId: string): void {
    this.#sessions.get(clientId)?.activate();
  }

  /**
   * AMQP_SUBSCRIBE: adds or replaces the subscriptions, then queues the matching retained messages for this
   * client (per each subscription's retain handling; never for shared subscriptions).
   */
  async subscribe(
    clientId: string,
    subscriptions: ReadonlyArray<{ readonly filter: string } & SessionSubscription>,
  ): Promise<SubscribeOutcome> {
    const session = this.#sessions.get(clientId);
    if (session === undefined) {
      return { ok: false, condition: 'amqp:not-found', description: `no session for client '${clientId}'` };
    }
    for (const { filter } of subscriptions) {
      const parsed = parseSubscriptionFilter(filter, 5);
      if (!parsed.ok) return { ok: false, condition: 'amqp:invalid-field', description: parsed.reason };
      if (this.#authorize !== undefined && !this.#authorize(clientId, filter)) {
        return {
          ok: false,
          condition: 'amqp:unauthorized-access',
          description: `client '${clientId}' may not subscribe to '${filter}'`,
        };
      }
    }
    const entries = subscriptions.map(({ filter, ...subscription }) => [filter, subscription] as const);
    try {
      if (!(await this.#sessionStore.subscribe(clientId, entries))) {
        return { ok: false, condition: 'amqp:not-found', description: `no session for client '${clientId}'` };
      }
    } catch (error) {
      if (error instanceof StoreLimitError) {
        return { ok: false, condition: 'amqp:resource-limit-exceeded', description: error.message };
      }
      throw error;
    }
    const retainedFor: Array<{ subscription: SessionSubscription; messages: MqttMessage[] }> = [];
    for (const [filter, subscription] of entries) {
      const isNew = !session.subscriptions.has(filter);
      const handling = subscription.retainHandling ?? 0;
      const shared = splitShared(filter).group !== undefined;
      if (shared || handling === 2 || (handling === 1 && !isNew)) continue;
      retainedFor.push({ subscription, messages: await this.#retained.match(filter) });
    }
    if (this.#sessions.get(clientId) !== session) return { ok: true }; // taken over meanwhile
    for (const [filter, subscription] of entries) {
      session.setSubscription(filter, subscription);
      this.#index.add(clientId, filter, subscription);
    }
    const now = this.#now();
    for (const { subscription, messages } of retainedFor) {
      for (const message of messages) {
        const delivery = forSubscriber(
          message,
          minQoS(message.qos, subscription.qos),
          true,
          identifiers(subscription),
        );
        this.#deliver(session, delivery, expiryOf(message, now))?.catch((error: unknown) =>
          this.#onError(error),
        );
      }
    }
    return { ok: true };
  }

  /** AMQP_UNSUBSCRIBE: removes the subscriptions (absent filters are no error). */
  async unsubscribe(clientId: string, filters: readonly string[]): Promise<void> {
    const session = this.#sessions.get(clientId);
    if (session === undefined) return;
    await this.#sessionStore.unsubscribe(clientId, filters);
    for (const filter of filters) {
      if (session.deleteSubscription(filter)) this.#index.remove(clientId, filter);
    }
  }

  /**
   * AMQP_PUBREL for the client's QoS 2 delivery whose message-id is `packetId`: marks it released, durably
   * (accept the AMQP_PUBREL once this resolves). Its PUBREL is then owed to the client until the FE settles
   * the delivery on PUBCOMP; should it come back unsettled, the next publish link gets a PUBREL request
   * instead of the message. False when no such delivery is in flight (nothing to do; accept all the same).
   */
  release(clientId: string, packetId: number): Promise<boolean> {
    const session = this.#sessions.get(clientId);
    return session === undefined ? Promise.resolve(false) : session.release(packetId);
  }

  /** The client's publish link attached. Returns false when the client has no session (yet). */
  attach(clientId: string, outlet: Outlet): boolean {
    const session = this.#sessions.get(clientId);
    if (session === undefined) return false;
    session.attach(outlet);
    return true;
  }

  /** The outlet got credit: send what waits. */
  flow(clientId: string, outlet: Outlet): void {
    const session = this.#sessions.get(clientId);
    if (session?.isAttached(outlet)) session.pump();
  }

  /**
   * The client's publish link went away: the client is gone. A session with an expiry interval stays (its QoS
   * 1/2 messages queue in the store) until the interval passes; one with interval 0 ends now. Ignored for an
   * outlet that is no longer the session's.
   */
  async detach(clientId: string, outlet: Outlet): Promise<void> {
    const session = this.#sessions.get(clientId);
    if (session === undefined || !session.detach(outlet)) return;
    await this.#ended(session);
  }

  /** The client is gone without its publish link saying so (its connection closed). */
  async disconnect(clientId: string): Promise<void> {
    const session = this.#sessions.get(clientId);
    if (session === undefined) return;
    session.goOffline();
    await this.#ended(session);
  }

  async #ended(session: ClientSession): Promise<void> {
    const expiryInterval = session.expiryInterval;
    if (expiryInterval > 0) {
      const at = this.#now();
      await this.#sessionStore.disconnect(session.clientId, { at, expiryInterval });
      // Resumed or taken over meanwhile: the newer session decides.
      if (this.#isOffline(session)) this.#armExpiry(session, at);
      return;
    }
    this.#drop(session);
    await session.idle();
    if (this.#sessions.get(session.clientId) === undefined) {
      this.#forgetSent(session.clientId);
      await this.#sessionStore.delete(session.clientId);
      this.#onSessionEnded(session.clientId);
    }
  }

  /**
   * Ends the offline session at `disconnectedAt` + its interval, looked at no sooner than `minDelayMs` from now
   * (nothing for a session that never expires). A deadline beyond setTimeout's reach is reached in steps.
   */
  #armExpiry(session: ClientSession, disconnectedAt: number, minDelayMs = 0): void {
    this.#cancelExpiry(session.clientId);
    if (this.#stopped || session.expiryInterval === NEVER_EXPIRES) return;
    const deadline = disconnectedAt + session.expiryInterval * 1000;
    const delay = Math.min(MAX_TIMER_MS, Math.max(minDelayMs, deadline - this.#now()));
    const timer = setTimeout(() => {
      if (this.#expiryTimers.get(session.clientId)?.timer !== timer) return;
      this.#expiryTimers.delete(session.clientId);
      if (!this.#isOffline(session)) return;
      if (this.#now() < deadline) this.#armExpiry(session, disconnectedAt);
      else this.#expire(session, disconnectedAt).catch((error: unknown) => this.#onError(error));
    }, delay);
    timer.unref?.();
    this.#expiryTimers.set(session.clientId, { session, timer });
  }

  /** The deadline passed: the store removes the session (if it is still the expired one), then memory does. */
  async #expire(session: ClientSession, disconnectedAt: number): Promise<void> {
    const removed = await this.#sessionStore.expire(session.clientId);
    if (!this.#isOffline(session)) return;
    if (removed.length === 0 && (await this.#sessionStore.get(session.clientId)) !== undefined) {
      // Not expired by the store's clock yet: look again shortly.
      if (this.#isOffline(session)) this.#armExpiry(session, disconnectedAt, MIN_RECHECK_MS);
      return;
    }
    this.#drop(session);
    this.#forgetSent(session.clientId);
    this.#onSessionEnded(session.clientId);
  }

  /**
   * The client's backlog is gone or started afresh (its seqs from 1 again): what was sent of the old one, in this
   * process or a previous one, no longer says anything.
   */
  #forgetSent(clientId: string): void {
    this.#context.sentUnsettled.delete(clientId);
    this.#context.restarted.delete(clientId);
  }

  /** Still the client's session, and its client is not connected. */
  #isOffline(session: ClientSession): boolean {
    return this.#sessions.get(session.clientId) === session && !session.connected;
  }

  #cancelExpiry(clientId: string): void {
    const armed = this.#expiryTimers.get(clientId);
    if (armed === undefined) return;
    clearTimeout(armed.timer);
    this.#expiryTimers.delete(clientId);
  }

  /**
   * Publishes a message: replaces (or, with an empty payload, deletes) the topic's retained message when the
   * retain flag is set, then routes it. Resolves once every matching session has taken it (stored in its
   * backlog, or handed to its link for QoS 0) or dropped it by policy.
   */
  publish(message: MqttMessage, publisherId: string | undefined): Promise<PublishOutcome> {
    return new Promise((resolve, reject) => {
      this.publishThen(message, publisherId, (outcome, error) => {
        if (outcome === undefined) reject(error);
        else resolve(outcome);
      });
    });
  }

  /**
   * `publish` with a callback instead of a promise (every routed message comes here): `done` gets the outcome
   * once every matching session has taken the message, or undefined and the first store error. Never called
   * synchronously.
   */
  publishThen(message: MqttMessage, publisherId: string | undefined, done: PublishDone): void {
    if (!message.retain && this.#context.immediate !== undefined && !this.#tally.busy) {
      this.#publishAtOnce(message, publisherId, done);
      return;
    }
    // Everything is started before anything is awaited, so publications are routed in the order they come
    // (a retained one is not overtaken by the next while its store write is under way).
    const routing = new Routing(done, this.#dueAnswers);
    if (message.retain) {
      routing.wait();
      this.#retained.set(message).then(
        () => routing.took('stored', undefined),
        // Too large or too many: the message is still routed, just not retained.
        (error: unknown) => {
          this.#onError(error);
          routing.took('stored', undefined);
        },
      );
    }
    const now = this.#now();
    const expiresAt = expiryOf(message, now);
    for (const match of this.#index.match(message.topic, publisherId)) {
      const session = this.#sessions.get(match.clientId);
      if (session === undefined) continue;
      routing.sessions += 1;
      const qos = minQoS(message.qos, match.qos);
      const delivery = forSubscriber(
        message,
        qos,
        match.retainAsPublished && message.retain,
        match.subscriptionIdentifiers,
      );
      if (qos > 0 || !session.ready) {
        routing.wait();
        session.enqueueDurableThen(delivery, expiresAt, routing);
      } else session.offerVolatile(delivery, expiresAt);
    }
    routing.started();
  }

  /**
   * `publishThen` when every write it makes is answered within the call (an immediate store, no retained
   * message): the answer is known at the end, and given in a microtask without a `Routing` per message.
   */
  #publishAtOnce(message: MqttMessage, publisherId: string | undefined, done: PublishDone): void {
    const tally = this.#tally;
    tally.begin();
    let sessions = 0;
    try {
      const now = this.#now();
      const expiresAt = expiryOf(message, now);
      for (const match of this.#index.match(message.topic, publisherId)) {
        const session = this.#sessions.get(match.clientId);
        if (session === undefined) continue;
        sessions += 1;
        const qos = minQoS(message.qos, match.qos);
        const delivery = forSubscriber(message, qos, false, match.subscriptionIdentifiers);
        if (qos > 0 || !session.ready) session.enqueueDurableThen(delivery, expiresAt, tally);
        else session.offerVolatile(delivery, expiresAt);
      }
    } finally {
      tally.busy = false;
    }
    this.#dueAnswers.addAnswer(done, tally.failed ?? outcomeOf(sessions, tally.refused));
  }

  /**
   * Whether every connected session `publish` would now give a copy of `message` has room for it: for a QoS
   * 1/2 copy `ClientSession.hasRoom`, for a QoS 0 one `hasRoomForVolatile`. Offline sessions always have room:
   * their backlog policy applies. Publishing right after a true answer (in the same tick) reaches the same
   * sessions.
   */
  hasRoomFor(message: MqttMessage, publisherId: string | undefined): boolean {
    for (const match of this.#index.match(message.topic, publisherId, false)) {
      const session = this.#sessions.get(match.clientId);
      if (session === undefined) continue;
      const room = message.qos === 0 || match.qos === 0 ? session.hasRoomForVolatile() : session.hasRoom();
      if (!room) return false;
    }
    return true;
  }

  /** Resolves once every session's store operations so far are done (for orderly shutdown and tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.#sessions.values()].map((s) => s.idle()));
  }

  #deliver(
    session: ClientSession,
    message: MqttMessage,
    expiresAt: number | undefined,
  ): Promise<EnqueueOutcome> | undefined {
    if (message.qos > 0 || !session.ready) return session.enqueueDurable(message, expiresAt);
    session.queueVolatile(message, expiresAt);
    return undefined;
  }

  #session(clientId: string): ClientSession {
    let session = this.#sessions.get(clientId);
    if (session === undefined) {
      session = new ClientSession(clientId, this.#context);
      this.#sessions.set(clientId, session);
    }
    return session;
  }

  /**
   * A new connection of this client: any previous connection's link no longer receives for it. `fresh`: the store
   * started the client's backlog afresh (clean start, or the session was gone).
   */
  #takeOver(clientId: string, fresh: boolean): ClientSession {
    const previous = this.#sessions.get(clientId);
    if (previous !== undefined) this.#drop(previous);
    // After the drop, which remembers what the previous session had in flight: of the old backlog.
    if (fresh) this.#forgetSent(clientId);
    const session = new ClientSession(clientId, this.#context);
    this.#sessions.set(clientId, session);
    // Messages routed to the previous session may reach the store after the new one first read it (it would
    // then take the backlog as read to its end and never load them): read it again once they are written.
    if (previous?.writing === true) void previous.idle().then(() => session.storeGrew());
    return session;
  }

  #drop(session: ClientSession): void {
    if (this.#expiryTimers.get(session.clientId)?.session === session) this.#cancelExpiry(session.clientId);
    session.deactivate();
    for (const filter of session.subscriptions.keys()) this.#index.remove(session.clientId, filter);
    session.clearSubscriptions();
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
  }

  #setSubscriptions(session: ClientSession, subscriptions: ReadonlyMap<string, SessionSubscription>): void {
    for (const [filter, subscription] of subscriptions) {
      session.setSubscription(filter, subscription);
      this.#index.add(session.clientId, filter, subscription);
    }
  }
}

function minQoS(a: QoS, b: QoS): QoS {
  return a < b ? a : b;
}

function identifiers(subscription: SessionSubscription): number[] {
  return subscription.subscriptionIdentifier === undefined ? [] : [subscription.subscriptionIdentifier];
}

/** The copy of `message` one subscriber gets. */
function forSubscriber(
  message: MqttMessage,
  qos: QoS,
  retain: boolean,
  subscriptionIds: readonly number[],
): MqttMessage {
  const copy: MqttMessage = { topic: message.topic, payload: message.payload, qos, retain };
  const given = message.properties;
  if (given === undefined && subscriptionIds.length === 0) return copy; // MQTT 3.1.1: nothing to carry
  // The publisher's subscription identifiers (if any) are not the subscriber's.
  const { subscriptionIdentifier: _theirs, ...rest } = given ?? {};
  const properties: MessageProperties = rest;
  if (subscriptionIds.length === 1) properties.subscriptionIdentifier = subscriptionIds[0] as number;
  else if (subscriptionIds.length > 1) properties.subscriptionIdentifier = [...subscriptionIds];
  copy.properties = properties;
  return copy;
}

/** Epoch ms the message expires at, from its MQTT 5 message expiry interval. */
function expiryOf(message: MqttMessage, now: number): number | undefined {
  const interval = message.properties?.messageExpiryInterval;
  return interval === undefined ? undefined : now + interval * 1000;
}

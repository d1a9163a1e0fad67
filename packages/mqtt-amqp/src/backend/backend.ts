/**
 * The embedded backend: one AMQP listener hosting the Will service, the Subscription service and the routing
 * of topic addresses, so that gateway front ends (and plain AMQP clients) need nothing else.
 *
 * Everything goes through AMQP links, as it would on an external AMQP network:
 * - `$mqtt.willservice` (peer sender, link name = client id): AMQP_WILL / AMQP_WILL_CLEAR; its detach decides;
 * - `$mqtt.subscriptionservice` (peer sender): AMQP_LIST / AMQP_CLOSE / AMQP_SUBSCRIBE / AMQP_UNSUBSCRIBE;
 * - `$mqtt.to.<id>.control` and `$mqtt.to.<id>.publish` (peer receivers): replies and deliveries;
 * - `$mqtt.<id>.pubrel` (peer sender): AMQP_PUBREL, and AMQP_PUBLISH_RELEASED (mapping/publish-released.ts);
 * - any other address: a topic. A peer sender publishes on it (an anonymous link publishes on each message's
 *   `to`); a peer receiver subscribes to it, the address read as an MQTT topic filter (wildcards included).
 */
import { EventEmitter } from 'node:events';
import {
  type AddressInfo,
  type AmqpConnection,
  type AmqpErrorInit,
  type AmqpListener,
  type AmqpMessage,
  type Delivery,
  type IncomingLink,
  listen,
  type Receiver,
  TimeoutError,
} from '@dragoman/amqp';
import { validateTopicFilter, validateTopicName } from '@dragoman/mqtt';
import { createAddresses } from '../addresses';
import { ConfigurationError, MappingError, StoreLimitError } from '../errors';
import { releasesExplicitly } from '../mapping/publish';
import { decodePublishReleased, isPublishReleased, packetIdOf } from '../mapping/publish-released';
import type { PendingDelivery } from '../services/client-session';
import { Serial } from '../services/serial';
import { type PublishDone, type PublishOutcome, SubscriptionService } from '../services/subscription-service';
import { WillService } from '../services/will-service';
import { createMemoryStores, type GroupedResult, type StoresQos2, storesQos2Of } from '../store';
import { createMemoryQos2Store, type Qos2Entry, type Qos2Store } from '../store/qos2-store';
import type { Addresses, DecodedControl, DecodedPublish, MqttMessage, Stores } from '../types';
import { type BackendCodec, createCodec } from './codec';
import { ControlLinks } from './control-links';
import { NativeReceivers } from './native-receivers';
import { type ExactlyOnceKey, type Publication, PublisherLink } from './publisher-link';
import { SenderOutlet } from './sender-outlet';
import type { BackendEvents, BackendOptions, BackendStats } from './types';
import {
  DEFAULT_MAX_UNRELEASED_QOS2,
  DEFAULT_MAX_UNRELEASED_QOS2_PER_CLIENT,
  fingerprintOf,
  type UnreleasedEntry,
  UnreleasedQos2,
} from './unreleased-qos2';

/** Link property (on the attach) or message annotation naming the MQTT client that publishes, for no-local. */
export const PUBLISHER_ID_KEY = 'x-opt-mqtt-client-id';
/** Error-info key of a refused AMQP_SUBSCRIBE carrying the MQTT reason code for the SUBACK. */
export const REASON_CODE_INFO_KEY = 'reason-code';
/**
 * Error-info key of a publication refused with `amqp:resource-limit-exceeded` because of a store limit the message
 * itself breaks (`retained`, `payload`): sending it again will not help (the front end answers accordingly).
 */
export const LIMIT_INFO_KEY = 'limit';

export const DEFAULT_PUBLISH_CREDIT_WINDOW = 100;
export const DEFAULT_MAX_QUEUED_PER_NATIVE_RECEIVER = 100;
export const DEFAULT_CONTROL_REPLY_TIMEOUT_MS = 10_000;
export const DEFAULT_REFUSED_SUBSCRIPTION_REASON_CODE = 0x80;
export const DEFAULT_SLOW_SUBSCRIBER_TIMEOUT_MS = 60_000;
/** How often held publisher links are looked at again without an event (and their time-outs checked). */
const HELD_CHECK_INTERVAL_MS = 500;

const CONTROL_CREDIT_WINDOW = 10;
/**
 * Subscription-service requests in progress per request link. The bridge shares one such link among all the
 * clients of an AMQP connection, so this bounds how many of their CONNECT/SUBSCRIBE steps run at once.
 */
const REQUEST_CREDIT_WINDOW = 100;

/** A running embedded backend. Create it with `createBackend`. */
export class Backend extends EventEmitter<BackendEvents> {
  readonly #listener: AmqpListener;
  readonly #stores: Stores;
  readonly #ownStores: boolean;
  readonly #addresses: Addresses;
  readonly #subscriptions: SubscriptionService;
  readonly #wills: WillService;
  readonly #native: NativeReceivers;
  readonly #controls = new ControlLinks();
  /** The connection each client's session belongs to (the one its AMQP_LIST / AMQP_CLOSE came on). */
  readonly #owners = new Map<string, AmqpConnection>();
  readonly #ownedBy = new WeakMap<AmqpConnection, Set<string>>();
  /** Each client's latest publish link and the connection it came on. */
  readonly #publishLinks = new Map<string, { outlet: SenderOutlet; connection: AmqpConnection }>();
  /** Requests of one client run in order. */
  readonly #requestQueues = new Map<string, Serial>();
  readonly #options: BackendOptions;
  readonly #codec: BackendCodec;
  readonly #routeMessage: (message: MqttMessage, publisherId: string | undefined, done: PublishDone) => void;
  readonly #publishedCount: () => number;
  #malformed = 0;
  #closing: Promise<void> | undefined;
  /** Every link a peer publishes on. */
  readonly #publisherLinks = new Set<PublisherLink>();
  /** The publisher links that may be held (a publication waits for room): the ones a room event looks at. */
  readonly #heldLinks = new Set<PublisherLink>();
  readonly #holdBack: boolean;
  readonly #slowSubscriberTimeoutMs: number;
  #rejectedSlowSubscriber = 0;
  /** QoS 2 publications routed and not released yet, per client (DUP re-sends of them are not routed). */
  readonly #unreleased: UnreleasedQos2;
  readonly #qos2Store: Qos2Store;
  readonly #ownQos2Store: boolean;
  /** Set when the QoS 2 memory is in the stores' environment: a routing and its remember commit together. */
  readonly #durableQos2: StoresQos2 | undefined;
  #duplicatesNotRouted = 0;
  #rejectedRetained = 0;
  #resumeScheduled = false;
  #heldTimer: NodeJS.Timeout | undefined;

  /** @internal Use `createBackend`. */
  constructor(parts: {
    listener: AmqpListener;
    stores: Stores;
    ownStores: boolean;
    addresses: Addresses;
    subscriptions: SubscriptionService;
    wills: WillService;
    native: NativeReceivers;
    codec: BackendCodec;
    route: (message: MqttMessage, publisherId: string | undefined, done: PublishDone) => void;
    /** Publications routed so far (wills included). */
    published: () => number;
    /** Registers what to call when a subscriber may have room again. */
    onRoom: (listener: () => void) => void;
    unreleased: UnreleasedQos2;
    qos2Store: Qos2Store;
    ownQos2Store: boolean;
    durableQos2: StoresQos2 | undefined;
    options: BackendOptions;
  }) {
    super();
    this.#listener = parts.listener;
    this.#stores = parts.stores;
    this.#ownStores = parts.ownStores;
    this.#addresses = parts.addresses;
    this.#subscriptions = parts.subscriptions;
    this.#wills = parts.wills;
    this.#native = parts.native;
    this.#routeMessage = parts.route;
    this.#publishedCount = parts.published;
    this.#options = parts.options;
    this.#codec = parts.codec;
    this.#unreleased = parts.unreleased;
    this.#qos2Store = parts.qos2Store;
    this.#ownQos2Store = parts.ownQos2Store;
    this.#durableQos2 = parts.durableQos2;
    this.#holdBack = (parts.options.slowSubscriberPolicy ?? 'backpressure') === 'backpressure';
    this.#slowSubscriberTimeoutMs =
      parts.options.slowSubscriberTimeoutMs ?? DEFAULT_SLOW_SUBSCRIBER_TIMEOUT_MS;
    parts.onRoom(() => this.#scheduleResume());
    this.#listener.on('connection', (connection) => this.#onConnection(connection));
    this.#listener.on('error', (error) => this.#fail(error));
  }

  /** The bound address (port 0 resolved to the real port). */
  get address(): AddressInfo {
    return this.#listener.address();
  }

  get port(): number {
    return this.#listener.address().port;
  }

  /** `amqp://host:port` (or `amqps://…`) of the listener. */
  get url(): string {
    return this.#listener.url;
  }

  /** The well-known addresses in use. */
  get addresses(): Addresses {
    return this.#addresses;
  }

  stats(): BackendStats {
    let waitingPublications = 0;
    let heldPublisherLinks = 0;
    for (const link of this.#publisherLinks) {
      waitingPublications += link.waiting;
      if (link.held) heldPublisherLinks += 1;
    }
    return {
      connections: this.#listener.connections.size,
      subscriptions: this.#subscriptions.stats(),
      wills: this.#wills.stats(),
      nativeReceivers: this.#native.size,
      nativeQueued: this.#native.queued,
      nativeDropped: this.#native.dropped,
      published: this.#publishedCount(),
      malformed: this.#malformed,
      waitingPublications,
      heldPublisherLinks,
      rejectedSlowSubscriber: this.#rejectedSlowSubscriber,
      unreleasedQos2: this.#unreleased.size,
      unreleasedQos2Evicted: this.#unreleased.evicted,
      duplicatesNotRouted: this.#duplicatesNotRouted,
      rejectedRetained: this.#rejectedRetained,
    };
  }

  /**
   * Publishes a message from the host application, as if an MQTT client with id `publisherId` had (retained
   * when `message.retain`). Resolves once every matching subscriber has taken it.
   */
  publish(message: MqttMessage, publisherId?: string): Promise<PublishOutcome> {
    return this.#route(message, publisherId);
  }

  /**
   * Stops: closes every connection (`amqp:connection:forced`), stops will timers (stored wills stay stored
   * for the next start) and closes the stores if the backend made them. Safe to call more than once.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopHeldTimer();
      this.#wills.close();
      this.#subscriptions.stop();
      this.#controls.close(new Error('backend closing'));
      await this.#listener.close();
      await this.#subscriptions.idle();
      if (this.#ownStores) await this.#stores.close();
      if (this.#ownQos2Store) await this.#qos2Store.close();
    })();
    return this.#closing;
  }

  #route(message: MqttMessage, publisherId: string | undefined): Promise<PublishOutcome> {
    return new Promise((resolve, reject) => {
      this.#routeMessage(message, publisherId, (outcome, error) => {
        if (outcome === undefined) reject(error);
        else resolve(outcome);
      });
    });
  }

  /** `#route` with a callback (see `SubscriptionService.publishThen`). */
  #routeThen(message: MqttMessage, publisherId: string | undefined, done: PublishDone): void {
    this.#routeMessage(message, publisherId, done);
  }

  #fail(error: unknown): void {
    if (this.listenerCount('error') === 0) return;
    this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  #onConnection(connection: AmqpConnection): void {
    connection.on('close', () => this.#onConnectionClosed(connection));
    connection.on('incomingLink', (link) => {
      try {
        this.#onIncomingLink(connection, link);
      } catch (error) {
        link.refuse({ condition: 'amqp:internal-error', description: String(error) });
        this.#fail(error);
      }
    });
  }

  /** Clients whose session this connection held are gone. */
  #onConnectionClosed(connection: AmqpConnection): void {
    const clients = this.#ownedBy.get(connection);
    if (clients === undefined || this.#closing !== undefined) return;
    for (const clientId of clients) {
      if (this.#owners.get(clientId) !== connection) continue;
      this.#owners.delete(clientId);
      void this.#runRequest(clientId, () => this.#subscriptions.disconnect(clientId)).catch(
        (error: unknown) => this.#fail(error),
      );
    }
    this.#ownedBy.delete(connection);
  }

  #own(clientId: string, connection: AmqpConnection): void {
    const previous = this.#owners.get(clientId);
    if (previous === connection) return;
    if (previous !== undefined) this.#ownedBy.get(previous)?.delete(clientId);
    this.#owners.set(clientId, connection);
    let clients = this.#ownedBy.get(connection);
    if (clients === undefined) {
      clients = new Set();
      this.#ownedBy.set(connection, clients);
    }
    clients.add(clientId);
  }

  #onIncomingLink(connection: AmqpConnection, link: IncomingLink): void {
    if (this.#closing !== undefined) {
      link.refuse({ condition: 'amqp:connection:forced', description: 'backend closing' });
    } else if (link.role === 'receiver') {
      this.#onPeerSender(connection, link);
    } else {
      this.#onPeerReceiver(connection, link);
    }
  }

  /** A peer attached a sending link: we receive on it. */
  #onPeerSender(connection: AmqpConnection, link: IncomingLink): void {
    const address = link.address;
    const a = this.#addresses;
    const pubrelClient = address === undefined ? undefined : a.clientIdFrom('pubrel', address);
    if (address === a.willService) this.#onWillLink(connection, link);
    else if (address === a.subscriptionService) this.#onRequestLink(connection, link);
    else if (pubrelClient !== undefined) this.#onPubrelLink(link, pubrelClient);
    else if (address !== undefined && this.#isServiceAddress(address)) {
      link.refuse({ condition: 'amqp:not-allowed', description: `cannot send to '${address}'` });
    } else this.#onTopicPublisher(link);
  }

  /** A peer attached a receiving link: we send on it. */
  #onPeerReceiver(connection: AmqpConnection, link: IncomingLink): void {
    const address = link.address;
    const a = this.#addresses;
    if (address === undefined) {
      link.refuse({
        condition: 'amqp:invalid-field',
        description: 'a receiving link needs a source address',
      });
      return;
    }
    const publishClient = a.clientIdFrom('publish', address);
    if (publishClient !== undefined) this.#onPublishLink(connection, link, publishClient);
    else if (a.clientIdFrom('control', address) !== undefined) this.#onControlLink(link, address);
    else if (this.#isServiceAddress(address)) {
      link.refuse({ condition: 'amqp:not-allowed', description: `cannot receive from '${address}'` });
    } else this.#onTopicReceiver(link, address);
  }

  #isServiceAddress(address: string): boolean {
    const a = this.#addresses;
    return (
      address === a.willService ||
      address === a.subscriptionService ||
      a.clientIdFrom('control', address) !== undefined ||
      a.clientIdFrom('publish', address) !== undefined ||
      a.clientIdFrom('pubrel', address) !== undefined
    );
  }

  // --- Will service -------------------------------------------------------------------------------------

  #onWillLink(connection: AmqpConnection, link: IncomingLink): void {
    const clientId = link.name;
    const receiver = link.acceptReceiver({
      creditWindow: CONTROL_CREDIT_WINDOW,
      maxMessageSize: this.#options.maxMessageSize,
    });
    const token = {};
    const serial = new Serial();
    this.#wills.linkAttached(clientId, token);
    receiver.on('delivery', (delivery) => {
      serial
        .run(() => this.#onWillDelivery(clientId, token, delivery))
        .catch((error: unknown) => this.#fail(error));
    });
    receiver.on('close', (info) => {
      if (this.#closing !== undefined) return;
      // Detached with an error, or gone with its connection: abrupt. A detach without error: clean.
      const abrupt = info.error !== undefined || connection.state !== 'open';
      void serial.idle().then(() => this.#wills.linkDetached(clientId, token, abrupt));
    });
  }

  async #onWillDelivery(clientId: string, token: object, delivery: Delivery): Promise<void> {
    const control = this.#decode(delivery);
    if (control === undefined) return;
    try {
      if (control.subject === 'will') {
        await this.#wills.setWill(clientId, token, control.will.message, control.will.delayInterval);
      } else if (control.subject === 'will-clear') {
        await this.#wills.clearWill(clientId);
      } else {
        this.#malformed += 1;
        delivery.reject({
          condition: 'amqp:not-implemented',
          description: `'${control.subject}' is not for the will service`,
        });
        return;
      }
      delivery.accept();
    } catch (error) {
      // The link may be gone by now (the client left): nothing to settle, the peer redelivers if it must.
      if (delivery.settleable) delivery.reject(this.#errorFor(error));
    }
  }

  // --- Subscription service ----------------------------------------------------------------------------

  #onRequestLink(connection: AmqpConnection, link: IncomingLink): void {
    const receiver = link.acceptReceiver({
      creditWindow: REQUEST_CREDIT_WINDOW,
      maxMessageSize: this.#options.maxMessageSize,
    });
    receiver.on('delivery', (delivery) => {
      const request = this.#decode(delivery);
      if (request === undefined) return;
      const clientId = clientOf(request);
      if (clientId === undefined) {
        this.#malformed += 1;
        delivery.reject({
          condition: 'amqp:not-implemented',
          description: `'${request.subject}' is not for the subscription service`,
        });
        return;
      }
      void this.#runRequest(clientId, () => this.#onRequest(connection, clientId, request, delivery)).catch(
        (error: unknown) => {
          if (delivery.settleable) delivery.reject(this.#errorFor(error));
        },
      );
    });
  }

  /** Runs one request of `clientId` after the ones before it; the queue is forgotten once empty. */
  #runRequest(clientId: string, task: () => Promise<void>): Promise<void> {
    let serial = this.#requestQueues.get(clientId);
    if (serial === undefined) {
      serial = new Serial();
      this.#requestQueues.set(clientId, serial);
    }
    const queue = serial;
    return queue.run(task).finally(() => {
      if (queue.pending === 0 && this.#requestQueues.get(clientId) === queue)
        this.#requestQueues.delete(clientId);
    });
  }

  async #onRequest(
    connection: AmqpConnection,
    clientId: string,
    request: DecodedControl,
    delivery: Delivery,
  ): Promise<void> {
    switch (request.subject) {
      case 'list': {
        this.#wills.sessionResumed(clientId);
        const subscriptions = await this.#subscriptions.list(clientId, request.list.expiryInterval);
        this.#own(clientId, connection);
        const replyTo =
          request.list.replyTo !== '' ? request.list.replyTo : this.#addresses.control(clientId);
        const timeout = this.#options.controlReplyTimeoutMs ?? DEFAULT_CONTROL_REPLY_TIMEOUT_MS;
        const control = await this.#controls.get(replyTo, timeout);
        // Sent and accepted before the backlog may flow: AMQP_SUBSCRIPTIONS comes first.
        const outcome = await control.send(this.#codec.encodeSubscriptions(subscriptions));
        if (outcome.state !== 'accepted' && outcome.state !== 'sent') {
          delivery.reject({
            condition: 'amqp:precondition-failed',
            description: `the subscriptions reply was ${outcome.state}`,
          });
          return;
        }
        this.#subscriptions.ready(clientId);
        this.#attachPublishLink(clientId, connection);
        delivery.accept();
        return;
      }
      case 'close':
        this.#wills.sessionEnded(clientId);
        // A clean session starts: what the client had not released belongs to the session it drops.
        this.#unreleased.clear(clientId);
        await this.#subscriptions.close(clientId, request.close.expiryInterval);
        this.#own(clientId, connection);
        this.#attachPublishLink(clientId, connection);
        delivery.accept();
        return;
      case 'subscribe': {
        const outcome = await this.#subscriptions.subscribe(clientId, request.subscribe.subscriptions);
        if (outcome.ok) {
          delivery.accept();
          return;
        }
        delivery.reject({
          condition: outcome.condition,
          description: outcome.description,
          info: { [REASON_CODE_INFO_KEY]: this.#reasonCodeFor(outcome.condition) },
        });
        return;
      }
      case 'unsubscribe':
        await this.#subscriptions.unsubscribe(clientId, request.unsubscribe.filters);
        delivery.accept();
        return;
      case 'session-expiry':
        // An MQTT 5 DISCONNECT changed the interval: the one in force when the client goes decides.
        this.#subscriptions.setExpiry(clientId, request.sessionExpiry.expiryInterval);
        delivery.accept();
        return;
      default:
        delivery.reject({
          condition: 'amqp:not-implemented',
          description: `unexpected '${request.subject}'`,
        });
    }
  }

  #reasonCodeFor(condition: string): number {
    switch (condition) {
      case 'amqp:invalid-field':
        return 0x8f; // topic filter invalid
      case 'amqp:resource-limit-exceeded':
        return 0x97; // quota exceeded
      case 'amqp:unauthorized-access':
        return this.#options.refusedSubscriptionReasonCode ?? DEFAULT_REFUSED_SUBSCRIPTION_REASON_CODE;
      default:
        return 0x80;
    }
  }

  #onPubrelLink(link: IncomingLink, clientId: string): void {
    const receiver = link.acceptReceiver({
      creditWindow: CONTROL_CREDIT_WINDOW,
      maxMessageSize: this.#options.maxMessageSize,
    });
    receiver.on('delivery', (delivery) => {
      if (isPublishReleased(delivery.message)) {
        this.#onPublishReleased(clientId, delivery);
        return;
      }
      const control = this.#decode(delivery);
      if (control === undefined) return;
      if (control.subject !== 'pubrel') {
        this.#malformed += 1;
        delivery.reject({
          condition: 'amqp:not-implemented',
          description: `'${control.subject}' is not a pubrel`,
        });
        return;
      }
      const seq = Number(control.pubrel.messageId instanceof Buffer ? Number.NaN : control.pubrel.messageId);
      if (!Number.isSafeInteger(seq)) {
        // Not one of ours (or already released): nothing is pending under it.
        delivery.accept();
        return;
      }
      this.#subscriptions.release(clientId, seq).then(
        () => {
          if (delivery.settleable) delivery.accept();
        },
        (error: unknown) => {
          if (delivery.settleable) delivery.reject(this.#errorFor(error));
        },
      );
    });
  }

  /** AMQP_PUBLISH_RELEASED: the client released a QoS 2 packet id whose publication went over an older link. */
  #onPublishReleased(clientId: string, delivery: Delivery): void {
    let packetId: number;
    try {
      packetId = decodePublishReleased(delivery.message).packetId;
    } catch (error) {
      this.#malformed += 1;
      delivery.reject(this.#errorFor(error));
      return;
    }
    try {
      this.#unreleased.release(clientId, packetId);
    } catch (error) {
      delivery.reject(this.#errorFor(error));
      return;
    }
    delivery.accept();
  }

  #onPublishLink(connection: AmqpConnection, link: IncomingLink, clientId: string): void {
    const sender = link.acceptSender({ maxQueued: 0 });
    const outlet = new SenderOutlet(sender);
    this.#publishLinks.set(clientId, { outlet, connection });
    // Only for a session this connection started; otherwise AMQP_LIST / AMQP_CLOSE attaches it.
    if (this.#owners.get(clientId) === connection) this.#subscriptions.attach(clientId, outlet);
    sender.on('sendable', () => this.#subscriptions.flow(clientId, outlet));
    sender.on('close', () => {
      if (this.#publishLinks.get(clientId)?.outlet === outlet) this.#publishLinks.delete(clientId);
      if (this.#closing !== undefined) return;
      this.#subscriptions.detach(clientId, outlet).catch((error: unknown) => this.#fail(error));
    });
  }

  /**
   * After AMQP_LIST / AMQP_CLOSE started the session anew: a publish link the same connection attached before
   * (the spec attaches it after CONNACK, but order across links is not guaranteed) delivers for it. A link of
   * an older connection of the client (taken over) does not.
   */
  #attachPublishLink(clientId: string, connection: AmqpConnection): void {
    const current = this.#publishLinks.get(clientId);
    if (current?.connection === connection && current.outlet.sender.isOpen) {
      this.#subscriptions.attach(clientId, current.outlet);
    }
  }

  #onControlLink(link: IncomingLink, address: string): void {
    const sender = link.acceptSender({ maxQueued: CONTROL_CREDIT_WINDOW });
    this.#controls.add(address, sender);
    sender.on('close', () => this.#controls.remove(address, sender));
  }

  // --- Topics -----------------------------------------------------------------------------------------

  #onTopicPublisher(link: IncomingLink): void {
    const address = link.address;
    if (address !== undefined) {
      const valid = validateTopicName(address);
      if (!valid.ok) {
        link.refuse({
          condition: 'amqp:invalid-field',
          description: `'${address}' is not a topic: ${valid.reason}`,
        });
        return;
      }
    }
    const linkPublisher = link.info.properties?.[PUBLISHER_ID_KEY];
    // Manual credit: the link is held (no credit) while one of its publications waits for room.
    const receiver = link.acceptReceiver({ creditWindow: 0, maxMessageSize: this.#options.maxMessageSize });
    const publisher = new PublisherLink(
      receiver,
      this.#options.publishCreditWindow ?? DEFAULT_PUBLISH_CREDIT_WINDOW,
      {
        hasRoom: (p) => this.#hasRoomFor(p),
        route: (p, done) => this.#routePublication(p, done),
        timedOut: (p) => this.#refuseSlow(p),
        admit: (p) => this.#admit(p),
      },
      this.#holdBack,
    );
    this.#publisherLinks.add(publisher);
    receiver.on('delivery', (delivery) => {
      const publication = this.#readPublication(
        receiver,
        delivery,
        typeof linkPublisher === 'string' ? linkPublisher : undefined,
        address,
      );
      if (publication !== undefined) publisher.offer(publication, Date.now());
      if (publisher.held) {
        this.#heldLinks.add(publisher);
        this.#startHeldTimer();
      }
    });
    receiver.on('close', () => {
      publisher.close();
      this.#publisherLinks.delete(publisher);
      this.#heldLinks.delete(publisher);
    });
  }

  /**
   * The decoded publication, or undefined once the delivery was settled here (malformed, expired). `linkTopic`
   * is the link's address, found a valid topic name when the link attached: a message to that same topic (a
   * topic link's usual one) is not scanned again.
   */
  #readPublication(
    receiver: Receiver,
    delivery: Delivery,
    linkPublisher: string | undefined,
    linkTopic: string | undefined,
  ): Publication | undefined {
    let message: DecodedPublish;
    try {
      message = this.#codec.decodeTopicMessage(
        delivery.message,
        receiver.info.target?.address,
        delivery.presettled,
      );
    } catch (error) {
      this.#malformed += 1;
      delivery.reject(this.#errorFor(error));
      return undefined;
    }
    const valid = message.topic === linkTopic ? undefined : validateTopicName(message.topic);
    if (valid !== undefined && !valid.ok) {
      this.#malformed += 1;
      delivery.reject({
        condition: 'amqp:invalid-field',
        description: `'${message.topic}' is not a topic: ${valid.reason}`,
      });
      return undefined;
    }
    if (message.expired) {
      // Expired on the way: taken, and delivered to nobody.
      delivery.accept();
      return undefined;
    }
    const annotated = delivery.message.messageAnnotations?.[PUBLISHER_ID_KEY];
    const publisherId = typeof annotated === 'string' ? annotated : linkPublisher;
    const packetId = packetIdOf(delivery.message);
    // QoS 2 from an MQTT client (named by the link or the message) on an exactly-once link, message-id = its
    // packet id: remembered until released (spec "Publish, client to network").
    const exactlyOnce: ExactlyOnceKey | undefined =
      message.qos === 2 &&
      publisherId !== undefined &&
      packetId !== undefined &&
      !delivery.presettled &&
      receiver.settleModes.receiver === 'second'
        ? {
            clientId: publisherId,
            packetId,
            fingerprint: fingerprintOf(message),
            explicitRelease: releasesExplicitly(delivery.message),
          }
        : undefined;
    const published: MqttMessage = {
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain,
    };
    if (message.properties !== undefined) published.properties = message.properties;
    return { delivery, message: published, publisherId, exactlyOnce };
  }

  #hasRoomFor({ message, publisherId, exactlyOnce }: Publication): boolean {
    // A re-sent QoS 2 publication is not routed again: it needs no room (and must not time out as refused).
    if (exactlyOnce !== undefined && this.#unreleased.resent(exactlyOnce) !== undefined) return true;
    return this.#native.hasRoomFor(message) && this.#subscriptions.hasRoomFor(message, publisherId);
  }

  /**
   * A retained publication is admitted only if the retained store keeps it: otherwise it is refused with
   * `amqp:resource-limit-exceeded` (the FE answers PUBACK / PUBREC 0x97) and routed to nobody. The store write
   * happens here (the Subscription service's own write then replaces it with the same message).
   */
  #admit({ delivery, message, exactlyOnce }: Publication): Promise<boolean> | undefined {
    if (!message.retain || message.payload.length === 0) return undefined;
    if (exactlyOnce !== undefined && this.#unreleased.resent(exactlyOnce) !== undefined) return undefined;
    return this.#stores.retained.set(message).then(
      () => true,
      (error: unknown) => {
        if (!(error instanceof StoreLimitError)) return true; // a store failure: routed anyway, reported there
        this.#rejectedRetained += 1;
        // Still reported, so that hosts counting retained-limit hits see this one.
        this.#fail(error);
        if (delivery.settleable) {
          delivery.reject({
            condition: 'amqp:resource-limit-exceeded',
            description: error.message,
            info: { [LIMIT_INFO_KEY]: error.limit },
          });
        }
        return false;
      },
    );
  }

  /**
   * Routes a publication and settles its delivery with the outcome. A QoS 2 publication of an MQTT client is
   * remembered, once routed, before it is accepted, until its publisher settles (PUBREL) or releases it
   * (AMQP_PUBLISH_RELEASED; only that for one marked `x-opt-mqtt-release: explicit`, which the publisher settles
   * at once); one that comes again meanwhile (same packet id, same content: DUP set or not) is accepted and not
   * routed twice. With the QoS 2 memory in the stores' environment (`openLmdbStores`), the backlog writes and the
   * remember are one transaction: a crash leaves the publication routed and remembered, or neither.
   */
  #routePublication(publication: Publication, done: () => void): void {
    const { delivery, message, publisherId, exactlyOnce } = publication;
    const resent = exactlyOnce === undefined ? undefined : this.#unreleased.resent(exactlyOnce);
    if (resent !== undefined) {
      this.#duplicatesNotRouted += 1;
      if (delivery.settleable) {
        delivery.accept();
        // A held re-send releases the entry when settled; an explicit one leaves it to AMQP_PUBLISH_RELEASED.
        if (exactlyOnce?.explicitRelease !== true) this.#forgetOnSettle(delivery, resent);
      }
      queueMicrotask(done);
      return;
    }
    const key: Qos2Entry | undefined =
      exactlyOnce === undefined
        ? undefined
        : {
            clientId: exactlyOnce.clientId,
            packetId: exactlyOnce.packetId,
            fingerprint: exactlyOnce.fingerprint,
          };
    const durable = key === undefined ? undefined : this.#durableQos2;
    if (key === undefined || durable === undefined) {
      // The common path: one callback per publication, no promise of ours.
      this.#routeThen(message, publisherId, (outcome, error) => {
        try {
          if (outcome === undefined) this.#notRouted(publication, error, false, key);
          else this.#routed(publication, outcome, false, key);
        } finally {
          done();
        }
      });
      return;
    }
    let written = false;
    durable
      .atomically(
        () => this.#route(message, publisherId),
        (results) => {
          // Remembered only when every session took it: a refused publication is not accepted.
          if (!results.every(tookIt)) return;
          durable.store.add(key);
          written = true;
        },
      )
      .then(
        (outcome) => this.#routed(publication, outcome, written, key),
        (error: unknown) => this.#notRouted(publication, error, written, key),
      )
      .finally(done);
  }

  /** Settles a routed publication with its outcome (see `#routePublication`). */
  #routed(
    { delivery, exactlyOnce }: Publication,
    outcome: PublishOutcome,
    written: boolean,
    key: Qos2Entry | undefined,
  ): void {
    let entry: UnreleasedEntry | undefined;
    if (key !== undefined && outcome.refused === 0) {
      // Kept even when the link went meanwhile: the client re-sends it on its next connection.
      try {
        entry = written
          ? this.#unreleased.addWritten(key)
          : this.#unreleased.add(key.clientId, key.packetId, key.fingerprint);
      } catch (error) {
        if (delivery.settleable) delivery.reject(this.#errorFor(error));
        return;
      }
    } else if (written) {
      this.#unwrite(key);
    }
    // The publisher's link may have detached while routing (a client that published and left at once).
    if (!delivery.settleable) return;
    if (outcome.refused === 0) {
      delivery.accept();
      if (entry !== undefined && exactlyOnce?.explicitRelease !== true) this.#forgetOnSettle(delivery, entry);
      return;
    }
    // The store's `refuse` policy: a full backlog pushes back on the publisher (MQTT 5: quota exceeded).
    // Sessions with room have the message already.
    delivery.reject({
      condition: 'amqp:resource-limit-exceeded',
      description: `the backlog of ${outcome.refused} of ${outcome.sessions} subscribing session(s) is full`,
    });
  }

  /** A routing failed (a store error): the publication is rejected. */
  #notRouted({ delivery }: Publication, error: unknown, written: boolean, key: Qos2Entry | undefined): void {
    if (written) this.#unwrite(key);
    if (delivery.settleable) delivery.reject(this.#errorFor(error));
  }

  /** Takes back a remember written with a routing whose publication is then refused after all. */
  #unwrite(key: Qos2Entry | undefined): void {
    if (key === undefined) return;
    // The write replaced any older entry of the packet id in the store: that one is put back.
    const older = this.#unreleased.get(key.clientId, key.packetId);
    try {
      if (older === undefined) this.#qos2Store.remove(key.clientId, key.packetId);
      else this.#qos2Store.add(older);
    } catch (error) {
      this.#fail(error);
    }
  }

  /** The publisher settled (its client sent PUBREL): forgotten. A link gone first keeps it. */
  #forgetOnSettle(delivery: Delivery, entry: UnreleasedEntry): void {
    delivery.whenSettled().then(
      () => {
        try {
          this.#unreleased.remove(entry);
        } catch (error) {
          this.#fail(error);
        }
      },
      () => {},
    );
  }

  /** A publication found no room for `slowSubscriberTimeoutMs`: refused, so the publisher knows it was not taken. */
  #refuseSlow({ delivery, message }: Publication): void {
    this.#rejectedSlowSubscriber += 1;
    if (!delivery.settleable) return;
    delivery.reject({
      condition: 'amqp:resource-limit-exceeded',
      description: `a subscriber of '${message.topic}' had no room for ${this.#slowSubscriberTimeoutMs} ms`,
    });
  }

  /** A subscriber may have room: held links are looked at once the current work is done. */
  #scheduleResume(): void {
    // Nothing held, nothing to resume (most room events: a link is held only once a publication waits, and
    // the held-link timer looks again anyway): no setImmediate per message.
    if (this.#resumeScheduled || this.#heldLinks.size === 0) return;
    this.#resumeScheduled = true;
    setImmediate(() => {
      this.#resumeScheduled = false;
      this.#resumeHeld();
    });
  }

  /**
   * Routes what the held links can now send, one publication per link per round, so that the room freed is
   * shared among the publishers waiting for it instead of going to the first one held (whose later messages
   * would otherwise keep passing the others' and leave them waiting for seconds). A link that moved goes to the
   * back of the line, so that the next call (often for a single freed slot) starts with another one. Links
   * that cannot move leave the round; links no longer held leave the set.
   */
  #resumeHeld(): void {
    const now = Date.now();
    let round = [...this.#heldLinks];
    while (round.length > 0) {
      const next: PublisherLink[] = [];
      for (const link of round) {
        if (link.resume(now, 1) === 0) continue;
        this.#heldLinks.delete(link);
        if (link.held) {
          this.#heldLinks.add(link);
          next.push(link);
        }
      }
      round = next;
    }
    for (const link of this.#heldLinks) if (!link.held) this.#heldLinks.delete(link);
  }

  /** While links are held: looks at them now and then (a missed event cannot hold them) and times them out. */
  #startHeldTimer(): void {
    if (this.#heldTimer !== undefined || this.#closing !== undefined) return;
    this.#heldTimer = setInterval(() => {
      const now = Date.now();
      this.#resumeHeld();
      for (const link of this.#heldLinks) {
        link.expire(now, this.#slowSubscriberTimeoutMs);
        if (!link.held) this.#heldLinks.delete(link);
      }
      if (this.#heldLinks.size === 0) this.#stopHeldTimer();
    }, HELD_CHECK_INTERVAL_MS);
    this.#heldTimer.unref();
  }

  #stopHeldTimer(): void {
    if (this.#heldTimer === undefined) return;
    clearInterval(this.#heldTimer);
    this.#heldTimer = undefined;
  }

  #onTopicReceiver(link: IncomingLink, filter: string): void {
    const valid = validateTopicFilter(filter);
    if (!valid.ok) {
      link.refuse({
        condition: 'amqp:invalid-field',
        description: `'${filter}' is not a topic filter: ${valid.reason}`,
      });
      return;
    }
    // Queued by NativeReceivers (bounded there), so that it sees each credit as it comes.
    const sender = link.acceptSender({ maxQueued: 0 });
    this.#native.add(filter, sender);
    sender.on('close', () => this.#native.remove(sender));
  }

  // --- Helpers ------------------------------------------------------------------------------------------

  /** The decoded control message, or undefined after rejecting a malformed one. */
  #decode(delivery: Delivery): DecodedControl | undefined {
    try {
      return this.#codec.decodeControl(delivery.message);
    } catch (error) {
      this.#malformed += 1;
      // Decoded late (after earlier requests of the link), the link may be gone: nothing to settle then.
      if (delivery.settleable) delivery.reject(this.#errorFor(error));
      return undefined;
    }
  }

  #errorFor(error: unknown): AmqpErrorInit {
    if (error instanceof MappingError) {
      return { condition: 'amqp:decode-error', description: error.message };
    }
    if (error instanceof StoreLimitError) {
      return { condition: 'amqp:resource-limit-exceeded', description: error.message };
    }
    if (error instanceof TimeoutError) {
      // AMQP_LIST whose reply-to link never attached: the peer's mistake, not ours.
      return { condition: 'amqp:precondition-failed', description: error.message };
    }
    this.#fail(error);
    return {
      condition: 'amqp:internal-error',
      description: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * Whether one store transaction of a routing took the message: it did not throw, and it is no backlog's
 * refusal (`EnqueueResult` `refused` / `backlog-full`, the store's `refuse` policy).
 */
function tookIt(result: GroupedResult): boolean {
  if (!result.ok) return false;
  const value = result.value;
  if (typeof value !== 'object' || value === null) return true;
  return !(
    'status' in value &&
    value.status === 'refused' &&
    'reason' in value &&
    value.reason === 'backlog-full'
  );
}

function clientOf(request: DecodedControl): string | undefined {
  switch (request.subject) {
    case 'list':
      return request.list.clientId;
    case 'close':
      return request.close.clientId;
    case 'subscribe':
      return request.subscribe.clientId;
    case 'unsubscribe':
      return request.unsubscribe.clientId;
    case 'session-expiry':
      return request.sessionExpiry.clientId;
    default:
      return undefined;
  }
}

/**
 * Starts an embedded backend: loads the stores (sessions, retained messages, wills — wills found there wait
 * `restartGraceMs` for their clients), then listens. Rejects if the listener cannot bind.
 */
export async function createBackend(options: BackendOptions = {}): Promise<Backend> {
  checkBackendOptions(options);
  const addresses = createAddresses(options.addresses);
  const ownStores = options.store === undefined;
  const stores = options.store ?? createMemoryStores();
  const now = options.now ?? Date.now;
  const codec = createCodec(addresses, options.dialect ?? 'enmasse', now);
  // The stores' own QoS 2 memory (LMDB stores) unless the host gives one: then routings and remembers commit
  // together.
  const durableQos2 = options.qos2Store === undefined ? storesQos2Of(stores) : undefined;
  const ownQos2Store = options.qos2Store === undefined && durableQos2 === undefined;
  const qos2Store = options.qos2Store ?? durableQos2?.store ?? createMemoryQos2Store();
  let backend: Backend | undefined;
  const onError = (error: unknown): void => {
    if (backend !== undefined && backend.listenerCount('error') > 0) {
      backend.emit('error', error instanceof Error ? error : new Error(String(error)));
    }
  };
  try {
    // Called when a subscriber may have room again: the backend resumes the publisher links it holds.
    const roomListeners: Array<() => void> = [];
    const onRoom = (): void => {
      for (let i = 0; i < roomListeners.length; i++) (roomListeners[i] as () => void)();
    };
    const unreleased = new UnreleasedQos2(qos2Store, {
      maxPerClient: options.maxUnreleasedQos2PerClient ?? DEFAULT_MAX_UNRELEASED_QOS2_PER_CLIENT,
      max: options.maxUnreleasedQos2 ?? DEFAULT_MAX_UNRELEASED_QOS2,
    });
    // A session that ends (expired, or found expired at start) publishes its client's waiting will at once;
    // those ending before the Will service is up are handed to it once it is.
    let willService: WillService | undefined;
    const endedEarly: string[] = [];
    const onSessionEnded = (clientId: string): void => {
      if (willService === undefined) endedEarly.push(clientId);
      else willService.sessionExpired(clientId);
    };
    const subscriptions = await SubscriptionService.start({
      onSessionEnded,
      sessions: stores.sessions,
      retained: stores.retained,
      encode: (delivery, at) => encodePending(codec, delivery, at),
      ...(options.maxInMemoryPerClient !== undefined
        ? { maxInMemoryPerClient: options.maxInMemoryPerClient }
        : {}),
      ...(options.maxInMemoryForQos0 !== undefined ? { maxInMemoryForQos0: options.maxInMemoryForQos0 } : {}),
      ...(options.authorizeSubscription !== undefined ? { authorize: options.authorizeSubscription } : {}),
      now,
      onError,
      onRoom,
    });
    const native = new NativeReceivers(
      codec,
      options.maxQueuedPerNativeReceiver ?? DEFAULT_MAX_QUEUED_PER_NATIVE_RECEIVER,
      onRoom,
    );
    // Every publication goes here: to native receivers at once, and to the sessions whose subscriptions match.
    let published = 0;
    const route = (message: MqttMessage, publisherId: string | undefined, done: PublishDone): void => {
      published += 1;
      native.publish(message);
      subscriptions.publishThen(message, publisherId, done);
    };
    const wills = await WillService.start({
      store: stores.wills,
      publish: (message) =>
        new Promise<void>((resolve, reject) => {
          route(message, undefined, (outcome, error) => {
            if (outcome === undefined) reject(error);
            else resolve();
          });
        }),
      ...(options.restartGraceMs !== undefined ? { restartGraceMs: options.restartGraceMs } : {}),
      onPublished: (clientId, message) => backend?.emit('willPublished', clientId, message),
      onError,
    });
    willService = wills;
    for (const clientId of endedEarly.splice(0)) wills.sessionExpired(clientId);
    let listener: AmqpListener;
    try {
      listener = await listen(options.listen ?? {});
    } catch (error) {
      wills.close();
      subscriptions.stop();
      throw error;
    }
    backend = new Backend({
      listener,
      stores,
      ownStores,
      addresses,
      subscriptions,
      wills,
      native,
      codec,
      route,
      published: () => published,
      onRoom: (listener) => roomListeners.push(listener),
      unreleased,
      qos2Store,
      ownQos2Store,
      durableQos2,
      options,
    });
    return backend;
  } catch (error) {
    if (ownStores) await stores.close();
    if (ownQos2Store) await qos2Store.close();
    throw error;
  }
}

/** Throws `ConfigurationError` for a policy or time-out that makes no sense. */
function checkBackendOptions(options: BackendOptions): void {
  for (const key of ['maxUnreleasedQos2PerClient', 'maxUnreleasedQos2'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new ConfigurationError(key, `a positive integer, not ${String(value)}`);
    }
  }
  const policy = options.slowSubscriberPolicy;
  if (policy !== undefined && policy !== 'backpressure' && policy !== 'drop') {
    throw new ConfigurationError('slowSubscriberPolicy', `'backpressure' or 'drop', not '${String(policy)}'`);
  }
  const size = options.maxMessageSize;
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
    throw new ConfigurationError(
      'maxMessageSize',
      `a whole number of bytes (0: no limit), not ${String(size)}`,
    );
  }
  const timeout = options.slowSubscriberTimeoutMs;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout > 0)) {
    throw new ConfigurationError(
      'slowSubscriberTimeoutMs',
      `a positive number of ms, not ${String(timeout)}`,
    );
  }
}

/** The AMQP_PUBLISH of a session delivery, its expiry interval cut to what is left. */
function encodePending(codec: BackendCodec, delivery: PendingDelivery, now: number): AmqpMessage {
  let message = delivery.message;
  if (delivery.expiresAt !== undefined) {
    const left = Math.max(1, Math.ceil((delivery.expiresAt - now) / 1000));
    message = { ...message, properties: { ...message.properties, messageExpiryInterval: left } };
  }
  // message-id = the packet id, as the Subscription service sets it anyway (none for QoS 0).
  return codec.encodeDelivery(message, delivery.packetId, delivery.deliveryCount > 0);
}

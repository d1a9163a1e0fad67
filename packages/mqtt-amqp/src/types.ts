/**
 * Public types of the MQTT-over-AMQP foundation: addresses, dialects, the decoded forms of the spec's messages,
 * link specifications, and the store interfaces.
 */
import type { AmqpMessage, MessageId, ReceiverSettleMode, SenderSettleMode } from '@dragoman/amqp';
import type { PublishProperties, QoS, Subscription } from '@dragoman/mqtt';

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

/**
 * The well-known addresses (spec, "Addresses"). Per-client addresses are templates holding `{clientId}` once.
 * Every field is optional; the defaults are the spec's.
 */
export interface AddressOptions {
  /** Will service. Default `$mqtt.willservice` (EnMasse's gateway: `$lwt`). */
  willService?: string;
  /** Subscription service. Default `$mqtt.subscriptionservice` (EnMasse's gateway: `$subctrl`). */
  subscriptionService?: string;
  /** Replies from the subscription service. Default `$mqtt.to.{clientId}.control`. */
  clientControl?: string;
  /** Every message for a client. Default `$mqtt.to.{clientId}.publish`. */
  clientPublish?: string;
  /** PUBREL step of QoS 2 towards a client. Default `$mqtt.{clientId}.pubrel`. */
  clientPubrel?: string;
}

export type ClientAddressKind = 'control' | 'publish' | 'pubrel';

/** Resolved addresses: the two service addresses and the per-client address builders and parsers. */
export interface Addresses {
  readonly willService: string;
  readonly subscriptionService: string;
  /** The options these addresses were built from, defaults filled in. */
  readonly options: Readonly<Required<AddressOptions>>;
  control(clientId: string): string;
  publish(clientId: string): string;
  pubrel(clientId: string): string;
  /** The client id inside a per-client address of that kind, or undefined when the address is not one. */
  clientIdFrom(kind: ClientAddressKind, address: string): string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Dialects
// ---------------------------------------------------------------------------------------------

export type DialectName = 'enmasse' | 'hono' | 'azure' | 'artemis' | 'rabbitmq';

/** QoS, retain and DUP of one published message. */
export interface PublishFlags {
  qos: QoS;
  retain: boolean;
  dup: boolean;
}

/** What is known about the delivery a message arrived in, for dialects that read QoS from settlement. */
export interface DeliveryContext {
  /** The delivery arrived pre-settled. Undefined when unknown. */
  settled?: boolean;
}

/** The header, annotation and application-property fields a dialect writes its flags into. */
export interface FlagFields {
  durable?: boolean;
  deliveryCount?: number;
  messageAnnotations: Record<string, unknown>;
  applicationProperties: Record<string, unknown>;
}

/** What a dialect carries across MQTT → AMQP → MQTT. */
export interface DialectCapabilities {
  /** `all`: QoS 0, 1 and 2 survive; `at-most-1`: QoS 2 arrives as QoS 1. */
  qos: 'all' | 'at-most-1';
  retain: boolean;
  dup: boolean;
}

/**
 * How one system spells MQTT's QoS, retain and DUP for AMQP consumers, and how it maps topics to addresses
 * (spec appendix). Built-in dialects come from `dialect(name)`; a host may supply its own.
 */
export interface Dialect {
  readonly name: string;
  readonly carries: DialectCapabilities;
  /** Application-property names the dialect itself uses; they never carry MQTT user properties. */
  readonly reservedApplicationProperties: readonly string[];
  /**
   * Writes the flags onto a message being built (`durable` is set by the mapping, for every dialect). `flags` and
   * `fields` are lent for the call only (the mapping reuses both): read them, do not keep them.
   */
  writeFlags(flags: PublishFlags, fields: FlagFields): void;
  /** Reads the flags back from a received message. */
  readFlags(message: AmqpMessage, delivery: DeliveryContext): PublishFlags;
  /** Whether a message of this QoS is sent pre-settled. */
  presettled(qos: QoS): boolean;
  /** The sender settle mode of the link for QoS 0 and 1 publishes (`unsettled`, or `mixed` when QoS 0 is pre-settled). */
  readonly topicLinkSenderSettleMode: SenderSettleMode;
  /** Topic name → AMQP address. Throws `MappingError` (`unmappable-topic`) for a topic it cannot represent. */
  topicToAddress(topic: string): string;
  /** AMQP address → topic name. Throws `MappingError` (`unmappable-topic`) for an address it cannot represent. */
  addressToTopic(address: string): string;
  /**
   * The topic of a received message that has no `to`, where the system keeps it elsewhere (RabbitMQ: the
   * routing key in annotation `x-routing-key`, or in `subject` for its 3.x AMQP 1.0 plugin). Optional.
   */
  topicOf?(message: AmqpMessage): string | undefined;
  /** Topic filter → the address pattern of the system (wildcards translated). Throws `MappingError`. */
  filterToAddress(filter: string): string;
}

// ---------------------------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------------------------

/** Options shared by the mapping functions. */
export interface MappingOptions {
  /** Built-in dialect name or a custom dialect. Default `enmasse` (the spec). */
  dialect?: DialectName | Dialect;
  /** Clock for message expiry (epoch ms). Default `Date.now`. */
  now?: () => number;
}

/** The MQTT 5 properties that travel with an application message (topic alias is hop-by-hop and never does). */
export type MessageProperties = Omit<PublishProperties, 'topicAlias'>;

/** A published application message: what AMQP_PUBLISH carries, in MQTT terms. */
export interface MqttMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: MessageProperties;
}

/** Input of `encodePublish`: an MQTT PUBLISH packet, or any application message with optional DUP and packet id. */
export interface PublishInput extends MqttMessage {
  dup?: boolean;
  /** The MQTT packet id; becomes the AMQP `message-id` (a ulong). Absent for QoS 0. */
  messageId?: number;
}

/** An AMQP_PUBLISH (or AMQP_WILL) ready to send, with the delivery mode the dialect asks for. */
export interface EncodedPublish {
  message: AmqpMessage;
  /** The address to send to (the dialect's address for the topic; also in `properties.to`). */
  address: string;
  /** Send pre-settled (only the `hono` dialect, for QoS 0). */
  presettled: boolean;
}

/** A received AMQP_PUBLISH in MQTT terms. */
export interface DecodedPublish extends MqttMessage {
  dup: boolean;
  /** The AMQP `message-id` (for messages from an MQTT publisher, its packet id). */
  messageId: MessageId | undefined;
  /** The message expired before it was decoded (its remaining expiry interval is not positive): do not deliver it. */
  expired: boolean;
}

/** Options of `decodePublish`. */
export interface DecodePublishOptions extends MappingOptions, DeliveryContext {
  /** The address of the link the message arrived on, used as the topic when the message has no `to`. */
  linkAddress?: string;
}

/** A subscription as the subscription service keeps it (MQTT 5 options included). */
export interface SessionSubscription {
  qos: QoS;
  /** MQTT 5 no local. */
  noLocal?: boolean;
  /** MQTT 5 retain as published. */
  retainAsPublished?: boolean;
  /** MQTT 5 retain handling: 0 send retained on subscribe, 1 only for a new subscription, 2 never. */
  retainHandling?: 0 | 1 | 2;
  /** MQTT 5 subscription identifier (1 … 268 435 455). */
  subscriptionIdentifier?: number;
}

/** AMQP_WILL decoded. */
export interface DecodedWill {
  message: MqttMessage;
  /** MQTT 5 will delay interval, seconds (0 when absent). */
  delayInterval: number;
}

/** AMQP_LIST decoded. */
export interface DecodedList {
  clientId: string;
  /** Where the subscriptions list goes (`reply-to`). */
  replyTo: string;
  /**
   * MQTT 5 session expiry interval, seconds (annotation `x-opt-mqtt-session-expiry`); undefined when absent,
   * which means "never" (the 3.1.1 persistent session).
   */
  expiryInterval: number | undefined;
}

/** AMQP_CLOSE decoded. */
export interface DecodedClose {
  clientId: string;
  /**
   * MQTT 5 session expiry interval of the clean session it starts, seconds; undefined when absent, which means
   * 0 (the session ends with the connection, the 3.1.1 clean session).
   */
  expiryInterval: number | undefined;
}

/** AMQP_SESSION_EXPIRY decoded: the session expiry interval in force from now on (MQTT 5 DISCONNECT). */
export interface DecodedSessionExpiry {
  clientId: string;
  /** Seconds; 0xFFFFFFFF = never. */
  expiryInterval: number;
}

/** AMQP_SUBSCRIBE decoded. */
export interface DecodedSubscribe {
  clientId: string;
  /** The MQTT SUBSCRIBE packet id (`message-id`). */
  messageId: MessageId | undefined;
  subscriptions: Array<{ filter: string } & SessionSubscription>;
}

/** AMQP_UNSUBSCRIBE decoded. */
export interface DecodedUnsubscribe {
  clientId: string;
  messageId: MessageId | undefined;
  filters: string[];
}

/** AMQP_SUBSCRIPTIONS decoded: the recovered session's subscriptions, filter → subscription. */
export interface DecodedSubscriptions {
  subscriptions: Map<string, SessionSubscription>;
}

/** AMQP_PUBREL decoded. */
export interface DecodedPubrel {
  /** The `message-id` of the AMQP_PUBLISH being released. */
  messageId: MessageId;
}

/** The subjects of the spec's control messages. */
export type ControlSubject =
  | 'will'
  | 'will-clear'
  | 'list'
  | 'subscriptions'
  | 'close'
  | 'subscribe'
  | 'unsubscribe'
  | 'pubrel'
  | 'session-expiry';

/** Any of the spec's control messages, decoded, tagged by subject (`decodeControl`). */
export type DecodedControl =
  | { subject: 'will'; will: DecodedWill }
  | { subject: 'will-clear' }
  | { subject: 'list'; list: DecodedList }
  | { subject: 'subscriptions'; subscriptions: DecodedSubscriptions }
  | { subject: 'close'; close: DecodedClose }
  | { subject: 'subscribe'; subscribe: DecodedSubscribe }
  | { subject: 'unsubscribe'; unsubscribe: DecodedUnsubscribe }
  | { subject: 'pubrel'; pubrel: DecodedPubrel }
  | { subject: 'session-expiry'; sessionExpiry: DecodedSessionExpiry };

/** Re-exported so hosts can build SUBSCRIBE inputs without importing @dragoman/mqtt. */
export type MqttSubscription = Subscription;

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

export type LinkPurpose =
  | 'will'
  | 'subscription-service'
  | 'control'
  | 'publish'
  | 'pubrel'
  | 'topic-qos01'
  | 'topic-qos2';

/** Role, name, address and settle modes of one link of the spec ("Addresses" table). */
export interface LinkSpec {
  readonly role: 'sender' | 'receiver';
  /**
   * The link name: the client id for the will link (the spec ties the will to it), `<client id>/<purpose>` for
   * the others. Names must be unique per connection and direction.
   */
  readonly name: string;
  /** What the link is for: `will`, `subscription-service`, `control`, `publish`, `pubrel`, `topic-qos01`, `topic-qos2`. */
  readonly purpose: LinkPurpose;
  readonly address: string;
  readonly senderSettleMode: SenderSettleMode;
  readonly receiverSettleMode: ReceiverSettleMode;
}

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

/**
 * Limits of the stores. Each has a safe default; what happens at each limit is in the README ("Stores").
 */
export interface StoreLimits {
  /** Largest payload stored (backlog, retained, will), bytes. Default 1 MiB (1 048 576). */
  maxPayloadBytes?: number;
  /** Retained messages in total. Default 10 000. */
  maxRetained?: number;
  /** Queued messages per offline session. Default 1 000. */
  maxBacklogPerSession?: number;
  /** Sessions in total. Default 100 000. */
  maxSessions?: number;
  /** Subscriptions per session. Default 1 000. */
  maxSubscriptionsPerSession?: number;
  /** Stored wills in total. Default 100 000. */
  maxWills?: number;
}

/** What a full backlog does with a new QoS 1/2 message once expired and QoS 0 entries are gone. */
export type BacklogPolicy = 'drop-oldest' | 'refuse';

export interface StoreOptions extends StoreLimits {
  /** Default `drop-oldest`. */
  backlogPolicy?: BacklogPolicy;
  /** Queue QoS 0 messages for offline sessions too (MQTT allows either). Default false. */
  queueQos0?: boolean;
  /** Clock (epoch ms) for expiry. Default `Date.now`. */
  now?: () => number;
}

export interface LmdbStoreOptions extends StoreOptions {
  /** Directory of the LMDB environment. One process opens a path at a time. */
  path: string;
}

/** A session as the subscription service keeps it. */
export interface Session {
  readonly clientId: string;
  /** Session expiry interval, seconds: 0 ends with the connection, 0xFFFFFFFF never (3.1.1 persistent sessions). */
  readonly expiryInterval: number;
  /** Epoch ms of the last disconnect; undefined while the client is connected. */
  readonly disconnectedAt: number | undefined;
  /** Filter → subscription, in the order the filters were first subscribed. */
  readonly subscriptions: ReadonlyMap<string, SessionSubscription>;
}

export interface OpenSessionOptions {
  /** Clean session (3.1.1) / clean start (5): discard any previous session and its backlog. */
  clean: boolean;
  /** Seconds; default 0 when clean, 0xFFFFFFFF otherwise (the 3.1.1 meanings). */
  expiryInterval?: number;
}

export interface OpenSessionResult {
  readonly session: Session;
  /** A previous (unexpired) session was resumed. */
  readonly present: boolean;
}

/** One queued message of an offline session; `seq` orders the backlog and names the entry for `ack`. */
export interface QueuedMessage {
  readonly seq: number;
  /** The message, its `messageExpiryInterval` reduced to the time left. */
  readonly message: MqttMessage;
  /**
   * QoS 2: the client answered PUBREC and its AMQP_PUBREL was accepted (`SessionStore.release`): only its
   * PUBREL may be sent again, never the PUBLISH. Such an entry neither expires nor is evicted.
   */
  readonly released?: boolean;
}

export type EnqueueResult =
  | {
      readonly status: 'queued';
      readonly seq: number;
      /** Older entries dropped to make room (expired ones are not counted). */
      readonly evicted: number;
    }
  /** A QoS 0 message not queued (QoS 0 queueing off, or the backlog full). */
  | { readonly status: 'dropped'; readonly reason: 'qos0-not-queued' | 'backlog-full' }
  | {
      readonly status: 'refused';
      readonly reason: 'backlog-full' | 'payload-too-large' | 'no-session' | 'expired';
    };

/** Sessions: subscriptions and the offline backlog of each client. */
export interface SessionStore {
  /**
   * Starts a client's session: with `clean` any previous one is discarded; otherwise an unexpired previous
   * session is resumed (`present`). Marks the session connected. Throws `StoreLimitError('sessions')` when a
   * new session would exceed `maxSessions`.
   */
  open(clientId: string, options: OpenSessionOptions): Promise<OpenSessionResult>;
  get(clientId: string): Promise<Session | undefined>;
  /** Every stored session (bounded by `maxSessions`). */
  list(): Promise<Session[]>;
  /**
   * Adds or replaces subscriptions. Throws `StoreLimitError('subscriptions')` (nothing changed) when new filters
   * would exceed `maxSubscriptionsPerSession`; returns false when there is no such session.
   */
  subscribe(
    clientId: string,
    subscriptions: ReadonlyArray<readonly [filter: string, subscription: SessionSubscription]>,
  ): Promise<boolean>;
  /** Removes subscriptions; the result says, per filter, whether it existed. */
  unsubscribe(clientId: string, filters: readonly string[]): Promise<boolean[]>;
  /** Marks the client disconnected at `at` (default now), optionally changing its expiry interval (MQTT 5). */
  disconnect(clientId: string, options?: { at?: number; expiryInterval?: number }): Promise<void>;
  /** Deletes the session and its backlog; false when there was none. */
  delete(clientId: string): Promise<boolean>;
  /**
   * Deletes every disconnected session whose expiry interval has passed (only `clientId`'s when given, in one
   * atomic step, so a session resumed meanwhile is kept); returns their client ids.
   */
  expire(clientId?: string): Promise<string[]>;
  /** Queues a message for an offline session, applying the backlog policy (README, "Stores"). */
  enqueue(clientId: string, message: MqttMessage): Promise<EnqueueResult>;
  /** The backlog, oldest first, without expired entries (which are purged); at most `limit` entries. */
  backlog(clientId: string, options?: { limit?: number }): Promise<QueuedMessage[]>;
  /** Removes one delivered entry; false when it was not there. */
  ack(clientId: string, seq: number): Promise<boolean>;
  /**
   * Marks a QoS 2 entry released (its PUBREL step began: see `QueuedMessage.released`), durably before it
   * resolves; it stays in the backlog until `ack`. False when the entry was not there.
   */
  release(clientId: string, seq: number): Promise<boolean>;
  /** Number of queued entries (expired ones included until purged). */
  backlogSize(clientId: string): Promise<number>;
  close(): Promise<void>;
}

/** What `RetainedStore.set` did. */
export type RetainResult = 'stored' | 'replaced' | 'deleted' | 'absent';

/** Retained messages, one per topic. */
export interface RetainedStore {
  /**
   * Stores the message as its topic's retained message, replacing any; an empty payload deletes it.
   * Throws `StoreLimitError` (`payload` or `retained`) and changes nothing at a limit.
   */
  set(message: MqttMessage): Promise<RetainResult>;
  get(topic: string): Promise<MqttMessage | undefined>;
  delete(topic: string): Promise<boolean>;
  /** Every unexpired retained message whose topic matches the filter, in topic order. */
  match(filter: string): Promise<MqttMessage[]>;
  size(): Promise<number>;
  close(): Promise<void>;
}

/** A client's will as stored. */
export interface StoredWill {
  readonly clientId: string;
  /** The will message; its expiry interval counts from publication, so the store keeps it unchanged. */
  readonly message: MqttMessage;
  /** MQTT 5 will delay interval, seconds. */
  readonly delayInterval: number;
  /** Epoch ms the will was stored. */
  readonly storedAt: number;
}

/** Wills, one per client. */
export interface WillStore {
  /** Stores or replaces a client's will. Throws `StoreLimitError` (`payload` or `wills`) at a limit. */
  set(clientId: string, message: MqttMessage, options?: { delayInterval?: number }): Promise<void>;
  get(clientId: string): Promise<StoredWill | undefined>;
  delete(clientId: string): Promise<boolean>;
  list(): Promise<StoredWill[]>;
  size(): Promise<number>;
  close(): Promise<void>;
}

/** The three stores over one backend. */
export interface Stores {
  readonly sessions: SessionStore;
  readonly retained: RetainedStore;
  readonly wills: WillStore;
  /** Closes all three (and the backend). */
  close(): Promise<void>;
}

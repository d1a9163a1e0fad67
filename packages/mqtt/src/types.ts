import type { Duplex } from 'node:stream';
import type { MqttEndpoint } from './endpoint';
import type { InboundPublish, InboundSubscribe, InboundUnsubscribe } from './inbound';

/**
 * Public types of @dragoman/mqtt: the packet union (MQTT 3.1, 3.1.1 and 5.0), properties,
 * and the option / event / message types of the server endpoint.
 *
 * Field names follow mqtt-packet (`cmd`, `messageId`, `keepalive`, `clean`) so that MQTT.js users
 * recognise them; unlike mqtt-packet every field is precisely typed and payloads are always Buffers.
 */

/** 3 = MQTT 3.1 ("MQIsdp"), 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5;
export type QoS = 0 | 1 | 2;

/** MQTT 5 user properties. A name sent several times becomes an array of its values, in order. */
export type UserProperties = Record<string, string | string[]>;

// ---------------------------------------------------------------------------------------------
// Properties (MQTT 5 only; absent for versions 3 and 4)
// ---------------------------------------------------------------------------------------------

export interface ConnectProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumPacketSize?: number;
  topicAliasMaximum?: number;
  requestResponseInformation?: boolean;
  requestProblemInformation?: boolean;
  userProperties?: UserProperties;
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

export interface WillProperties {
  willDelayInterval?: number;
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

export interface ConnackProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumQoS?: number;
  retainAvailable?: boolean;
  maximumPacketSize?: number;
  assignedClientIdentifier?: string;
  topicAliasMaximum?: number;
  reasonString?: string;
  userProperties?: UserProperties;
  wildcardSubscriptionAvailable?: boolean;
  subscriptionIdentifiersAvailable?: boolean;
  sharedSubscriptionAvailable?: boolean;
  serverKeepAlive?: number;
  responseInformation?: string;
  serverReference?: string;
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  /** Several when the message matched several subscriptions with identifiers. */
  subscriptionIdentifier?: number | number[];
  contentType?: string;
}

/** Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK. */
export interface AckProperties {
  reasonString?: string;
  userProperties?: UserProperties;
}

export interface SubscribeProperties {
  subscriptionIdentifier?: number;
  userProperties?: UserProperties;
}

export interface UnsubscribeProperties {
  userProperties?: UserProperties;
}

export interface DisconnectProperties {
  sessionExpiryInterval?: number;
  reasonString?: string;
  userProperties?: UserProperties;
  serverReference?: string;
}

export interface AuthProperties {
  authenticationMethod?: string;
  authenticationData?: Buffer;
  reasonString?: string;
  userProperties?: UserProperties;
}

// ---------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------

export interface Will {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: WillProperties;
}

export interface ConnectPacket {
  cmd: 'connect';
  /** 'MQIsdp' for version 3, 'MQTT' otherwise. */
  protocolId: 'MQTT' | 'MQIsdp';
  protocolVersion: ProtocolVersion;
  /** Clean session (3.1, 3.1.1) or clean start (5.0). */
  clean: boolean;
  /** Seconds; 0 disables keep-alive. */
  keepalive: number;
  clientId: string;
  username?: string;
  password?: Buffer;
  will?: Will;
  properties?: ConnectProperties;
}

export interface ConnackPacket {
  cmd: 'connack';
  sessionPresent: boolean;
  /** 3.1 / 3.1.1 return code (see ConnackReturnCode). */
  returnCode?: number;
  /** 5.0 reason code (see ReasonCode). */
  reasonCode?: number;
  properties?: ConnackProperties;
}

export interface PublishPacket {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present when qos > 0. */
  messageId?: number;
  properties?: PublishProperties;
}

export interface PubackPacket {
  cmd: 'puback';
  messageId: number;
  reasonCode?: number;
  properties?: AckProperties;
}
export interface PubrecPacket {
  cmd: 'pubrec';
  messageId: number;
  reasonCode?: number;
  properties?: AckProperties;
}
export interface PubrelPacket {
  cmd: 'pubrel';
  messageId: number;
  reasonCode?: number;
  properties?: AckProperties;
}
export interface PubcompPacket {
  cmd: 'pubcomp';
  messageId: number;
  reasonCode?: number;
  properties?: AckProperties;
}

export interface Subscription {
  topic: string;
  qos: QoS;
  /** MQTT 5 no local. */
  nl?: boolean;
  /** MQTT 5 retain as published. */
  rap?: boolean;
  /** MQTT 5 retain handling (0, 1 or 2). */
  rh?: number;
}

export interface SubscribePacket {
  cmd: 'subscribe';
  messageId: number;
  subscriptions: Subscription[];
  properties?: SubscribeProperties;
}

export interface SubackPacket {
  cmd: 'suback';
  messageId: number;
  /** Granted QoS (0, 1, 2), 0x80 failure (3.1.1), or an MQTT 5 reason code per filter. */
  granted: number[];
  properties?: AckProperties;
}

export interface UnsubscribePacket {
  cmd: 'unsubscribe';
  messageId: number;
  unsubscriptions: string[];
  properties?: UnsubscribeProperties;
}

export interface UnsubackPacket {
  cmd: 'unsuback';
  messageId: number;
  /** MQTT 5 reason code per filter; absent for 3.1 / 3.1.1. */
  granted?: number[];
  properties?: AckProperties;
}

export interface PingreqPacket {
  cmd: 'pingreq';
}
export interface PingrespPacket {
  cmd: 'pingresp';
}

export interface DisconnectPacket {
  cmd: 'disconnect';
  /** MQTT 5 only. */
  reasonCode?: number;
  properties?: DisconnectProperties;
}

/** MQTT 5 only. */
export interface AuthPacket {
  cmd: 'auth';
  reasonCode: number;
  properties?: AuthProperties;
}

export type MqttPacket =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;

export type PacketCommand = MqttPacket['cmd'];

// ---------------------------------------------------------------------------------------------
// Codec options
// ---------------------------------------------------------------------------------------------

export interface DecoderOptions {
  /**
   * Largest packet accepted, in bytes, fixed header included. Checked against the remaining length
   * in the fixed header before the body is buffered. Default DEFAULT_MAX_PACKET_SIZE (1 MiB).
   */
  maxPacketSize?: number;
  /**
   * The protocol version of the stream. Leave unset on a server: the first CONNECT fixes it.
   * Set it when decoding a stream that does not start with CONNECT (a client's view, tests).
   */
  protocolVersion?: ProtocolVersion;
}

export interface EncoderOptions {
  protocolVersion: ProtocolVersion;
}

export interface WriterOptions extends EncoderOptions {
  /**
   * Bytes queued in the writer's batch and the stream (its writableLength) at or above which the writer
   * reports itself full (`writer.full`) until they drain. Writes are still accepted when full. Default 64 KiB.
   */
  highWaterMark?: number;
}

// ---------------------------------------------------------------------------------------------
// Server and endpoint
// ---------------------------------------------------------------------------------------------

export interface MqttServerOptions {
  /** Largest inbound packet in bytes (advertised to MQTT 5 clients in CONNACK). Default 1 MiB. */
  maxPacketSize?: number;
  /** Time allowed from the connection to a valid CONNECT and from CONNECT to accept()/reject(). Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Inbound topic aliases an MQTT 5 client may use (CONNACK topic alias maximum). 0 disables. Default 32. */
  topicAliasMaximum?: number;
  /**
   * Inbound QoS 1/2 PUBLISHes (and, separately, SUBSCRIBE/UNSUBSCRIBE) that may wait for the host's
   * answer. Advertised to MQTT 5 clients as receive maximum. Beyond it, up to as many packets are parked
   * (acknowledgements from the client are still read); then the endpoint stops reading. Default 64.
   */
  receiveMaximum?: number;
  /**
   * MQTT 5: an MQTT 5 client that has more unacknowledged QoS 1/2 PUBLISHes than the receive maximum it
   * was given (QoS 1 until PUBACK, QoS 2 until PUBCOMP) is disconnected with 0x93 receive maximum exceeded,
   * as the specification requires. `false` tolerates such clients (some, e.g. mqtt.js 5, do not count):
   * their excess PUBLISHes are parked and reading stops, as for 3.1.1 clients. Default true.
   */
  enforceReceiveMaximum?: boolean;
  /**
   * Outbound in-flight window (unacknowledged QoS 1/2 PUBLISHes to the client) for 3.1 / 3.1.1 clients,
   * and the upper bound for MQTT 5 clients (which announce their own receive maximum). Default 32.
   */
  outboundWindow?: number;
  /** Write buffer high-water mark in bytes, see WriterOptions.highWaterMark. Default 64 KiB. */
  writeHighWaterMark?: number;
  /**
   * MQTT 5: keep-alive (seconds) the server imposes, sent as CONNACK server keep-alive. Unset: the
   * client's own value is used. Ignored for 3.1 / 3.1.1.
   */
  serverKeepAlive?: number;
  /** Generates the client id assigned to a client that sent an empty one. Default: 'dragoman-' + random UUID. */
  assignClientId?: () => string;
  /**
   * After the client's side of the stream has gone, packets it sent before are still handled in order
   * (a DISCONNECT among them is a clean disconnect). This bounds how long the endpoint waits for a host
   * that has paused it or is full to take them; then it closes (connection-lost) and drops the rest.
   * Default 10 000 ms.
   */
  drainTimeoutMs?: number;
  /**
   * MQTT 5 enhanced authentication (AUTH packets): decides each step of an exchange that a CONNECT with an
   * authentication method, or a client's AUTH 0x19 (re-authentication) after CONNACK, begins. Without it a
   * CONNECT with an authentication method gets CONNACK 0x8C (bad authentication method). An exchange at
   * CONNECT must end within connectTimeoutMs (counted from the connection), a re-authentication within
   * connectTimeoutMs of its AUTH 0x19; `step.signal` aborts when that time runs out or the connection closes.
   */
  authenticate?: AuthenticateHook;
}

// ---------------------------------------------------------------------------------------------
// MQTT 5 enhanced authentication
// ---------------------------------------------------------------------------------------------

/** One step of an MQTT 5 enhanced-authentication exchange, handed to the `authenticate` hook. */
export interface AuthenticationStep {
  /**
   * 'connect': the exchange a CONNECT began (its CONNACK waits for the outcome); 're-authenticate': one the
   * client began with AUTH 0x19 after CONNACK (the connection carries on meanwhile).
   */
  readonly kind: 'connect' | 're-authenticate';
  /** The authentication method the CONNECT named (e.g. 'SCRAM-SHA-256'); every AUTH repeats it. */
  readonly method: string;
  /** The client's authentication data in this step's packet (CONNECT or AUTH), if any. */
  readonly data: Buffer | undefined;
  /** 0 for the packet that began the exchange (CONNECT / AUTH 0x19), then 1, 2, … for each AUTH 0x18. */
  readonly step: number;
  /** The same Map for every step of one exchange, for the hook's own state (a SCRAM nonce, say). */
  readonly state: Map<string, unknown>;
  /** User properties of this step's packet. */
  readonly userProperties: UserProperties | undefined;
  /** The client's endpoint (client id, username, password, CONNECT); in state 'connecting' during CONNECT. */
  readonly endpoint: MqttEndpoint;
  /** Aborted when the exchange is abandoned: the connection closed or its time ran out. */
  readonly signal: AbortSignal;
}

/** The hook's answer to one step. */
export type AuthenticationOutcome =
  /** Another round: the server sends AUTH 0x18 with `data` and waits for the client's AUTH 0x18. */
  | { result: 'continue'; data?: Buffer; reasonString?: string; userProperties?: UserProperties }
  /**
   * Authenticated. At CONNECT the endpoint is handed to the host ('endpoint') and its CONNACK carries the
   * method and `data`; for a re-authentication the server sends AUTH 0x00 with them.
   */
  | { result: 'success'; data?: Buffer; reasonString?: string; userProperties?: UserProperties }
  /**
   * Not authenticated: at CONNECT, CONNACK with `reasonCode`; a re-authentication ends the connection with
   * DISCONNECT `reasonCode`. A reason code >= 0x80, default 0x87 (not authorized); 0x8C (bad authentication
   * method) for a method the host does not support.
   */
  | { result: 'failure'; reasonCode?: number; reasonString?: string };

/**
 * Decides a step of an enhanced-authentication exchange. May be async; a thrown error or rejection fails
 * the exchange with 0x80 (unspecified error).
 */
export type AuthenticateHook = (
  step: AuthenticationStep,
) => AuthenticationOutcome | Promise<AuthenticationOutcome>;

/** What the host answers to CONNECT with. */
export interface AcceptOptions {
  sessionPresent?: boolean;
  /**
   * MQTT 5 CONNACK properties to add. The endpoint itself sets receiveMaximum, topicAliasMaximum,
   * maximumPacketSize, assignedClientIdentifier and serverKeepAlive from its options.
   */
  properties?: ConnackProperties;
}

export interface RejectOptions {
  /** MQTT 5 CONNACK properties (reasonString, serverReference, userProperties). */
  properties?: ConnackProperties;
}

/** An inbound message as the host sees it; topic aliases are already resolved. */
export interface PublishMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Packet identifier (qos > 0). */
  messageId?: number;
  /** MQTT 5 properties, topicAlias removed. Response topic, correlation data, user properties pass through. */
  properties?: PublishProperties;
}

/** Options of an acknowledgement written by the host (MQTT 5 reason code and properties; ignored for 3.1.1). */
export interface AckOptions {
  reasonCode?: number;
  properties?: AckProperties;
}

/** A message to send to the client. */
export interface OutboundMessage {
  topic: string;
  payload: Buffer | Uint8Array | string;
  qos?: QoS;
  retain?: boolean;
  properties?: PublishProperties;
}

/** The client's answer to an outbound QoS 1/2 message (PUBACK, or PUBREC then PUBCOMP). */
export interface PublishOutcome {
  /** 0 when accepted; an MQTT 5 reason code >= 0x80 when the client refused it (then no PUBREL follows). */
  reasonCode: number;
  properties?: AckProperties;
}

/**
 * Node-style callback of `MqttEndpoint.publishWithCallback`: called once, with the outcome publish()'s promise
 * would resolve to, or with the error it would reject with.
 */
export type PublishCallback = (error: Error | undefined, outcome: PublishOutcome | undefined) => void;

/** Passed to PublishOptions.onReceived between PUBREC and PUBREL of an outbound QoS 2 message. */
export interface PubrecInfo {
  messageId: number;
  reasonCode: number;
  properties?: AckProperties;
}

export interface PublishOptions {
  /**
   * Aborting stops waiting: the promise rejects with MqttPublishError 'aborted'. A message already
   * written stays in flight (and in pendingPublishes()) until the client acknowledges it.
   */
  signal?: AbortSignal;
  /**
   * QoS 2: called when PUBREC arrives; PUBREL is sent when the returned promise resolves (for a gateway:
   * once the other side has taken responsibility). If it rejects, the connection is closed and the
   * message stays pending (state 'pubrel') so it can be resumed.
   */
  onReceived?: (info: PubrecInfo) => void | Promise<void>;
  /**
   * QoS 1/2: the packet identifier to send the PUBLISH with (1..65535), chosen by the host — e.g. a gateway
   * whose session store numbers a client's messages, so that a redelivery on a later connection carries the
   * same identifier. Default: the endpoint picks a free one. An identifier already in flight on this
   * connection is refused with MqttPublishError 'packet-id-in-use'; one outside 1..65535 with
   * 'invalid-message'. Ignored for QoS 0.
   */
  messageId?: number;
  /**
   * QoS 1/2: sets the DUP flag — the message is a redelivery of one an earlier connection sent (and may
   * have reached the client). Ignored for QoS 0 (DUP is always 0 there). Default false.
   */
  dup?: boolean;
}

/** A PUBREL the connection has no QoS 2 flow for (see the 'pubrelUnknown' event). */
export interface UnknownPubrel {
  readonly messageId: number;
  /** Writes PUBCOMP (reason code 0 unless given); once only, a no-op after the endpoint closed. */
  complete(options?: AckOptions): void;
}

/**
 * An outbound QoS 1/2 message the client has not completed; the host stores these for session resume and
 * gives them back to `resend()` on the next connection.
 */
export interface PendingPublish {
  messageId: number;
  /**
   * The message. For state 'pubrel' only the packet identifier goes on the wire (a PUBREL): a host that no
   * longer has the message may pass any placeholder (its topic is not checked).
   */
  message: OutboundMessage & { qos: 1 | 2 };
  /** 'publish': PUBLISH sent, no PUBACK/PUBREC yet. 'pubrel': PUBREC received, PUBCOMP outstanding. */
  state: 'publish' | 'pubrel';
}

/**
 * A topic filter of a SUBSCRIBE or UNSUBSCRIBE as the endpoint validated it: `$share/<group>/<filter>`
 * from an MQTT 5 client is taken apart; from 3.1 / 3.1.1 clients every filter is ordinary.
 */
export interface ParsedTopicFilter {
  /** The filter to match topics against: `topic` itself, or for a shared subscription the part after the share name. */
  filter: string;
  /** The share name of an MQTT 5 shared subscription; `undefined` for an ordinary filter. */
  group: string | undefined;
}

/** One SUBSCRIBE entry as the host gets it: the client's fields plus the parsed filter. */
export interface RequestedSubscription extends Subscription, ParsedTopicFilter {}

export interface SubscribeRequest {
  messageId: number;
  subscriptions: RequestedSubscription[];
  properties?: SubscribeProperties;
}

export interface UnsubscribeRequest {
  messageId: number;
  /** The filters as the client sent them. */
  unsubscriptions: string[];
  /** The same filters parsed, in the same order. */
  filters: ParsedTopicFilter[];
  properties?: UnsubscribeProperties;
}

/** Why an endpoint closed; read it from endpoint.closeReason or the 'close' event. */
export type CloseReason =
  /** The client sent DISCONNECT. reasonCode 0x04 (MQTT 5) means "disconnect with will message". */
  | { kind: 'client-disconnect'; reasonCode: number; properties?: DisconnectProperties }
  /** The host called endpoint.disconnect() / close(). */
  | { kind: 'server-disconnect'; reasonCode: number }
  /** The host rejected the CONNECT. */
  | { kind: 'rejected'; reasonCode: number }
  /** The client broke the protocol (or sent a packet we could not decode). */
  | { kind: 'protocol-error'; reasonCode: number; error: Error }
  /** Nothing was received within 1.5 x keep-alive. */
  | { kind: 'keep-alive-timeout' }
  /** No valid CONNECT (or no accept/reject by the host) within connectTimeoutMs. */
  | { kind: 'connect-timeout' }
  /** The stream ended or failed without a DISCONNECT. */
  | { kind: 'connection-lost'; error?: Error };

export type EndpointState = 'connecting' | 'connected' | 'closed';

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/** Events of MqttWriter. */
export interface MqttWriterEvents {
  /** The queued bytes fell below the high-water mark after the writer had been full. */
  drain: [];
}

/** Events of MqttServer. */
export interface MqttServerEvents {
  /**
   * A client sent a valid CONNECT. Call endpoint.accept() or endpoint.reject() (within connectTimeoutMs).
   * Without a listener every client is rejected with 0x88 server unavailable.
   */
  endpoint: [endpoint: MqttEndpoint];
  /** A connection closed before the host was given an endpoint (bad or missing CONNECT, timeout, loss). */
  connectionError: [reason: CloseReason, stream: Duplex];
}

/** Events of MqttEndpoint. */
export interface MqttEndpointEvents {
  /** An inbound PUBLISH (topic alias resolved). Acknowledge it with ack() / received() + complete(). */
  publish: [message: InboundPublish];
  /** Answer with request.grant(codes). Without a listener every filter gets 0x80. */
  subscribe: [request: InboundSubscribe];
  /** Answer with request.done(codes?). Without a listener every filter gets 0x00. */
  unsubscribe: [request: InboundUnsubscribe];
  /**
   * A PUBREL for a packet identifier with no QoS 2 flow on this connection (its PUBLISH came over an earlier
   * one): the host releases what it keeps for it elsewhere, then calls `release.complete()`, which writes
   * PUBCOMP. At most receiveMaximum wait for the host; the next one waits (and reading stops) until one
   * completes. Without a listener, PUBCOMP (MQTT 5: 0x92 packet identifier not found) is written at once.
   */
  pubrelUnknown: [release: UnknownPubrel];
  /** The client sent DISCONNECT; 'close' follows. */
  disconnect: [packet: DisconnectPacket];
  /** MQTT 5: a re-authentication (AUTH 0x19) succeeded; the AUTH 0x00 has been written. */
  reauthenticated: [];
  /** canPublish became true again (in-flight window has room and the write buffer drained). */
  windowOpen: [];
  /** The endpoint closed; endpoint.closeReason says why. Emitted once. */
  close: [reason: CloseReason];
}

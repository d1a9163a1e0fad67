/**
 * Public types of the gateway bridge (the MQTT-facing front end of MQTT over AMQP).
 */
import type { ConnectOptions } from '@dragoman/amqp';
import type { TenantResolver } from '../authz/tenants';
import type { AuthorizationDenial, Authorizer } from '../authz/types';
import type { AddressOptions, Dialect, DialectName } from '../types';

/**
 * How AMQP connections serve MQTT clients.
 * - `pooled` (default): a few shared AMQP connections; each MQTT client gets its own set of links on one
 *   of them. Links are cheap, connections are not (a socket, a TLS handshake, SASL, heartbeats each).
 * - `per-client`: one AMQP connection per MQTT client, opened at CONNECT and closed with it. Needed to
 *   carry the client's own credentials to AMQP (`credentials: 'client'`), and it makes the MQTT keep-alive
 *   the AMQP idle time-out of that connection.
 */
export type AmqpConnectionMode = 'pooled' | 'per-client';

/**
 * Whose identity the AMQP connection carries.
 * - `gateway` (default): the `amqp` options' own (SASL ANONYMOUS, or the URL's user).
 * - `client` (per-client mode only): the MQTT CONNECT user name and password as SASL PLAIN; an AMQP
 *   authentication failure answers CONNACK "not authorized" (3.1.1 return code 5, MQTT 5 0x87).
 * - `client-identity` (per-client mode only): SASL EXTERNAL with the `amqp` options' TLS client certificate
 *   (the gateway's), asking to act as the client: the authorization identity (authzid) is the client's user
 *   name as the bridge sees it — for a device certificate, the identity its subject gave. The network decides
 *   whether the gateway may act as that identity; a refusal answers CONNACK "not authorized".
 */
export type CredentialsMode = 'gateway' | 'client' | 'client-identity';

export interface GatewayBridgeOptions {
  /** How to reach the AMQP network: options of `@dragoman/amqp` `connect()` (url, sasl, tls, reconnect, …). */
  readonly amqp: ConnectOptions;
  /** Default `pooled`. */
  readonly connectionMode?: AmqpConnectionMode;
  /** Number of shared AMQP connections in `pooled` mode, opened lazily as clients arrive. Default 2. */
  readonly poolSize?: number;
  /** Default `gateway`. `client` requires `connectionMode: 'per-client'`. */
  readonly credentials?: CredentialsMode;
  /** Addresses of the services and per-client addresses (default: the spec's). */
  readonly addresses?: AddressOptions;
  /** How MQTT QoS / retain / DUP are spelled on AMQP messages. Default `enmasse` (the spec). */
  readonly dialect?: DialectName | Dialect;
  /**
   * Time allowed for the AMQP part of a CONNECT: taking over the client id, the AMQP connection, the will
   * link and its outcome, the subscription-service link, AMQP_CLOSE or AMQP_LIST and its reply. Beyond it the
   * client gets CONNACK "server unavailable". Keep it below the MQTT server's `connectTimeoutMs` (default
   * 10 000), or the endpoint closes first. Default 8 000 ms.
   */
  readonly connectTimeoutMs?: number;
  /**
   * Time allowed for an AMQP_SUBSCRIBE / AMQP_UNSUBSCRIBE outcome (then SUBACK failure / UNSUBACK 0x80) and
   * for attaching a topic or pubrel link. Default 10 000 ms.
   */
  readonly stepTimeoutMs?: number;
  /**
   * The largest AMQP message the bridge takes from the network for a client (bytes; 0: no limit), announced as
   * max-message-size on its receiving links: a larger one detaches the link with
   * `amqp:link:message-size-exceeded`. Default `DEFAULT_MAX_MESSAGE_SIZE` of @dragoman/amqp (2 MiB); a host
   * that admits larger MQTT packets raises it with them (the `dragoman` gateway: twice `--max-packet-size`).
   */
  readonly maxMessageSize?: number;
  /**
   * Topic sender links kept open per client (a topic has up to two: QoS 0/1 and QoS 2). Beyond this the
   * least recently used link is detached; publishing to its topic again re-attaches it. Default 32.
   */
  readonly maxPublishLinksPerClient?: number;
  /**
   * Longest keep-alive granted, seconds. A client asking for more (or for 0, "no keep-alive") is given this
   * value: MQTT 5 clients are told so in CONNACK (server keep-alive); for 3.1.1 clients, which cannot be
   * told, the endpoint's own keep-alive applies. 0 disables the cap. Default 3 600 (1 hour).
   */
  readonly maxKeepAliveSeconds?: number;
  /**
   * Longest MQTT 5 session expiry interval granted, seconds: a client asking for more (CONNECT or DISCONNECT)
   * gets this one, announced in CONNACK (session expiry interval). 3.1.1 sessions are not capped (clean
   * session false never expires). Default 0xFFFFFFFF: no cap — the Subscription service's store bounds the
   * number of sessions (`maxSessions`).
   */
  readonly maxSessionExpirySeconds?: number;
  /** SUBACK reason code for a filter the Subscription service refuses without a more precise condition. Default 0x80. */
  readonly subscribeFailureReasonCode?: number;
  /**
   * Send AMQP_WILL_CLEAR before detaching the will link on a clean DISCONNECT (for a Will service that
   * cannot read detach errors). Default false: the error-free detach alone says "drop the will".
   */
  readonly sendWillClear?: boolean;
  /**
   * MQTT 5: give clients that announce a topic alias maximum aliases on the messages sent to them (least
   * recently used alias re-bound when all are taken). Needs an MQTT endpoint that writes outbound aliases;
   * where it refuses an alias-only PUBLISH the bridge falls back to full topics for that client. Default false.
   */
  readonly outboundTopicAliases?: boolean;
  /**
   * AMQP idle time-out of pooled connections, ms (in per-client mode the client's keep-alive is used).
   * Default 60 000.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Asked before any AMQP work for every PUBLISH and every subscription filter (README, "Authorization").
   * A denied PUBLISH gets PUBACK / PUBREC with the reason code (MQTT 5, default 0x87); for MQTT 3.1.1 it is
   * dropped and still acknowledged (so the client does not resend it forever). A denied filter gets SUBACK
   * 0x87 (MQTT 5) / 0x80 (3.1.1). Default: everything allowed (except the reserved `$mqtt` addresses).
   */
  readonly authorize?: Authorizer;
  /** Time the `authorize` hook has to answer; beyond it the request is denied. Default 5 000 ms. */
  readonly authorizeTimeoutMs?: number;
  /** Told about every denial (hook said no, threw, or timed out), e.g. to log and count it. */
  readonly onDenied?: (denial: AuthorizationDenial) => void;
  /**
   * Multi-tenancy (README, "Tenants"): how each client's tenant is derived from its identity —
   * `'username-prefix'` (user name `<tenant>/<user>`) or a function. Every AMQP name the client touches is
   * then scoped to its tenant; a client whose tenant cannot be derived gets CONNACK "not authorized".
   * Default: no tenants.
   */
  readonly tenantFrom?: 'username-prefix' | TenantResolver;
  /**
   * Subscriptions one client (session) may hold, those restored with its session included. A new filter beyond
   * it gets SUBACK 0x97 quota exceeded (3.1.1: 0x80); re-subscribing a held filter is not a new one. Default 100.
   */
  readonly maxSubscriptionsPerClient?: number;
  /**
   * Longest topic name or filter, in UTF-8 bytes. Longer: PUBLISH answered 0x90 topic name invalid (3.1.1:
   * dropped and acknowledged), filter SUBACK 0x8F topic filter invalid (3.1.1: 0x80). Default 1 024.
   */
  readonly maxTopicLength?: number;
  /** Most levels (`/`-separated parts) in a topic name or filter; beyond it as for `maxTopicLength`. Default 32. */
  readonly maxTopicLevels?: number;
  /** Told each time a client hits one of the limits above (e.g. to count `dragoman_limit_hits_total`). */
  readonly onLimit?: (limit: BridgeLimit) => void;
}

/** The bridge limits `onLimit` reports. */
export type BridgeLimit =
  | 'subscriptions-per-client'
  | 'topic-length'
  | 'topic-levels'
  /** The AMQP side refused a publish with `amqp:resource-limit-exceeded` (retained store full, …). */
  | 'amqp-resource-limit';

export type BridgeState = 'connecting' | 'connected' | 'closing' | 'closed';

/** Counters of one client's bridge; every field is a plain number so tests can compare them. */
export interface BridgeStats {
  readonly clientId: string;
  readonly state: BridgeState;
  /** AMQP deliveries received for the client and not yet settled (written or waiting for the client). */
  readonly heldDeliveries: number;
  /** Credit granted on the client's publish address and not yet used by the peer. */
  readonly outstandingCredit: number;
  /** Open sender links to topics. */
  readonly publishLinks: number;
  /** Client PUBLISHes read from the socket and waiting for a link or credit. */
  readonly queuedPublishes: number;
  /** Client PUBLISHes sent to AMQP and waiting for their outcome. */
  readonly unconfirmedPublishes: number;
  /** Whether reading from the client's socket is paused (no AMQP credit). */
  readonly paused: boolean;
  /**
   * Client QoS 2 exchanges PUBRECed and waiting for PUBREL: `held` keep their AMQP delivery unsettled (the
   * spec's steps), `explicit` were settled and wait for AMQP_PUBLISH_RELEASED (docs/mqtt-over-amqp-mapping.md).
   */
  readonly qos2InProgress: { readonly held: number; readonly explicit: number };
  /** Client QoS 2 exchanges released at PUBREC because both bounds were full (a re-send after a reconnect is routed again). */
  readonly qos2ReleasedAtPubrec: number;
}

/**
 * PUBLISHes a gateway's bridges have handled since it was made, by QoS (index 0, 1, 2); they only grow.
 * `BridgeGateway.messageCounts()`.
 */
export interface MessageCounts {
  /** PUBLISHes clients sent, each as its endpoint handed it over (also those then refused or not authorized). */
  readonly received: readonly [number, number, number];
  /**
   * PUBLISHes written to clients and completed: QoS 0 once written, QoS 1 / 2 once the client answered
   * (PUBACK, PUBCOMP, or a refusal code). A re-send after a refused attempt counts once more.
   */
  readonly delivered: readonly [number, number, number];
  /**
   * Attempts to write a PUBLISH to a client that failed: refused by the endpoint (window full, too large for
   * the client, …) or ended before the client answered (the connection closed). Some are then retried.
   */
  readonly failed: number;
}

/** Counters of the gateway: sums over its clients, plus its AMQP connections. */
/** Options of `BridgeGateway.close()`. */
export interface BridgeCloseOptions {
  /**
   * How long (ms) to wait for the PUBLISHes already taken to get their AMQP outcome and acknowledgement
   * before the clients are disconnected. Default 0: disconnect at once. `Infinity`: until drained or `signal`.
   */
  readonly drainMs?: number;
  /** Aborting it ends the drain at once (e.g. the host's shutdown deadline). */
  readonly signal?: AbortSignal;
}

export interface GatewayStats {
  readonly clients: number;
  readonly amqpConnections: number;
  readonly heldDeliveries: number;
  readonly outstandingCredit: number;
  readonly publishLinks: number;
  readonly queuedPublishes: number;
  readonly unconfirmedPublishes: number;
  /** The largest `heldDeliveries` one client has had at any time. */
  readonly heldDeliveriesHighWater: number;
  /** Clients whose socket is paused right now (no AMQP credit for their publishes). */
  readonly pausedClients: number;
}

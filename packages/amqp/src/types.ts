import type { AddressInfo } from 'node:net';
import type { ConnectionOptions as TlsConnectOptions, TlsOptions } from 'node:tls';
import type { AmqpConnection } from './connection';
import type { Delivery } from './delivery';
import type { AmqpError, AmqpErrorCondition } from './errors';
import type { InProcessTransport } from './in-process';
import type { IncomingLink } from './incoming-link';

// ---------------------------------------------------------------------------
// Settle modes
// ---------------------------------------------------------------------------

/** AMQP sender settle mode: `unsettled` (0), `settled` (1, pre-settled), `mixed` (2). */
export type SenderSettleMode = 'unsettled' | 'settled' | 'mixed';
/** AMQP receiver settle mode: `first` (0) settles on its outcome, `second` (1) waits for the sender to settle. */
export type ReceiverSettleMode = 'first' | 'second';

export interface SettleModes {
  readonly sender: SenderSettleMode;
  readonly receiver: ReceiverSettleMode;
}

/** Named presets for the settle-mode pairs. */
export type DeliveryGuarantee = 'at-most-once' | 'at-least-once' | 'exactly-once';

export const SETTLE_MODE_PRESETS: Readonly<Record<DeliveryGuarantee, SettleModes>> = Object.freeze({
  'at-most-once': Object.freeze({ sender: 'settled', receiver: 'first' }),
  'at-least-once': Object.freeze({ sender: 'unsettled', receiver: 'first' }),
  'exactly-once': Object.freeze({ sender: 'unsettled', receiver: 'second' }),
});

// ---------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------

export interface AcceptedOutcome {
  readonly state: 'accepted';
}
export interface RejectedOutcome {
  readonly state: 'rejected';
  /** The error the receiver gave, if any. */
  readonly error: AmqpError | undefined;
}
export interface ReleasedOutcome {
  readonly state: 'released';
}
export interface ModifiedOutcome {
  readonly state: 'modified';
  readonly deliveryFailed: boolean;
  readonly undeliverableHere: boolean;
  readonly messageAnnotations: Readonly<Record<string, unknown>> | undefined;
}
/** The terminal outcome of a delivery, as reported by the receiving peer. */
export type Outcome = AcceptedOutcome | RejectedOutcome | ReleasedOutcome | ModifiedOutcome;

/** Flags for the `modified` outcome. All optional; unset flags are false. */
export interface ModifyFlags {
  readonly deliveryFailed?: boolean;
  readonly undeliverableHere?: boolean;
  readonly messageAnnotations?: Readonly<Record<string, unknown>>;
}

/** Result of a pre-settled (at-most-once) send: there is no outcome, only "written". */
export interface SettledSendResult {
  readonly state: 'sent';
}

/** What `send()` resolves to: the peer's outcome, or `{ state: 'sent' }` for pre-settled sends. */
export type SendResult = Outcome | SettledSendResult;

/**
 * Link capability of the exactly-once confirmation Dragoman adds to AMQP: a sender desires it, a receiver with
 * receiver settle mode `second` offers it, and when both did, the receiver answers the sender's settlement with
 * a settled disposition of its own, so the sender knows when the receiver has settled too. Peers that do not
 * know it simply do not offer it.
 */
export const SETTLEMENT_CONFIRMATION_CAPABILITY = 'dragoman:settlement-confirmation';

/** Where a `HeldDelivery` stands. */
export type HeldDeliveryState =
  /** The receiver's outcome arrived; the delivery waits for `settle()`. */
  | 'held'
  /** Settled by us; waiting for the receiver to confirm its settlement. */
  | 'settling'
  /** Settled on both sides. */
  | 'settled'
  /** The link went away before both sides settled: the delivery can no longer be settled. */
  | 'lost';

/**
 * An exactly-once delivery (receiver settle mode `second`) whose receiver has given its outcome, held unsettled
 * by the sender until `settle()`: what `Sender.sendHeld()` resolves to.
 */
export interface HeldDelivery {
  /** The receiver's outcome. */
  readonly outcome: Outcome;
  readonly state: HeldDeliveryState;
  /**
   * Settles the delivery (the second step of exactly-once). Returns false, doing nothing, once settled or lost
   * (its link went away: the receiver keeps or drops its state as its own rules say).
   */
  settle(): boolean;
  /**
   * Resolves once settled on both sides: when the receiver confirms (a peer that offered
   * `SETTLEMENT_CONFIRMATION_CAPABILITY`, e.g. a Dragoman receiver), else as soon as our settlement is handed to
   * the connection (the protocol tells nothing more). At once when the receiver settled together with its
   * outcome. Rejects with `LinkClosedError` / `ConnectionClosedError` when the link goes away first.
   */
  whenSettled(): Promise<void>;
}

/** Node-style callback for `trySend`: `error` is set when the delivery could not complete. */
export type SendCallback = (error: Error | undefined, result: SendResult | undefined) => void;

// ---------------------------------------------------------------------------
// Error description (wire form of an AMQP error)
// ---------------------------------------------------------------------------

/** An AMQP error as it travels on the wire: what `close(error)` and `reject(error)` accept. */
export interface AmqpErrorInit {
  readonly condition: AmqpErrorCondition;
  readonly description?: string;
  readonly info?: Readonly<Record<string, unknown>>;
}

// ---------------------------------------------------------------------------
// Termini
// ---------------------------------------------------------------------------

/** Terminus durability: none (0), configuration (1), unsettled-state (2). */
export type TerminusDurability = 'none' | 'configuration' | 'unsettled-state';
export type TerminusExpiryPolicy = 'link-detach' | 'session-end' | 'connection-close' | 'never';
export type DistributionMode = 'move' | 'copy';

/** Options shared by source and target termini. */
export interface TerminusOptions {
  readonly address?: string;
  readonly durable?: TerminusDurability;
  readonly expiryPolicy?: TerminusExpiryPolicy;
  /** Seconds the terminus survives after its expiry policy triggers. */
  readonly timeout?: number;
  /** Ask the peer to create a node and give it an address (the address is then read from the attached terminus). */
  readonly dynamic?: boolean;
  readonly dynamicNodeProperties?: Readonly<Record<string, unknown>>;
  readonly capabilities?: readonly string[];
}

export interface SourceOptions extends TerminusOptions {
  readonly distributionMode?: DistributionMode;
  /** Filter set, keyed by filter name; values are AMQP described values (e.g. from `rhea.filter`) or plain values. */
  readonly filter?: Readonly<Record<string, unknown>>;
}

export type TargetOptions = TerminusOptions;

/** A terminus as attached (read from the peer's attach frame). */
export interface Terminus {
  readonly address: string | undefined;
  readonly durable: TerminusDurability;
  readonly expiryPolicy: TerminusExpiryPolicy;
  readonly timeout: number;
  readonly dynamic: boolean;
  readonly capabilities: readonly string[];
  /** Source only. */
  readonly distributionMode?: DistributionMode | undefined;
  /** Source only. */
  readonly filter?: Readonly<Record<string, unknown>> | undefined;
}

// ---------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------

export interface LinkOptions {
  /** Link name; a random UUID when omitted. Link names must be unique per connection and direction. */
  readonly name?: string;
  readonly source?: string | SourceOptions;
  readonly target?: string | TargetOptions;
  /** Settle-mode preset. Default 'at-least-once'. */
  readonly guarantee?: DeliveryGuarantee;
  /** Raw settle modes; override the preset field by field. */
  readonly settleModes?: Partial<SettleModes>;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly offeredCapabilities?: readonly string[];
  readonly desiredCapabilities?: readonly string[];
  /**
   * max-message-size in our attach, bytes; 0 for no limit. A receiver takes no message larger: one that is
   * dropped and the link detached with `amqp:link:message-size-exceeded` (the Receiver closes with that
   * `LinkError`). Default for receivers `DEFAULT_MAX_MESSAGE_SIZE` (2 MiB); senders state none unless given.
   */
  readonly maxMessageSize?: number;
  /** Give up on the attach after this many milliseconds (default 30 000). */
  readonly attachTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface SenderOptions extends LinkOptions {
  /**
   * Maximum number of sends waiting for credit (or for a reconnect). When full, `send` rejects with
   * `SendQueueFullError` and `trySend` returns false. Default 1 000; 0 disables queueing.
   */
  readonly maxQueued?: number;
}

export interface ReceiverOptions extends LinkOptions {
  /**
   * Managed credit window: credit is topped up to this value as deliveries are handed to the application.
   * 0 selects manual credit (`addCredit(n)`, `drain()`). Default 100.
   */
  readonly creditWindow?: number;
}

export interface SendOptions {
  /** Aborting removes a queued send (rejects with the signal's reason); a send already written is not recalled. */
  readonly signal?: AbortSignal;
}

export type LinkRole = 'sender' | 'receiver';

/** Static description of a link, both for links we open and links a peer attaches. */
export interface LinkInfo {
  readonly name: string;
  readonly role: LinkRole;
  readonly source: Terminus | undefined;
  readonly target: Terminus | undefined;
  readonly settleModes: SettleModes;
  readonly properties: Readonly<Record<string, unknown>> | undefined;
}

/** Why a link or connection closed: `error` is undefined for a clean close. */
export interface CloseInfo {
  /** True when the peer initiated the close/detach. */
  readonly remote: boolean;
  readonly error: AmqpError | undefined;
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

export type SaslMechanism = 'ANONYMOUS' | 'PLAIN' | 'EXTERNAL';

export type SaslOptions =
  | { readonly mechanism: 'ANONYMOUS'; readonly identity?: string }
  | { readonly mechanism: 'PLAIN'; readonly username: string; readonly password: string }
  /**
   * The TLS client certificate is the credential. `authzid`: the identity to act as (SASL authorization
   * identity, sent as the initial response); default none — the certificate's own identity.
   */
  | { readonly mechanism: 'EXTERNAL'; readonly authzid?: string }
  | { readonly mechanism: 'none' };

export interface ReconnectOptions {
  /** Default true for `connect()`. */
  readonly enabled?: boolean;
  /** First delay, ms. Default 100. */
  readonly initialDelayMs?: number;
  /** Cap on the delay, ms. Default 30 000. */
  readonly maxDelayMs?: number;
  /** Growth factor per attempt. Default 2. */
  readonly multiplier?: number;
  /** Fraction of the delay randomised (0..1, "full jitter" at 1). Default 0.5. */
  readonly jitter?: number;
  /** Give up after this many consecutive failed attempts. Default Infinity. */
  readonly maxAttempts?: number;
  /** Injectable randomness in [0,1) for tests. Default Math.random. */
  readonly random?: () => number;
  /** Injectable timer for tests. */
  readonly clock?: Clock;
}

export interface Clock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ConnectOptions {
  /** `amqp://user:pass@host:port` or `amqps://…`; fields given separately override the URL. */
  readonly url?: string;
  readonly host?: string;
  readonly port?: number;
  readonly transport?: 'tcp' | 'tls';
  /** Passed through to `tls.connect` for amqps (ca, cert, key, servername, rejectUnauthorized, …). */
  readonly tls?: TlsConnectOptions;
  /** Default: PLAIN when the URL has credentials, else ANONYMOUS. */
  readonly sasl?: SaslOptions;
  readonly containerId?: string;
  /** The open frame's hostname (virtual host). Default: the host. */
  readonly hostname?: string;
  /** Our idle time-out, ms, announced to the peer (it sends heartbeats at half). Default 60 000; 0 disables. */
  readonly idleTimeoutMs?: number;
  /**
   * The largest frame this end accepts, announced in its open (512 to 4294967295; default
   * `DEFAULT_MAX_FRAME_SIZE`, 128 KiB). Peers split larger messages over several transfers; a frame declared
   * larger fails the connection (`ConnectionError` amqp:connection:framing-error) before it is buffered.
   */
  readonly maxFrameSize?: number;
  readonly channelMax?: number;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly offeredCapabilities?: readonly string[];
  readonly desiredCapabilities?: readonly string[];
  /** Give up on the initial connect after this many ms (default 30 000). */
  readonly connectTimeoutMs?: number;
  /** true/false or detailed options. Default enabled. */
  readonly reconnect?: boolean | ReconnectOptions;
  readonly signal?: AbortSignal;
  /**
   * Connect through this in-process transport (to the listener given the same one) instead of TCP/TLS:
   * host, port, transport and tls are then not used, and there are no heartbeats. Default: TCP/TLS.
   */
  readonly inProcess?: InProcessTransport;
}

export type ConnectionState = 'opening' | 'open' | 'reconnecting' | 'closing' | 'closed';

/** Options of `createInProcessTransport`. */
export interface InProcessTransportOptions {
  /**
   * Hand messages to the receiving end as the objects they are, without encoding and decoding them (default
   * false). The frames are the same (delivery ids, tags, settlement, credit, session windows, outcomes); only
   * the message is not turned into bytes: a transfer carries a private message format and no payload, and its
   * message object follows the frames in order through memory. What changes for the two ends:
   * - the Receiver's `Delivery.message` is the object the Sender was given (its sections, values and Buffers,
   *   not copies): neither end may change a message after sending or receiving it (`AmqpMessage` is read-only);
   * - values are not converted as a round trip through AMQP types would convert them (e.g. a value that
   *   carries its own AMQP type through `toRheaTyped()` arrives as that object, not as the plain value), and a
   *   message is not checked for being encodable;
   * - `Delivery.format` is 0, as for any standard message.
   * Connections of the transport keep encoding while rhea logs frames (DEBUG=rhea…).
   */
  readonly handOffMessages?: boolean;
}

export interface DisconnectedInfo {
  readonly error: Error | undefined;
  /** Whether a reconnect is scheduled. */
  readonly reconnecting: boolean;
  /** Delay before the next attempt, when reconnecting. */
  readonly delayMs: number | undefined;
}

/** Who the peer is, for inbound connections (and what we know of the server for outbound). */
export interface PeerInfo {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** SASL mechanism used, if any. */
  readonly mechanism: string | undefined;
  /** SASL identity (PLAIN username, ANONYMOUS trace, EXTERNAL certificate subject). */
  readonly user: string | undefined;
  readonly containerId: string | undefined;
  readonly hostname: string | undefined;
  readonly properties: Readonly<Record<string, unknown>> | undefined;
}

// ---------------------------------------------------------------------------
// Listener
// ---------------------------------------------------------------------------

export interface SaslPlainCredentials {
  readonly mechanism: 'PLAIN';
  readonly username: string;
  readonly password: string;
  readonly hostname: string | undefined;
}

export interface ListenOptions {
  /** Default '127.0.0.1'. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** TLS server options (key, cert, ca, requestCert, …): the listener speaks amqps when set. */
  readonly tls?: TlsOptions;
  readonly sasl?: {
    /** Mechanisms offered. Default ['ANONYMOUS'] (plus PLAIN when `authenticate` is given). */
    readonly mechanisms?: readonly SaslMechanism[];
    /** Checks PLAIN credentials. */
    readonly authenticate?: (credentials: SaslPlainCredentials) => boolean | Promise<boolean>;
  };
  readonly containerId?: string;
  readonly idleTimeoutMs?: number;
  /**
   * The largest frame this end accepts, announced in its open (512 to 4294967295; default
   * `DEFAULT_MAX_FRAME_SIZE`, 128 KiB). Peers split larger messages over several transfers; a frame declared
   * larger fails the connection (`ConnectionError` amqp:connection:framing-error) before it is buffered.
   */
  readonly maxFrameSize?: number;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly offeredCapabilities?: readonly string[];
  /** Connections beyond this are refused (socket closed). Default 1 000. */
  readonly maxConnections?: number;
  /**
   * Also accept the connections opened in this process through this transport (`connect({ inProcess })`),
   * besides the TCP/TLS port. They count towards `maxConnections`; they have no heartbeats.
   */
  readonly inProcess?: InProcessTransport;
}

export type { AddressInfo };

// ---------------------------------------------------------------------------
// Event maps
// ---------------------------------------------------------------------------

export interface SenderEvents {
  /** Credit is available and nothing is queued: a send now is written at once. */
  sendable: [];
  /** The link closed (locally or by the peer); `info.error` is set when the peer detached with an error. */
  close: [info: CloseInfo];
  /** Emitted (only when listened to) just before `close` when the link closed with an error. */
  error: [error: AmqpError];
}

export interface ReceiverEvents {
  /** A delivery arrived; when nobody listens, deliveries wait (bounded by credit) for `receive()` / `for await`. */
  delivery: [delivery: Delivery];
  /** A drain completed: the peer used or gave back all credit. */
  drained: [];
  close: [info: CloseInfo];
  error: [error: AmqpError];
}

export interface ConnectionEvents {
  open: [];
  close: [info: CloseInfo];
  /** Emitted only when listened to; the connection's fate is told by `disconnected`/`close`. */
  error: [error: Error];
  disconnected: [info: DisconnectedInfo];
  reconnected: [];
  /** A peer attached a link we did not open: accept or refuse it. */
  incomingLink: [link: IncomingLink];
}

export interface ListenerEvents {
  /** An inbound connection completed its open handshake (after SASL). */
  connection: [connection: AmqpConnection];
  error: [error: Error];
  close: [];
}

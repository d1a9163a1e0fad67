/**
 * MqttEndpoint: the server side of one MQTT connection. Not a broker: it enforces the protocol
 * (CONNECT first, keep-alive, packet identifiers, limits, flow control) and leaves every decision
 * (accept, acknowledge, grant, route) to the host.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { MqttDecoder } from './decoder';
import { encodePacket, MqttWriter } from './encoder';
import { AuthExchange, type AuthExchangeOwner, failureCode } from './enhanced-auth';
import { MqttConnectionClosedError, MqttProtocolError, MqttPublishError } from './errors';
import { InboundPublish, type InboundSink, InboundSubscribe, InboundUnsubscribe } from './inbound';
import { KeepAliveMonitor, type KeepAliveOwner } from './keep-alive';
import { OutboundFlow, type OutboundLink } from './outbound';
import { PacketIdMap } from './packet-id-map';
import { fromConnackReturnCode, ReasonCode, toConnackReturnCode, toSubackReturnCode } from './reason-codes';
import { parseSubscriptionFilter } from './shared-subscription';
import { InboundTopicAliases } from './topic-alias';
import { validateTopicName } from './topic-validation';
import type {
  AcceptOptions,
  AckOptions,
  AckProperties,
  AuthenticateHook,
  AuthenticationOutcome,
  AuthPacket,
  AuthProperties,
  CloseReason,
  ConnackPacket,
  ConnackProperties,
  ConnectPacket,
  ConnectProperties,
  DisconnectPacket,
  DisconnectProperties,
  EndpointState,
  MqttEndpointEvents,
  MqttPacket,
  OutboundMessage,
  ParsedTopicFilter,
  PendingPublish,
  ProtocolVersion,
  PublishCallback,
  PublishOptions,
  PublishOutcome,
  PublishPacket,
  PublishProperties,
  QoS,
  RejectOptions,
  RequestedSubscription,
  SubscribePacket,
  UnsubscribePacket,
  Will,
} from './types';

/** What an endpoint tells the server that accepted it (internal): one object per server, not per connection. */
export interface EndpointTracker {
  /** The CONNECT was read (and authenticated): the host is given the endpoint now. */
  connected(endpoint: MqttEndpoint): void;
  /** The endpoint closed before the host was given it. */
  closedEarly(endpoint: MqttEndpoint, reason: CloseReason, stream: Duplex): void;
  /** An endpoint the host was given has closed; called just before its 'close' event. */
  closed(endpoint: MqttEndpoint): void;
}

/** What the stream's listeners call on the endpoint reading it. */
interface StreamReader {
  streamData(chunk: Buffer): void;
  /** 'end' and 'close' (no error), or 'error'. */
  streamGone(error: Error | undefined): void;
}

/** On a stream while an endpoint reads it: the listeners below serve every endpoint and find theirs here. */
const STREAM_PORT = Symbol('dragoman.mqtt-endpoint');
type ReadStream = Duplex & { [STREAM_PORT]?: StreamReader };

// The stream's listeners, called with the stream as `this`: one of each for every connection, not three closures.

function onStreamData(this: ReadStream, chunk: Buffer): void {
  this[STREAM_PORT]?.streamData(chunk);
}

function onStreamGone(this: ReadStream): void {
  this[STREAM_PORT]?.streamGone(undefined);
}

function onStreamError(this: ReadStream, error: Error): void {
  this[STREAM_PORT]?.streamGone(error);
}

/** Resolved limits the server passes to each endpoint (internal). */
export interface EndpointLimits {
  maxPacketSize: number;
  connectTimeoutMs: number;
  topicAliasMaximum: number;
  receiveMaximum: number;
  outboundWindow: number;
  writeHighWaterMark: number;
  serverKeepAlive: number | undefined;
  assignClientId: () => string;
  drainTimeoutMs: number;
  authenticate: AuthenticateHook | undefined;
  enforceReceiveMaximum: boolean;
}

/** How long to wait for the peer to close after our final packet before destroying the stream. */
const LINGER_MS = 2000;
/** An exchange whose next server AUTH cannot reach the client fails. */
const UNSENDABLE_AUTH: AuthenticationOutcome = {
  result: 'failure',
  reasonCode: ReasonCode.UnspecifiedError,
  reasonString: 'the server AUTH packet cannot be sent to this client',
};
/** Session expiry "never" (MQTT 5 0xFFFFFFFF). */
const NEVER_EXPIRES = 0xffffffff;
/** Packets handled even while the host is full: they finish earlier exchanges and give the host no work. */
const NEVER_PARKED: ReadonlySet<MqttPacket['cmd']> = new Set([
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'pingreq',
]);

export class MqttEndpoint extends EventEmitter<MqttEndpointEvents> {
  private endpointState: EndpointState = 'connecting';
  private reason: CloseReason | undefined;
  /** Made when `signal` is first asked for: most connections never are (an AbortController holds ~0.3 KB). */
  private abort: AbortController | undefined;
  private readonly decoder: MqttDecoder;
  private writer: MqttWriter | undefined;
  private connectPacket: ConnectPacket | undefined;
  private assignedId: string | undefined;
  private keepAlive: KeepAliveMonitor | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private outbound: OutboundFlow | undefined;
  private closedPending: PendingPublish[] = [];
  private aliases: InboundTopicAliases | undefined;
  /** The topic of the last inbound PUBLISH found a valid name: a client mostly publishes to a few, repeatedly. */
  private lastValidTopic: string | undefined;
  /** Inbound QoS 2 PUBLISHes until PUBCOMP, by packet identifier (made at the first: most clients send none). */
  private inboundQos2: PacketIdMap<InboundPublish> | undefined;
  /** Inbound QoS 1/2 PUBLISHes waiting for the host's PUBACK / PUBREC. */
  private publishesAwaitingHost = 0;
  /**
   * Packet identifiers of inbound QoS 1/2 PUBLISHes the client counts against its receive maximum: read
   * (parked or not) and not yet answered with PUBACK, or PUBCOMP / a failed PUBREC for QoS 2.
   */
  private unacknowledgedInbound: PacketIdMap<true> | undefined;
  /** 'pubrelUnknown' events whose complete() the host has not called yet. */
  private unknownPubrelsWaiting = 0;
  /** Unknown PUBRELs read while receiveMaximum of them wait for the host; reading stops until one completes. */
  private readonly unknownPubrelsQueued: number[] = [];
  /** Inbound SUBSCRIBE / UNSUBSCRIBE waiting for the host's answer. */
  private requestsAwaitingHost = 0;
  /** Packets read while the host was full or paused, handled in order once it has room (at most inboundWindow). */
  private readonly parked: MqttPacket[] = [];
  private hostPaused = false;
  /**
   * The client's side of the stream has gone ('end', 'error' or 'close'): no more bytes will arrive, but
   * those already received are still handled in order before the endpoint closes (connection-lost
   * unless they held a DISCONNECT).
   */
  private remoteGone: { error?: Error } | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private pumping = false;
  private readingPaused = false;
  private windowWasClosed = false;
  private sessionExpiry = 0;
  /** MQTT 5: what the CONNACK announced; a PUBLISH beyond it is a protocol violation (0x9B / 0x9A). */
  private maximumQoS = 2;
  private retainAvailable = true;
  /** Inbound requests allowed to wait for the host (the receive maximum announced to MQTT 5 clients). */
  private inboundWindow: number;
  /** MQTT 5 server keep-alive sent in CONNACK (options or the host's accept properties). */
  private serverKeepAlive: number | undefined;
  /** The host has been given this endpoint ('endpoint' event); from then on it gets 'close'. */
  private announced = false;
  private clientMaxPacketSize = Number.POSITIVE_INFINITY;
  /** What the inbound messages, the outbound flow and the keep-alive monitor call back. */
  private readonly port: InboundSink & OutboundLink & KeepAliveOwner & StreamReader;
  /** The MQTT 5 enhanced-authentication exchange in progress (at CONNECT or a re-authentication). */
  private auth: AuthExchange | undefined;
  /** What a successful exchange at CONNECT adds to the CONNACK. */
  private authConnack: ConnackProperties | undefined;

  /** @internal Endpoints are created by MqttServer.accept(). */
  constructor(
    private readonly stream: Duplex,
    private readonly limits: EndpointLimits,
    private readonly tracker: EndpointTracker,
  ) {
    super();
    this.decoder = new MqttDecoder({ maxPacketSize: limits.maxPacketSize });
    this.inboundWindow = limits.receiveMaximum;
    this.port = new MqttEndpoint.Port(this);
    (stream as ReadStream)[STREAM_PORT] = this.port;
    stream.on('data', onStreamData);
    stream.on('end', onStreamGone);
    stream.on('error', onStreamError);
    stream.on('close', onStreamGone);
    this.connectTimer = setTimeout(() => this.close({ kind: 'connect-timeout' }), limits.connectTimeoutMs);
    this.connectTimer.unref();
  }

  // -------------------------------------------------------------------------------------------
  // What the client sent in CONNECT
  // -------------------------------------------------------------------------------------------

  get state(): EndpointState {
    return this.endpointState;
  }

  /** The CONNECT packet as received (client id possibly empty; see clientId). */
  get connect(): ConnectPacket {
    return this.connectPacket!;
  }

  /** The client id: as sent, or the one assigned when the client sent an empty id. */
  get clientId(): string {
    return this.assignedId ?? this.connect.clientId;
  }

  /** True when the server assigned the client id (MQTT 5 returns it in CONNACK). */
  get clientIdAssigned(): boolean {
    return this.assignedId !== undefined;
  }

  get protocolVersion(): ProtocolVersion {
    return this.connect.protocolVersion;
  }

  /** Clean session (3.1.1) / clean start (5.0). */
  get clean(): boolean {
    return this.connect.clean;
  }

  /**
   * Keep-alive in seconds enforced (× 1.5). MQTT 5: the server keep-alive if one is imposed — by the
   * serverKeepAlive option, or by the host in accept()'s CONNACK properties (then from accept() on). 0: none.
   */
  get keepAliveSeconds(): number {
    const imposed = this.serverKeepAlive ?? this.limits.serverKeepAlive;
    return this.protocolVersion === 5 && imposed !== undefined ? imposed : this.connect.keepalive;
  }

  get username(): string | undefined {
    return this.connect.username;
  }

  get password(): Buffer | undefined {
    return this.connect.password;
  }

  get will(): Will | undefined {
    return this.connect.will;
  }

  /** MQTT 5 CONNECT properties ({} for 3.1 / 3.1.1). */
  get connectProperties(): ConnectProperties {
    return this.connect.properties ?? {};
  }

  /**
   * Session expiry interval in seconds: MQTT 5 from CONNECT (updated by the client's DISCONNECT);
   * 3.1.1: 0 for a clean session, 0xFFFFFFFF (never) otherwise.
   */
  get sessionExpiryInterval(): number {
    return this.sessionExpiry;
  }

  /** Why the endpoint closed (undefined while open). */
  get closeReason(): CloseReason | undefined {
    return this.reason;
  }

  /** Aborted when the endpoint closes; hand it to work that should stop with the connection. */
  get signal(): AbortSignal {
    if (this.abort === undefined) {
      this.abort = new AbortController();
      const reason = this.reason;
      if (reason !== undefined) this.abort.abort(new MqttConnectionClosedError(reason));
    }
    return this.abort.signal;
  }

  // -------------------------------------------------------------------------------------------
  // Handshake
  // -------------------------------------------------------------------------------------------

  /**
   * Accepts the connection: writes CONNACK (success) and starts processing the client's packets.
   * A no-op if the connection has closed meanwhile; throws if called twice.
   */
  accept(options: AcceptOptions = {}): void {
    if (this.endpointState === 'closed') return; // The client went away meanwhile; 'close' tells the host.
    if (this.endpointState !== 'connecting' || this.connectPacket === undefined) {
      throw new Error(`accept() in state ${this.endpointState}`);
    }
    this.clearConnectTimer();
    const v5 = this.protocolVersion === 5;
    const connack: ConnackPacket = { cmd: 'connack', sessionPresent: options.sessionPresent === true };
    if (v5) {
      const properties: ConnackProperties = { ...options.properties };
      if (this.authConnack !== undefined) {
        // The exchange's method and data are the server's last word of it (MQTT 5 section 4.12).
        const { authenticationMethod, authenticationData, ...extras } = this.authConnack;
        Object.assign(properties, { ...extras, ...options.properties, authenticationMethod });
        if (authenticationData !== undefined) properties.authenticationData = authenticationData;
        else delete properties.authenticationData;
      }
      // What CONNACK announces is what the endpoint enforces, so the host may tighten the options here.
      properties.receiveMaximum ??= this.limits.receiveMaximum;
      properties.topicAliasMaximum ??= this.limits.topicAliasMaximum;
      properties.maximumPacketSize = Math.min(
        properties.maximumPacketSize ?? this.limits.maxPacketSize,
        this.limits.maxPacketSize,
      );
      this.inboundWindow = properties.receiveMaximum;
      this.aliases = new InboundTopicAliases(properties.topicAliasMaximum);
      this.decoder.maxPacketSize = properties.maximumPacketSize;
      if (this.assignedId !== undefined) properties.assignedClientIdentifier = this.assignedId;
      // The host may impose its own server keep-alive in the CONNACK; the endpoint then enforces that one.
      properties.serverKeepAlive ??= this.limits.serverKeepAlive;
      if (properties.serverKeepAlive === undefined) delete properties.serverKeepAlive;
      this.serverKeepAlive = properties.serverKeepAlive;
      if (properties.sessionExpiryInterval !== undefined) {
        this.sessionExpiry = properties.sessionExpiryInterval;
      }
      this.maximumQoS = properties.maximumQoS ?? 2;
      this.retainAvailable = properties.retainAvailable ?? true;
      connack.reasonCode = ReasonCode.Success;
      connack.properties = properties;
    } else {
      connack.returnCode = 0;
    }
    this.endpointState = 'connected';
    this.send(connack);
    this.keepAlive = new KeepAliveMonitor(this.keepAliveSeconds, this.port);
    if (this.remoteGone === undefined) this.keepAlive.start();
    // Packets that came with the CONNECT are handled on the next tick, so that listeners attached right
    // after accept() see them.
    process.nextTick(() => this.pump());
  }

  /**
   * Rejects the connection: writes CONNACK with the reason code and closes. Pass an MQTT 5 reason code
   * (mapped to the nearest 3.1.1 return code for older clients) or a 3.1.1 return code (1..5).
   */
  reject(code: number, options: RejectOptions = {}): void {
    if (this.endpointState === 'closed') return;
    if (this.endpointState !== 'connecting' || this.connectPacket === undefined) {
      throw new Error(`reject() in state ${this.endpointState}`);
    }
    const reasonCode = code < 0x80 ? fromConnackReturnCode(code) : code;
    if (reasonCode < 0x80) throw new RangeError(`reject() needs a failure code, got ${code}`);
    this.close({ kind: 'rejected', reasonCode }, this.connackFailure(reasonCode, options.properties));
  }

  // -------------------------------------------------------------------------------------------
  // Outbound publish
  // -------------------------------------------------------------------------------------------

  /** Unacknowledged outbound QoS 1/2 messages. */
  get inFlight(): number {
    return this.outbound?.inFlight ?? 0;
  }

  /** The outbound window: min(client's receive maximum (MQTT 5), outboundWindow option). */
  get window(): number {
    return this.outbound?.window ?? 0;
  }

  /** True when publish() with QoS 1/2 will be sent at once: window has room and the write buffer is not full. */
  get canPublish(): boolean {
    return this.endpointState === 'connected' && this.outbound!.hasRoom && !(this.writer?.full ?? false);
  }

  /** Resolves when canPublish is true; rejects when the endpoint closes or `signal` aborts. */
  windowOpen(signal?: AbortSignal): Promise<void> {
    if (this.canPublish) return Promise.resolve();
    if (this.endpointState === 'closed') return rejected(new MqttConnectionClosedError(this.reason!));
    if (signal?.aborted) {
      return rejected(
        new MqttPublishError('aborted', 'waiting for the window was aborted', { cause: signal.reason }),
      );
    }
    const promise = new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        this.off('windowOpen', onOpen);
        this.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
      };
      const onOpen = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (reason: CloseReason): void => {
        cleanup();
        reject(new MqttConnectionClosedError(reason));
      };
      const onAbort = (): void => {
        cleanup();
        reject(
          new MqttPublishError('aborted', 'waiting for the window was aborted', { cause: signal?.reason }),
        );
      };
      this.on('windowOpen', onOpen);
      this.on('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    promise.catch(ignore);
    return promise;
  }

  /**
   * Sends a message to the client. QoS 0 resolves once written. QoS 1 resolves on PUBACK, QoS 2 on
   * PUBCOMP (or on a failed PUBREC), with the client's reason code. `options.messageId` / `options.dup`
   * let the host choose the packet identifier and set DUP (a redelivery from its session store). Rejects
   * with MqttPublishError ('window-full' when canPublish is false, 'packet-too-large', 'invalid-message',
   * 'packet-id-in-use' for a chosen identifier in flight, 'not-connected', 'aborted') or
   * MqttConnectionClosedError when the connection closes first.
   */
  publish(message: OutboundMessage, options: PublishOptions = {}): Promise<PublishOutcome> {
    try {
      this.checkCanSend(options.signal);
      return this.outbound!.publish(message, options);
    } catch (error) {
      return rejected(error);
    }
  }

  /**
   * publish() without a promise, for hosts that send many messages (a gateway writes one per message): what
   * publish() would reject with at once — MqttPublishError ('window-full', 'packet-too-large',
   * 'invalid-message', 'packet-id-in-use', 'not-connected', 'aborted') or MqttConnectionClosedError — is
   * thrown, and nothing is sent. Otherwise the PUBLISH is written and `callback` is called once, as publish()'s
   * promise would settle: QoS 0 before this returns; QoS 1/2 with the client's answer, or with the error (the
   * connection closed first, `options.signal` aborted). The outcome may be an object shared by every call (a
   * plain success): do not change it. A QoS 1/2 `message` may be kept as it is until then (and listed by
   * pendingPublishes()): do not change it meanwhile. A callback that throws while the endpoint handles the
   * client's acknowledgement closes the connection, as a failing `onReceived` does.
   */
  publishWithCallback(message: OutboundMessage, options: PublishOptions, callback?: PublishCallback): void {
    this.checkCanSend(options.signal);
    this.outbound!.publishWithCallback(message, options, callback);
  }

  /**
   * Session resume: re-sends a message the previous connection left pending (from pendingPublishes()),
   * with its packet identifier — PUBLISH with DUP set, or PUBREL (for which only the identifier matters).
   * Call it after accept() and before new publishes. Messages beyond the window wait in order (canPublish
   * stays false until they are sent). An identifier in flight is refused with 'packet-id-in-use'.
   */
  resend(pending: PendingPublish, options: PublishOptions = {}): Promise<PublishOutcome> {
    try {
      this.checkCanSend(options.signal);
      return this.outbound!.resend(pending, options);
    } catch (error) {
      return rejected(error);
    }
  }

  private checkCanSend(signal: AbortSignal | undefined): void {
    if (this.endpointState === 'closed') throw new MqttConnectionClosedError(this.reason!);
    if (this.endpointState !== 'connected') {
      throw new MqttPublishError('not-connected', 'endpoint not accepted yet');
    }
    if (signal?.aborted) throw new MqttPublishError('aborted', 'publish aborted', { cause: signal.reason });
  }

  /** Outbound QoS 1/2 messages not completed by the client; after close, those left at closing time. */
  pendingPublishes(): PendingPublish[] {
    return this.endpointState === 'closed' ? [...this.closedPending] : (this.outbound?.pending() ?? []);
  }

  // -------------------------------------------------------------------------------------------
  // Flow control and closing
  // -------------------------------------------------------------------------------------------

  /**
   * Stops handing the client's packets to the host until resume(). Reading goes on so that the client's
   * acknowledgements for what we sent, its PUBREL and PINGREQ are still handled; PUBLISH, SUBSCRIBE,
   * UNSUBSCRIBE, AUTH and DISCONNECT are parked in order. Once receiveMaximum packets are parked the
   * endpoint stops reading the socket and TCP pushes back on the client.
   */
  pause(): void {
    this.hostPaused = true;
    this.updateReading();
  }

  /** Hands the parked packets to the host, in order, before reading more. */
  resume(): void {
    this.hostPaused = false;
    this.pump();
  }

  get isPaused(): boolean {
    return this.hostPaused;
  }

  /**
   * Closes the connection from the server side. MQTT 5 clients first get DISCONNECT with the reason
   * code (default 0x00 normal disconnection; e.g. 0x8B server shutting down, 0x8E session taken over).
   */
  disconnect(reasonCode: number = ReasonCode.NormalDisconnection, properties?: DisconnectProperties): void {
    if (this.endpointState === 'connecting' && this.connectPacket !== undefined) {
      this.reject(reasonCode < 0x80 ? ReasonCode.UnspecifiedError : reasonCode);
      return;
    }
    const packet: DisconnectPacket | undefined =
      this.endpointState === 'connected' && this.protocolVersion === 5
        ? { cmd: 'disconnect', reasonCode, ...(properties ? { properties } : {}) }
        : undefined;
    this.close({ kind: 'server-disconnect', reasonCode }, packet);
  }

  /** Destroys the stream at once, without a DISCONNECT. */
  destroy(): void {
    this.close({ kind: 'server-disconnect', reasonCode: ReasonCode.UnspecifiedError }, undefined, true);
  }

  // -------------------------------------------------------------------------------------------
  // Internals: reading
  // -------------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.endpointState === 'closed') return;
    this.keepAlive?.activity();
    this.decoder.push(chunk);
    this.pump();
  }

  /**
   * The stream ended or failed. Its 'end' can come while the host has paused the endpoint (the stream
   * had nothing left to emit), so packets it already gave us may still wait in the decoder or the park:
   * handle them first — a DISCONNECT among them is a clean disconnect — and close once none is left.
   * A host that stays paused or full is given drainTimeoutMs; then the rest is dropped.
   */
  private onRemoteGone(error: Error | undefined): void {
    if (this.endpointState === 'closed') return;
    if (this.remoteGone !== undefined) {
      if (error !== undefined) this.remoteGone.error ??= error;
      return;
    }
    this.remoteGone = error !== undefined ? { error } : {};
    this.stream.off('data', onStreamData);
    this.keepAlive?.stop(); // Silence is no longer the question: nothing more can arrive.
    this.drainTimer = setTimeout(() => this.closeLost(), this.limits.drainTimeoutMs);
    this.drainTimer.unref();
    this.pump();
  }

  private closeLost(): void {
    const error = this.remoteGone?.error;
    this.close({ kind: 'connection-lost', ...(error !== undefined ? { error } : {}) });
  }

  /** The host has as many inbound PUBLISHes or requests waiting for its answer as it allows. */
  private hostFull(): boolean {
    return (
      this.publishesAwaitingHost >= this.inboundWindow || this.requestsAwaitingHost >= this.inboundWindow
    );
  }

  private shouldPauseReading(): boolean {
    if (this.endpointState === 'connecting') {
      // Between CONNECT and CONNACK only an enhanced-authentication exchange waiting for the client reads.
      return this.connectPacket !== undefined && this.auth?.awaitingClient !== true;
    }
    return (
      this.parked.length >= this.inboundWindow ||
      this.unknownPubrelsQueued.length > 0 ||
      (this.remoteGone === undefined && this.writerFull())
    );
  }

  /**
   * Decodes and handles packets while reading is allowed. While the host is full or has paused the
   * endpoint, packets that would give it more work are parked (in order, at most inboundWindow of them)
   * and reading goes on, so that the client's acknowledgements and pings still arrive; when the park is
   * full, reading stops and TCP pushes back on the client.
   */
  private pump(): void {
    if (this.pumping || this.endpointState === 'closed') return;
    this.pumping = true;
    let drained = false;
    try {
      for (;;) {
        // Once the client has gone, a full write buffer no longer holds anything back.
        if (this.isClosed() || (this.remoteGone === undefined && this.writerFull())) break;
        // Before CONNACK a paused host holds everything (an AUTH exchange included).
        if (this.hostPaused && this.endpointState === 'connecting') break;
        let packet: MqttPacket | undefined;
        if (this.parked.length > 0 && !this.hostPaused && !this.hostFull()) {
          packet = this.parked.shift()!;
        } else {
          if (this.shouldPauseReading()) break;
          try {
            packet = this.decoder.next();
          } catch (error) {
            this.protocolError(error as MqttProtocolError);
            return;
          }
          if (packet === undefined) {
            drained = this.parked.length === 0;
            break;
          }
          if (packet.cmd === 'publish' && packet.qos > 0 && !this.admitInbound(packet.messageId!)) return;
          if (this.endpointState === 'connected' && this.mustPark(packet)) {
            this.parked.push(packet);
            continue;
          }
        }
        try {
          this.handle(packet);
        } catch (error) {
          if (error instanceof MqttProtocolError) this.protocolError(error);
          else throw error;
        }
      }
    } finally {
      this.pumping = false;
    }
    // Everything the client sent before going away has been handled and none of it closed us.
    if (drained && this.remoteGone !== undefined) this.closeLost();
    else this.updateReading();
  }

  /**
   * Counts an inbound QoS 1/2 PUBLISH against the receive maximum; a re-sent one (same identifier, still
   * unacknowledged) is not counted twice. An MQTT 5 client over the limit is disconnected with 0x93 and
   * false is returned; 3.1.1 clients have no receive maximum (their excess is parked, then not read).
   */
  private admitInbound(messageId: number): boolean {
    // Made at the first QoS 1/2 PUBLISH: an idle client or one publishing at QoS 0 needs none.
    this.unacknowledgedInbound ??= new PacketIdMap();
    const unacknowledged = this.unacknowledgedInbound;
    if (unacknowledged.has(messageId)) return true;
    if (
      this.protocolVersion === 5 &&
      this.limits.enforceReceiveMaximum &&
      unacknowledged.size >= this.inboundWindow
    ) {
      this.protocolError(
        new MqttProtocolError(
          `more than ${this.inboundWindow} unacknowledged QoS 1/2 PUBLISHes (receive maximum)`,
          ReasonCode.ReceiveMaximumExceeded,
        ),
      );
      return false;
    }
    unacknowledged.set(messageId, true);
    return true;
  }

  /**
   * Packets that give the host work wait while it is full or paused, and anything behind a parked packet
   * waits too. A DISCONNECT waits as well: closing would cut off the work the host paused for (a
   * PUBLISH it is still forwarding), and it finishes nothing we wait for.
   */
  private mustPark(packet: MqttPacket): boolean {
    if (NEVER_PARKED.has(packet.cmd)) return false;
    return this.hostPaused || this.parked.length > 0 || this.hostFull();
  }

  private writerFull(): boolean {
    return this.writer?.full ?? false;
  }

  private isClosed(): boolean {
    return this.endpointState === 'closed';
  }

  private updateReading(): void {
    if (this.endpointState === 'closed') return;
    const pause = this.shouldPauseReading();
    if (pause && !this.readingPaused) {
      this.readingPaused = true;
      this.stream.pause();
    } else if (!pause && this.readingPaused) {
      this.readingPaused = false;
      this.keepAlive?.activity(); // The paused time was ours, not the client's silence.
      this.stream.resume();
    }
  }

  private handle(packet: MqttPacket): void {
    if (this.endpointState === 'connecting') {
      if (this.connectPacket === undefined) {
        if (packet.cmd !== 'connect')
          throw new MqttProtocolError(`${packet.cmd} before CONNECT`, ReasonCode.ProtocolError);
        this.handleConnect(packet);
        return;
      }
      // Read only during an enhanced-authentication exchange: AUTH or DISCONNECT (MQTT-3.1.2-30).
      if (packet.cmd === 'auth') this.handleAuth(packet);
      else if (packet.cmd === 'disconnect') this.handleDisconnect(packet);
      else {
        throw new MqttProtocolError(
          `${packet.cmd} during enhanced authentication, before CONNACK`,
          ReasonCode.ProtocolError,
        );
      }
      return;
    }
    switch (packet.cmd) {
      case 'publish':
        this.handlePublish(packet);
        return;
      case 'puback':
        this.outbound!.onAck(packet.messageId, 'puback', packet.reasonCode ?? 0, packet.properties);
        return;
      case 'pubrec':
        this.outbound!.onAck(packet.messageId, 'pubrec', packet.reasonCode ?? 0, packet.properties);
        return;
      case 'pubcomp':
        this.outbound!.onAck(packet.messageId, 'pubcomp', packet.reasonCode ?? 0, packet.properties);
        return;
      case 'pubrel':
        this.handlePubrel(packet.messageId);
        return;
      case 'subscribe':
        this.handleSubscribe(packet);
        return;
      case 'unsubscribe':
        this.handleUnsubscribe(packet);
        return;
      case 'pingreq':
        this.send({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        this.handleDisconnect(packet);
        return;
      case 'connect':
        throw new MqttProtocolError('second CONNECT', ReasonCode.ProtocolError);
      case 'auth':
        this.handleAuth(packet);
        return;
      default:
        throw new MqttProtocolError(`${packet.cmd} is never sent to a server`, ReasonCode.ProtocolError);
    }
  }

  private handleConnect(connect: ConnectPacket): void {
    this.connectPacket = connect;
    const version = connect.protocolVersion;
    const v5 = version === 5;
    this.writer = new MqttWriter(this.stream, {
      protocolVersion: version,
      highWaterMark: this.limits.writeHighWaterMark,
    });
    this.writer.on('drain', () => {
      this.pump();
      this.checkWindowOpen();
    });
    const properties = connect.properties ?? {};
    if (v5 && properties.receiveMaximum === 0) {
      throw new MqttProtocolError('CONNECT receive maximum 0', ReasonCode.ProtocolError);
    }
    if (v5 && properties.maximumPacketSize === 0) {
      throw new MqttProtocolError('CONNECT maximum packet size 0', ReasonCode.ProtocolError);
    }
    if (v5 && properties.authenticationData !== undefined && properties.authenticationMethod === undefined) {
      throw new MqttProtocolError('CONNECT authentication data without a method', ReasonCode.ProtocolError);
    }
    if (connect.will !== undefined) {
      const valid = validateTopicName(connect.will.topic);
      if (!valid.ok) throw new MqttProtocolError(`will topic ${valid.reason}`, ReasonCode.TopicNameInvalid);
    }
    this.sessionExpiry = v5 ? (properties.sessionExpiryInterval ?? 0) : connect.clean ? 0 : NEVER_EXPIRES;
    this.clientMaxPacketSize = properties.maximumPacketSize ?? Number.POSITIVE_INFINITY;
    const clientWindow = v5 ? (properties.receiveMaximum ?? 65_535) : Number.POSITIVE_INFINITY;
    this.outbound = new OutboundFlow(this.port, Math.min(clientWindow, this.limits.outboundWindow));
    if (connect.clientId === '') {
      // 3.1 requires an id; 3.1.1 allows an empty one only with a clean session (MQTT-3.1.3-7/8).
      if (version === 3 || (version === 4 && !connect.clean)) {
        this.close(
          { kind: 'rejected', reasonCode: ReasonCode.ClientIdentifierNotValid },
          this.connackFailure(ReasonCode.ClientIdentifierNotValid),
        );
        return;
      }
      this.assignedId = this.limits.assignClientId();
    }
    const method = v5 ? properties.authenticationMethod : undefined;
    if (method !== undefined) {
      this.beginConnectAuth(method, properties);
      return;
    }
    this.announce();
  }

  private announce(): void {
    this.announced = true;
    this.tracker.connected(this);
  }

  // -------------------------------------------------------------------------------------------
  // Internals: MQTT 5 enhanced authentication
  // -------------------------------------------------------------------------------------------

  private beginConnectAuth(method: string, properties: ConnectProperties): void {
    if (this.limits.authenticate === undefined) {
      // A server that does not support the method answers 0x8C (MQTT 5 section 4.12).
      this.close(
        { kind: 'rejected', reasonCode: ReasonCode.BadAuthenticationMethod },
        this.connackFailure(ReasonCode.BadAuthenticationMethod, {
          reasonString: `authentication method ${method} is not supported`,
        }),
      );
      return;
    }
    // Bounded by the connect timer, which runs until accept() / reject().
    this.auth = new AuthExchange('connect', method, this.authOwner(this.limits.authenticate));
    this.auth.run(properties.authenticationData, properties.userProperties);
  }

  private handleAuth(packet: AuthPacket): void {
    const method = this.connectProperties.authenticationMethod;
    if (method === undefined) {
      throw new MqttProtocolError(
        'AUTH without an authentication method in CONNECT',
        ReasonCode.ProtocolError,
      );
    }
    if (packet.properties?.authenticationMethod !== method) {
      throw new MqttProtocolError(
        `AUTH with authentication method ${packet.properties?.authenticationMethod} instead of ${method}`,
        ReasonCode.ProtocolError,
      );
    }
    const data = packet.properties.authenticationData;
    const userProperties = packet.properties.userProperties;
    const exchange = this.auth;
    if (packet.reasonCode === ReasonCode.ContinueAuthentication) {
      if (exchange === undefined || !exchange.awaitingClient) {
        throw new MqttProtocolError('AUTH 0x18 that no server AUTH asked for', ReasonCode.ProtocolError);
      }
      exchange.run(data, userProperties);
      return;
    }
    if (packet.reasonCode === ReasonCode.ReAuthenticate) {
      if (this.endpointState !== 'connected' || exchange !== undefined) {
        throw new MqttProtocolError(
          'AUTH 0x19 before CONNACK or during another exchange',
          ReasonCode.ProtocolError,
        );
      }
      const reauth = new AuthExchange('re-authenticate', method, this.authOwner(this.limits.authenticate!));
      this.auth = reauth;
      reauth.limit(this.limits.connectTimeoutMs, () => {
        const reasonString = 're-authentication did not finish in time';
        reauth.end(new Error(reasonString)); // The hook's signal aborts.
        this.authOutcome(reauth, { result: 'failure', reasonCode: ReasonCode.NotAuthorized, reasonString });
      });
      reauth.run(data, userProperties);
      return;
    }
    throw new MqttProtocolError(
      `AUTH from a client with reason code 0x${packet.reasonCode.toString(16)}`,
      ReasonCode.ProtocolError,
    );
  }

  private authOwner(hook: AuthenticateHook): AuthExchangeOwner {
    return {
      endpoint: this,
      hook,
      outcome: (exchange, outcome) => this.authOutcome(exchange, outcome),
    };
  }

  private authOutcome(exchange: AuthExchange, outcome: AuthenticationOutcome): void {
    if (this.endpointState === 'closed' || exchange !== this.auth) return;
    const connecting = exchange.kind === 'connect';
    if (outcome.result === 'continue') {
      if (!this.sendAuth(ReasonCode.ContinueAuthentication, exchange.method, outcome)) {
        this.authOutcome(exchange, UNSENDABLE_AUTH);
        return;
      }
      exchange.awaitingClient = true;
      if (connecting) this.pump(); // Reading resumes for the client's AUTH (it may be decoded already).
      return;
    }
    if (outcome.result === 'success' && !connecting) {
      if (!this.sendAuth(ReasonCode.Success, exchange.method, outcome)) {
        this.authOutcome(exchange, UNSENDABLE_AUTH);
        return;
      }
    }
    exchange.end();
    this.auth = undefined;
    if (outcome.result === 'failure') {
      const reasonCode = failureCode(outcome);
      const properties =
        outcome.reasonString !== undefined ? { reasonString: outcome.reasonString } : undefined;
      if (connecting) {
        this.close({ kind: 'rejected', reasonCode }, this.connackFailure(reasonCode, properties));
      } else {
        this.close(
          { kind: 'server-disconnect', reasonCode },
          { cmd: 'disconnect', reasonCode, ...(properties ? { properties } : {}) },
        );
      }
      return;
    }
    if (connecting) {
      this.authConnack = {
        authenticationMethod: exchange.method,
        ...(outcome.data !== undefined ? { authenticationData: outcome.data } : {}),
        ...(outcome.reasonString !== undefined ? { reasonString: outcome.reasonString } : {}),
        ...(outcome.userProperties !== undefined ? { userProperties: outcome.userProperties } : {}),
      };
      this.announce();
      return;
    }
    this.emit('reauthenticated');
  }

  /**
   * Writes a server AUTH. Its reason string and user properties are left out when the client asked for
   * no problem information or when they would exceed its maximum packet size. Returns false, writing
   * nothing, when even the method and data exceed it or the packet cannot be encoded.
   */
  private sendAuth(
    reasonCode: number,
    method: string,
    outcome: { data?: Buffer; reasonString?: string; userProperties?: AuthProperties['userProperties'] },
  ): boolean {
    const required: AuthProperties = {
      authenticationMethod: method,
      ...(outcome.data !== undefined ? { authenticationData: outcome.data } : {}),
    };
    const quiet = this.connectProperties.requestProblemInformation === false;
    const full: AuthProperties = {
      ...required,
      ...(!quiet && outcome.reasonString !== undefined ? { reasonString: outcome.reasonString } : {}),
      ...(!quiet && outcome.userProperties !== undefined ? { userProperties: outcome.userProperties } : {}),
    };
    try {
      for (const properties of [full, required]) {
        const bytes = encodePacket({ cmd: 'auth', reasonCode, properties }, 5);
        if (bytes.length <= this.clientMaxPacketSize) {
          this.writeBytes(bytes);
          return true;
        }
      }
    } catch {
      // Unencodable (e.g. a reason string with U+0000): the caller fails the exchange.
    }
    return false;
  }

  private handlePublish(packet: PublishPacket): void {
    let topic = packet.topic;
    let properties: PublishProperties | undefined = packet.properties;
    if (this.protocolVersion === 5 && properties?.topicAlias !== undefined) {
      topic = this.aliases!.resolve(topic, properties.topicAlias);
      const { topicAlias: _alias, ...rest } = properties;
      properties = Object.keys(rest).length > 0 ? rest : undefined;
    }
    if (topic !== this.lastValidTopic) {
      const valid = validateTopicName(topic);
      if (!valid.ok)
        throw new MqttProtocolError(`PUBLISH topic ${valid.reason}`, ReasonCode.TopicNameInvalid);
      this.lastValidTopic = topic;
    }
    if (properties?.subscriptionIdentifier !== undefined) {
      throw new MqttProtocolError(
        'PUBLISH from a client with a subscription identifier',
        ReasonCode.ProtocolError,
      );
    }
    if (packet.qos > this.maximumQoS) {
      throw new MqttProtocolError(
        `PUBLISH QoS ${packet.qos} above maximum QoS ${this.maximumQoS}`,
        ReasonCode.QoSNotSupported,
      );
    }
    if (packet.retain && !this.retainAvailable) {
      throw new MqttProtocolError(
        'PUBLISH with retain while retain is not available',
        ReasonCode.RetainNotSupported,
      );
    }
    const message = new InboundPublish(this.port, packet, topic, properties);
    if (packet.qos === 2) {
      const existing = this.inboundQos2?.get(packet.messageId!);
      if (existing !== undefined) {
        // Not delivered twice before PUBREL (MQTT-4.3.3-9 / -10).
        existing.duplicate();
        return;
      }
    }
    if (packet.qos > 0) {
      if (packet.qos === 2) {
        this.inboundQos2 ??= new PacketIdMap();
        this.inboundQos2.set(packet.messageId!, message);
      }
      this.publishesAwaitingHost++;
    }
    if (this.listenerCount('publish') === 0) {
      // No host handler: nothing downstream. MQTT 5 is told so; the message is acknowledged and dropped.
      const options =
        this.protocolVersion === 5 ? { reasonCode: ReasonCode.NoMatchingSubscribers } : undefined;
      if (packet.qos === 1) message.ack(options);
      else if (packet.qos === 2) {
        message.received(options);
        message.complete();
      }
      return;
    }
    this.emit('publish', message);
  }

  /**
   * A PUBREL for a flow of an earlier connection: the host may release what it kept for it before PUBCOMP.
   * At most receiveMaximum wait for the host; the next one waits here and reading stops until one completes
   * (the host's answer never depends on more bytes from the client, so this cannot deadlock), so a client
   * sending PUBRELs in a loop cannot make answers pile up, and none is answered before the host released it.
   */
  private handleUnknownPubrel(messageId: number): void {
    if (this.listenerCount('pubrelUnknown') === 0) {
      this.writeAck(
        'pubcomp',
        messageId,
        this.protocolVersion === 5 ? { reasonCode: ReasonCode.PacketIdentifierNotFound } : undefined,
      );
      return;
    }
    if (this.unknownPubrelsWaiting >= this.inboundWindow) {
      this.unknownPubrelsQueued.push(messageId);
      return;
    }
    this.unknownPubrelsWaiting++;
    let completed = false;
    this.emit('pubrelUnknown', {
      messageId,
      complete: (options?: AckOptions) => {
        if (completed) return;
        completed = true;
        this.unknownPubrelsWaiting--;
        this.writeAck('pubcomp', messageId, options);
        const next = this.unknownPubrelsQueued.shift();
        if (next !== undefined) this.handleUnknownPubrel(next);
        this.pump();
      },
    });
  }

  private handlePubrel(messageId: number): void {
    const message = this.inboundQos2?.get(messageId);
    if (message === undefined) {
      this.handleUnknownPubrel(messageId);
      return;
    }
    if (!message.release()) {
      throw new MqttProtocolError(`PUBREL ${messageId} before PUBREC`, ReasonCode.ProtocolError);
    }
  }

  private handleSubscribe(packet: SubscribePacket): void {
    if (packet.subscriptions.length === 0) {
      throw new MqttProtocolError('SUBSCRIBE without topic filters', ReasonCode.ProtocolError);
    }
    if (packet.properties?.subscriptionIdentifier === 0) {
      throw new MqttProtocolError('SUBSCRIBE with subscription identifier 0', ReasonCode.ProtocolError);
    }
    const parsed = this.parseFilters(
      'SUBSCRIBE',
      packet.subscriptions.map((s) => s.topic),
    );
    if (packet.subscriptions.some((s, i) => s.nl === true && parsed[i]?.group !== undefined)) {
      throw new MqttProtocolError(
        'no local on a shared subscription (MQTT-3.8.3-4)',
        ReasonCode.ProtocolError,
      );
    }
    const valid: RequestedSubscription[] = [];
    packet.subscriptions.forEach((subscription, i) => {
      const filter = parsed[i];
      if (filter !== undefined) valid.push({ ...subscription, filter: filter.filter, group: filter.group });
    });
    const merge = mergeWithInvalid(parsed);
    if (valid.length === 0 || this.listenerCount('subscribe') === 0) {
      this.writeSuback(packet.messageId, merge(valid.map(() => ReasonCode.UnspecifiedError)), undefined);
      return;
    }
    const request = new InboundSubscribe(
      this.port,
      {
        messageId: packet.messageId,
        subscriptions: valid,
        ...(packet.properties ? { properties: packet.properties } : {}),
      },
      merge,
    );
    this.requestsAwaitingHost++;
    this.emit('subscribe', request);
  }

  private handleUnsubscribe(packet: UnsubscribePacket): void {
    if (packet.unsubscriptions.length === 0) {
      throw new MqttProtocolError('UNSUBSCRIBE without topic filters', ReasonCode.ProtocolError);
    }
    const parsed = this.parseFilters('UNSUBSCRIBE', packet.unsubscriptions);
    const unsubscriptions: string[] = [];
    const filters: ParsedTopicFilter[] = [];
    packet.unsubscriptions.forEach((topic, i) => {
      const filter = parsed[i];
      if (filter === undefined) return;
      unsubscriptions.push(topic);
      filters.push(filter);
    });
    const merge = mergeWithInvalid(parsed);
    if (filters.length === 0 || this.listenerCount('unsubscribe') === 0) {
      this.writeUnsuback(packet.messageId, merge(filters.map(() => ReasonCode.Success)), undefined);
      return;
    }
    const request = new InboundUnsubscribe(
      this.port,
      {
        messageId: packet.messageId,
        unsubscriptions,
        filters,
        ...(packet.properties ? { properties: packet.properties } : {}),
      },
      merge,
    );
    this.requestsAwaitingHost++;
    this.emit('unsubscribe', request);
  }

  /**
   * Parses the topic filters of a SUBSCRIBE / UNSUBSCRIBE as the client's protocol version means them
   * (MQTT 5: `$share/<group>/<filter>` is a shared subscription). An invalid filter is `undefined` for
   * MQTT 5 (it gets 0x8F in the answer); a 3.1 / 3.1.1 client is disconnected (malformed packet).
   */
  private parseFilters(packetName: string, topics: readonly string[]): (ParsedTopicFilter | undefined)[] {
    const version = this.protocolVersion;
    return topics.map((topic) => {
      const parsed = parseSubscriptionFilter(topic, version);
      if (parsed.ok) return { filter: parsed.filter, group: parsed.group };
      if (version !== 5) {
        throw new MqttProtocolError(
          `${packetName} topic filter ${topic} is invalid: ${parsed.reason}`,
          ReasonCode.MalformedPacket,
        );
      }
      return undefined;
    });
  }

  private handleDisconnect(packet: DisconnectPacket): void {
    const expiry = packet.properties?.sessionExpiryInterval;
    if (expiry !== undefined) {
      if (this.sessionExpiry === 0 && expiry !== 0) {
        throw new MqttProtocolError(
          'DISCONNECT sets a session expiry interval after CONNECT set 0',
          ReasonCode.ProtocolError,
        );
      }
      this.sessionExpiry = expiry;
    }
    this.emit('disconnect', packet);
    this.close({
      kind: 'client-disconnect',
      reasonCode: packet.reasonCode ?? ReasonCode.NormalDisconnection,
      ...(packet.properties ? { properties: packet.properties } : {}),
    });
  }

  // -------------------------------------------------------------------------------------------
  // Internals: outbound state machines
  // -------------------------------------------------------------------------------------------

  private keepAliveExpired(): void {
    this.close(
      { kind: 'keep-alive-timeout' },
      this.protocolVersion === 5 ? { cmd: 'disconnect', reasonCode: ReasonCode.KeepAliveTimeout } : undefined,
    );
  }

  private hostAnswered(kind: 'publish' | 'request'): void {
    if (kind === 'publish') this.publishesAwaitingHost--;
    else this.requestsAwaitingHost--;
    this.pump();
  }

  private writeSuback(messageId: number, granted: number[], properties: AckProperties | undefined): void {
    const v5 = this.protocolVersion === 5;
    this.send({
      cmd: 'suback',
      messageId,
      granted: v5 ? granted : granted.map(toSubackReturnCode),
      ...(v5 && properties ? { properties } : {}),
    });
  }

  private writeUnsuback(messageId: number, codes: number[], properties: AckProperties | undefined): void {
    this.send(
      this.protocolVersion === 5
        ? { cmd: 'unsuback', messageId, granted: codes, ...(properties ? { properties } : {}) }
        : { cmd: 'unsuback', messageId },
    );
  }

  private hostStepFailed(error: unknown): void {
    this.close(
      {
        kind: 'server-disconnect',
        reasonCode: ReasonCode.ImplementationSpecificError,
      },
      this.protocolVersion === 5
        ? {
            cmd: 'disconnect',
            reasonCode: ReasonCode.ImplementationSpecificError,
            properties: { reasonString: `host step failed: ${(error as Error)?.message ?? String(error)}` },
          }
        : undefined,
    );
  }

  private checkWindowOpen(): void {
    if (this.endpointState !== 'connected') return;
    if (!this.canPublish) {
      this.windowWasClosed = true;
      return;
    }
    if (this.windowWasClosed) {
      this.windowWasClosed = false;
      this.emit('windowOpen');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Internals: writing and closing
  // -------------------------------------------------------------------------------------------

  private writeAck(
    cmd: 'puback' | 'pubrec' | 'pubcomp',
    messageId: number,
    options: AckOptions | undefined,
  ): void {
    if (this.endpointState !== 'connected') return;
    // The last answer of a flow frees the identifier's place under the receive maximum.
    if (cmd !== 'pubrec' || (options?.reasonCode ?? 0) >= 0x80) this.unacknowledgedInbound?.delete(messageId);
    const reasonCode = options?.reasonCode ?? ReasonCode.Success;
    const properties = options?.properties;
    if (this.protocolVersion === 5 && (reasonCode !== ReasonCode.Success || properties !== undefined)) {
      this.send({ cmd, messageId, reasonCode, ...(properties ? { properties } : {}) });
      return;
    }
    // Only the packet identifier (MQTT 5 may leave out reason code 0 without properties): the usual answer.
    const writer = this.writer!;
    const wasFull = writer.full;
    writer.writeBareAck(cmd, messageId);
    this.wrote(wasFull);
  }

  /** Writes a control packet. */
  private send(packet: MqttPacket): void {
    this.writeBytes(this.encodeControl(packet, this.protocolVersion));
  }

  /**
   * Encodes a control packet. Its optional properties (reason string, user properties) are left out
   * when they would exceed the client's maximum packet size, or when an MQTT 5 client asked for no
   * problem information (MQTT-3.1.2-29: then only CONNACK and DISCONNECT may carry them).
   */
  private encodeControl(packet: MqttPacket, version: ProtocolVersion): Buffer {
    const hasProperties = 'properties' in packet && packet.properties !== undefined;
    const quiet =
      hasProperties &&
      this.connectPacket?.properties?.requestProblemInformation === false &&
      packet.cmd !== 'connack' &&
      packet.cmd !== 'disconnect';
    const bytes = quiet ? undefined : encodePacket(packet, version);
    if (bytes !== undefined && (bytes.length <= this.clientMaxPacketSize || !hasProperties)) return bytes;
    const { properties: _dropped, ...bare } = packet as MqttPacket & { properties?: unknown };
    return encodePacket(bare as MqttPacket, version);
  }

  private writeBytes(bytes: Buffer): void {
    const writer = this.writer!;
    const wasFull = writer.full;
    writer.writeBytes(bytes);
    this.wrote(wasFull);
  }

  /** Writes a PUBLISH that measurePublishFields has just measured at `size` bytes. */
  private writePublish(
    size: number,
    topic: string,
    payload: Buffer,
    qos: QoS,
    dup: boolean,
    retain: boolean,
    messageId: number,
    properties: PublishProperties | undefined,
  ): void {
    const writer = this.writer!;
    const wasFull = writer.full;
    writer.writeMeasuredPublish(size, topic, payload, qos, dup, retain, messageId, properties);
    this.wrote(wasFull);
  }

  /** After a write: the writer filling up stops reading (and closes the window) until it drains. */
  private wrote(wasFull: boolean): void {
    if (!wasFull && this.writer!.full) {
      this.windowWasClosed = true;
      this.updateReading();
    }
  }

  private connackFailure(reasonCode: number, properties?: RejectOptions['properties']): ConnackPacket {
    return this.protocolVersion === 5
      ? { cmd: 'connack', sessionPresent: false, reasonCode, ...(properties ? { properties } : {}) }
      : { cmd: 'connack', sessionPresent: false, returnCode: toConnackReturnCode(reasonCode) };
  }

  private protocolError(error: MqttProtocolError): void {
    const reason: CloseReason = { kind: 'protocol-error', reasonCode: error.reasonCode, error };
    let final: MqttPacket | undefined;
    let version: ProtocolVersion | undefined = this.connectPacket?.protocolVersion;
    if (this.endpointState === 'connecting') {
      if (this.connectPacket !== undefined && version === 5) {
        final = { cmd: 'connack', sessionPresent: false, reasonCode: error.reasonCode };
      } else if (error.connackReturnCode !== undefined) {
        // The CONNECT did not decode far enough to know its version: answer in 3.1.1 form.
        final = { cmd: 'connack', sessionPresent: false, returnCode: error.connackReturnCode };
        version = 4;
      } else if (
        this.connectPacket !== undefined &&
        error.reasonCode === ReasonCode.ClientIdentifierNotValid
      ) {
        final = this.connackFailure(error.reasonCode);
      }
    } else if (this.endpointState === 'connected' && version === 5) {
      final = {
        cmd: 'disconnect',
        reasonCode: error.reasonCode,
        properties: { reasonString: error.message },
      };
    }
    if (final !== undefined && this.writer === undefined && version !== undefined) {
      this.writer = new MqttWriter(this.stream, { protocolVersion: version });
    }
    this.close(reason, final);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  /** Closes once: optional final packet, end the stream, settle everything, emit 'close'. */
  private close(reason: CloseReason, finalPacket?: MqttPacket, immediately = false): void {
    if (this.endpointState === 'closed') return;
    this.endpointState = 'closed';
    this.reason = reason;
    this.clearConnectTimer();
    this.keepAlive?.stop();
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    // One error for whatever is pending, made only if something is: an idle client's close skips its stack capture.
    let closedError: MqttConnectionClosedError | undefined;
    const closed = (): MqttConnectionClosedError => {
      closedError ??= new MqttConnectionClosedError(reason);
      return closedError;
    };
    this.auth?.end(closed());
    const stream = this.stream;
    stream.off('data', onStreamData);
    if (finalPacket !== undefined && this.writer !== undefined && !stream.destroyed) {
      try {
        this.writer.writeBytes(this.encodeControl(finalPacket, this.writer.protocolVersion));
      } catch {
        // An unencodable final packet must not keep the connection open.
      }
    }
    this.writer?.flush();
    if (immediately || stream.destroyed) {
      stream.destroy();
    } else {
      stream.end();
      // Give the peer a moment to read our final packet and close; then make sure the stream goes away.
      const linger = setTimeout(() => stream.destroy(), LINGER_MS);
      linger.unref();
      stream.once('close', () => clearTimeout(linger));
      stream.resume(); // Drain and discard what the peer still sends, so 'end' and 'close' can come.
    }
    if (this.outbound !== undefined) {
      this.closedPending = this.outbound.pending();
      if (this.closedPending.length > 0) this.outbound.failAll(closed());
    }
    if (this.inboundQos2 !== undefined) {
      for (const message of this.inboundQos2.values()) message.abandon(reason);
      this.inboundQos2.clear();
    }
    this.abort?.abort(closed());
    if (this.announced) {
      this.tracker.closed(this);
      this.emit('close', reason);
    } else {
      this.tracker.closedEarly(this, reason, stream);
    }
  }

  /**
   * The endpoint's side of its inbound messages, outbound flow and keep-alive monitor: one object per connection
   * with its members on this prototype (object literals with getters cost each connection a property dictionary
   * and a closure per member). Declared here so that it reaches the endpoint's private members.
   */
  private static readonly Port = class implements InboundSink, OutboundLink, KeepAliveOwner, StreamReader {
    constructor(private readonly endpoint: MqttEndpoint) {}

    get closed(): boolean {
      return this.endpoint.endpointState === 'closed';
    }

    get closeReason(): CloseReason | undefined {
      return this.endpoint.reason;
    }

    get protocolVersion(): ProtocolVersion {
      return this.endpoint.protocolVersion;
    }

    get clientMaxPacketSize(): number {
      return this.endpoint.clientMaxPacketSize;
    }

    get clientTopicAliasMaximum(): number {
      return this.endpoint.connectProperties.topicAliasMaximum ?? 0;
    }

    get readingPaused(): boolean {
      return this.endpoint.readingPaused;
    }

    isOpen(): boolean {
      return this.endpoint.endpointState === 'connected';
    }

    writeAck(cmd: 'puback' | 'pubrec' | 'pubcomp', messageId: number, options: AckOptions | undefined): void {
      this.endpoint.writeAck(cmd, messageId, options);
    }

    hostAnswered(kind: 'publish' | 'request'): void {
      this.endpoint.hostAnswered(kind);
    }

    qos2Completed(messageId: number): void {
      this.endpoint.inboundQos2?.delete(messageId);
    }

    writeSuback(messageId: number, granted: number[], properties: AckProperties | undefined): void {
      this.endpoint.writeSuback(messageId, granted, properties);
    }

    writeUnsuback(messageId: number, codes: number[], properties: AckProperties | undefined): void {
      this.endpoint.writeUnsuback(messageId, codes, properties);
    }

    writeBytes(bytes: Buffer): void {
      this.endpoint.writeBytes(bytes);
    }

    writePublish(
      size: number,
      topic: string,
      payload: Buffer,
      qos: QoS,
      dup: boolean,
      retain: boolean,
      messageId: number,
      properties: PublishProperties | undefined,
    ): void {
      this.endpoint.writePublish(size, topic, payload, qos, dup, retain, messageId, properties);
    }

    sendPubrel(messageId: number): void {
      this.endpoint.send({ cmd: 'pubrel', messageId });
    }

    hostStepFailed(error: unknown): void {
      this.endpoint.hostStepFailed(error);
    }

    windowChanged(): void {
      this.endpoint.checkWindowOpen();
    }

    keepAliveExpired(): void {
      this.endpoint.keepAliveExpired();
    }

    streamData(chunk: Buffer): void {
      this.endpoint.onData(chunk);
    }

    streamGone(error: Error | undefined): void {
      this.endpoint.onRemoteGone(error);
    }
  };
}

/** Puts the host's codes for the valid filters back among 0x8F for the invalid ones, in the client's order. */
function mergeWithInvalid(parsed: readonly (ParsedTopicFilter | undefined)[]): (codes: number[]) => number[] {
  return (codes) => {
    let next = 0;
    return parsed.map((p) => (p !== undefined ? codes[next++]! : ReasonCode.TopicFilterInvalid));
  };
}

function ignore(): void {
  // Intentionally empty: marks a promise as handled; whoever awaits it still sees the rejection.
}

/** A rejected promise that does not count as unhandled if the host ignores it. */
function rejected<T>(error: unknown): Promise<T> {
  const promise = Promise.reject(error as Error);
  promise.catch(ignore);
  return promise as Promise<T>;
}

/**
 * The outbound half of an endpoint: PUBLISH to the client and the QoS 1 / QoS 2 state machines
 * (PUBLISH → PUBACK; PUBLISH → PUBREC → host step → PUBREL → PUBCOMP), within the in-flight window.
 */
import { MqttPublishError } from './errors';
import { type InflightEntry, type InflightState, MAX_PACKET_ID, OutboundInflight } from './inflight';
import { measurePublishFields, writePublishFields } from './publish-fast-path';
import { ReasonCode } from './reason-codes';
import { validateTopicName } from './topic-validation';
import type {
  AckProperties,
  OutboundMessage,
  PendingPublish,
  ProtocolVersion,
  PublishCallback,
  PublishOptions,
  PublishOutcome,
  PublishProperties,
  PubrecInfo,
  QoS,
} from './types';

/** What the outbound flow needs from its endpoint (internal). */
export interface OutboundLink {
  readonly protocolVersion: ProtocolVersion;
  /** The client's MQTT 5 maximum packet size (Infinity if it set none). */
  readonly clientMaxPacketSize: number;
  /** The client's MQTT 5 topic alias maximum (0 if it set none): the aliases the host may use. */
  readonly clientTopicAliasMaximum: number;
  /** False once the endpoint has closed. */
  isOpen(): boolean;
  writeBytes(bytes: Buffer): void;
  /** Writes the PUBLISH that measurePublishFields has just measured at `size` bytes, with these fields. */
  writePublish(
    size: number,
    topic: string,
    payload: Buffer,
    qos: QoS,
    dup: boolean,
    retain: boolean,
    messageId: number,
    properties: PublishProperties | undefined,
  ): void;
  sendPubrel(messageId: number): void;
  /** The host's onReceived step failed: the endpoint closes. */
  hostStepFailed(error: unknown): void;
  /** The window may have gained or lost room. */
  windowChanged(): void;
}

type Normalized = OutboundMessage & { qos: 1 | 2; payload: Buffer };

function ignore(): void {
  // Intentionally empty: marks a promise as handled; whoever awaits it still sees the rejection.
}

/** What `capture` was last given: a promise's executor shared by every tracked publish instead of a closure each. */
let capturedResolve: ((outcome: PublishOutcome) => void) | undefined;
let capturedReject: ((error: Error) => void) | undefined;

function capture(resolve: (outcome: PublishOutcome) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

const ONCE = { once: true } as const;

/**
 * What a callback is told for a QoS 0 PUBLISH written, or a QoS 1/2 one the client accepted without
 * properties: one object for all (publishWithCallback's callers only read it; publish() gives each its own).
 */
const SUCCESS: PublishOutcome = Object.freeze({ reasonCode: ReasonCode.Success });

function outcomeOf(reasonCode: number, properties: AckProperties | undefined): PublishOutcome {
  return properties !== undefined ? { reasonCode, properties } : { reasonCode };
}

/**
 * An outbound QoS 1/2 message in flight and how its publisher learns the outcome: the promise publish()
 * returns, or the callback publishWithCallback() was given (then no promise is made). It is its abort
 * signal's listener itself (handleEvent), so that a message costs no closures.
 */
class TrackedPublish implements InflightEntry {
  readonly promise: Promise<PublishOutcome> | undefined;
  order = 0;
  private readonly resolve: ((outcome: PublishOutcome) => void) | undefined;
  private readonly reject: ((error: Error) => void) | undefined;

  constructor(
    readonly messageId: number,
    readonly message: Normalized,
    public state: InflightState,
    readonly target: 'publish' | 'pubrel',
    public bytes: Buffer | undefined,
    readonly onReceived: PublishOptions['onReceived'],
    private readonly signal: AbortSignal | undefined,
    private readonly callback: PublishCallback | undefined,
  ) {
    if (callback === undefined) {
      this.promise = new Promise<PublishOutcome>(capture);
      this.resolve = capturedResolve;
      this.reject = capturedReject;
    } else {
      this.promise = undefined;
      this.resolve = undefined;
      this.reject = undefined;
    }
    signal?.addEventListener('abort', this, ONCE);
  }

  /** Tells the publisher; a callback that throws throws here. */
  settle(reasonCode: number, properties: AckProperties | undefined): void {
    this.signal?.removeEventListener('abort', this);
    if (this.callback === undefined) this.resolve?.(outcomeOf(reasonCode, properties));
    else if (reasonCode === ReasonCode.Success && properties === undefined) this.callback(undefined, SUCCESS);
    else this.callback(undefined, outcomeOf(reasonCode, properties));
  }

  fail(error: Error): void {
    this.signal?.removeEventListener('abort', this);
    this.rejectHandled(error);
  }

  /** The signal aborted. */
  handleEvent(): void {
    this.rejectHandled(new MqttPublishError('aborted', 'publish aborted', { cause: this.signal?.reason }));
  }

  private rejectHandled(error: Error): void {
    if (this.callback !== undefined) {
      this.callback(error, undefined);
      return;
    }
    // A host that does not wait for the outcome must not crash the process when the connection drops:
    // marked handled when it fails (not for every message up front, which costs a promise each).
    this.promise?.catch(ignore);
    this.reject?.(error);
  }
}

/** The message without a topicAlias property. */
function withoutAlias<T extends OutboundMessage>(message: T): T {
  if (message.properties?.topicAlias === undefined) return message;
  const { topicAlias: _alias, ...properties } = message.properties;
  const { properties: _old, ...rest } = message;
  return (Object.keys(properties).length > 0 ? { ...rest, properties } : rest) as T;
}

/** The properties without a topicAlias; undefined when nothing else is left. */
function propertiesWithoutAlias(properties: PublishProperties | undefined): PublishProperties | undefined {
  if (properties?.topicAlias === undefined) return properties;
  const { topicAlias: _alias, ...rest } = properties;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

export function toBuffer(payload: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (typeof payload === 'string') return Buffer.from(payload);
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

export class OutboundFlow {
  private readonly inflight: OutboundInflight;
  /** Outbound topic aliases bound on this connection (alias -> topic), as the host chose them; made at the first. */
  private aliases: Map<number, string> | undefined;
  /**
   * The topic of the last PUBLISH whose name was found valid: a connection mostly gets one topic, or a few,
   * again and again, and comparing is cheaper than checking the name afresh.
   */
  private lastValidTopic: string | undefined;

  constructor(
    private readonly link: OutboundLink,
    window: number,
  ) {
    this.inflight = new OutboundInflight(window);
  }

  get inFlight(): number {
    return this.inflight.inFlight;
  }

  get window(): number {
    return this.inflight.window;
  }

  /** Room for a new QoS 1/2 message (and no resent message waiting). */
  get hasRoom(): boolean {
    return this.inflight.hasRoom;
  }

  /**
   * Validates, encodes and sends; see MqttEndpoint.publish. Throws MqttPublishError.
   * MQTT 5 topic aliases chosen by the host are honoured: a topic with `topicAlias` binds the alias, an
   * empty topic with a bound `topicAlias` uses it. Pending messages keep the full topic, without alias.
   */
  publish(message: OutboundMessage, options: PublishOptions): Promise<PublishOutcome> {
    const entry = this.write(message, options, undefined);
    return entry?.promise ?? Promise.resolve({ reasonCode: ReasonCode.Success });
  }

  /**
   * publish() with a callback instead of a promise (MqttEndpoint.publishWithCallback): QoS 0 calls it before
   * returning, QoS 1/2 once the client has answered or the message failed. Throws what publish() rejects
   * with at once.
   */
  publishWithCallback(
    message: OutboundMessage,
    options: PublishOptions,
    callback: PublishCallback | undefined,
  ): void {
    if (this.write(message, options, callback) === undefined) callback?.(undefined, SUCCESS);
  }

  /**
   * Writes the PUBLISH; a QoS 1/2 one is tracked, with `callback` (none: with a promise), and its entry
   * returned. Undefined for QoS 0.
   */
  private write(
    message: OutboundMessage,
    options: PublishOptions,
    callback: PublishCallback | undefined,
  ): TrackedPublish | undefined {
    const qos = message.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2)
      throw new MqttPublishError('invalid-message', `invalid QoS ${qos}`);
    const alias = this.link.protocolVersion === 5 ? message.properties?.topicAlias : undefined;
    const topic = this.fullTopic(message.topic, alias);
    const payload = toBuffer(message.payload);
    if (qos > 0 && !this.inflight.hasRoom) {
      throw new MqttPublishError('window-full', `in-flight window of ${this.inflight.window} is full`);
    }
    const messageId = qos === 0 ? 0 : (this.chosenId(options.messageId) ?? this.inflight.allocateId());
    const properties = this.link.protocolVersion === 5 ? message.properties : undefined;
    const size = this.measure(message.topic, payload, qos, messageId, properties);
    if (alias !== undefined) {
      this.aliases ??= new Map();
      this.aliases.set(alias, topic);
    }
    // Encoded straight into the writer's batch: a new message is sent at once (QoS 1/2 only with room).
    const dup = options.dup === true && qos > 0;
    this.link.writePublish(
      size,
      message.topic,
      payload,
      qos,
      dup,
      message.retain === true,
      messageId,
      properties,
    );
    if (qos === 0) return undefined;
    // What is kept for a resend: the message with its full topic and without the alias. publishWithCallback's
    // caller leaves its message alone until the callback, so one that is already so is kept as it is.
    const kept = propertiesWithoutAlias(message.properties);
    let stored: Normalized;
    if (
      callback !== undefined &&
      topic === message.topic &&
      payload === message.payload &&
      kept === message.properties
    ) {
      stored = message as Normalized;
    } else {
      // Fields assigned one by one: this runs for every outbound message.
      stored = { topic, payload, qos };
      if (message.retain !== undefined) stored.retain = message.retain;
      if (kept !== undefined) stored.properties = kept;
    }
    return this.track(stored, messageId, 'publish', options, undefined, true, callback);
  }

  /** The host's packet identifier (PublishOptions.messageId), checked: in range and not in flight. */
  private chosenId(messageId: number | undefined): number | undefined {
    if (messageId === undefined) return undefined;
    if (!Number.isInteger(messageId) || messageId < 1 || messageId > MAX_PACKET_ID) {
      throw new MqttPublishError('invalid-message', `packet identifier ${messageId} is not in 1..65535`);
    }
    if (this.inflight.has(messageId)) {
      throw new MqttPublishError('packet-id-in-use', `packet identifier ${messageId} is in flight`);
    }
    return messageId;
  }

  /** The topic a PUBLISH stands for, after checking its name and alias. */
  private fullTopic(topic: string, alias: number | undefined): string {
    if (alias !== undefined) {
      const max = this.link.clientTopicAliasMaximum;
      if (!Number.isInteger(alias) || alias < 1 || alias > max) {
        throw new MqttPublishError(
          'invalid-message',
          `topic alias ${alias} outside the client's range 1..${max}`,
        );
      }
      if (topic === '') {
        const bound = this.aliases?.get(alias);
        if (bound === undefined)
          throw new MqttPublishError('invalid-message', `topic alias ${alias} is not bound`);
        return bound;
      }
    }
    if (topic === this.lastValidTopic) return topic;
    const valid = validateTopicName(topic);
    if (!valid.ok) throw new MqttPublishError('invalid-message', valid.reason);
    this.lastValidTopic = topic;
    return topic;
  }

  /**
   * Re-sends a pending message with its packet identifier and full topic (aliases do not survive the
   * connection); see MqttEndpoint.resend. Throws MqttPublishError.
   */
  resend(pending: PendingPublish, options: PublishOptions): Promise<PublishOutcome> {
    this.chosenId(pending.messageId);
    if (pending.state === 'publish') {
      // A PUBREL carries only the packet identifier: its message may be a placeholder.
      const valid = validateTopicName(pending.message.topic);
      if (!valid.ok) throw new MqttPublishError('invalid-message', valid.reason);
    }
    const message: Normalized = {
      ...withoutAlias(pending.message),
      payload: toBuffer(pending.message.payload),
    };
    const bytes =
      pending.state === 'publish'
        ? this.encode(message, message.payload, pending.messageId, true)
        : undefined;
    return this.track(message, pending.messageId, pending.state, options, bytes, false, undefined).promise!;
  }

  /** An acknowledgement from the client. Late or unknown ones are ignored. */
  onAck(
    messageId: number,
    cmd: 'puback' | 'pubrec' | 'pubcomp',
    reasonCode: number,
    properties: AckProperties | undefined,
  ): void {
    const entry = this.inflight.get(messageId);
    if (entry === undefined) return;
    if (cmd === 'puback') {
      if (entry.message.qos === 1 && entry.state === 'publish') this.complete(entry, reasonCode, properties);
    } else if (cmd === 'pubrec') {
      if (entry.message.qos !== 2) return;
      if (entry.state === 'pubrel')
        this.link.sendPubrel(messageId); // PUBREC repeated: repeat PUBREL.
      else if (entry.state !== 'publish') return;
      else if (reasonCode >= 0x80) this.complete(entry, reasonCode, properties);
      else {
        entry.state = 'received';
        this.afterPubrec(entry, { messageId, reasonCode, ...(properties ? { properties } : {}) });
      }
    } else if (entry.state === 'pubrel') {
      this.complete(entry, reasonCode, properties);
    }
  }

  pending(): PendingPublish[] {
    return this.inflight.pending();
  }

  /** The connection closed: every waiting publish fails with `error`. */
  failAll(error: Error): void {
    for (const entry of this.inflight.drain()) {
      try {
        entry.fail(error);
      } catch {
        // A publishWithCallback callback threw: the connection is closing already, the others are still told.
      }
    }
  }

  /** The PUBLISH packet's bytes for `message`, whose payload is given as a Buffer. */
  private encode(message: OutboundMessage, payload: Buffer, messageId: number, dup: boolean): Buffer {
    const qos = message.qos ?? 0;
    const properties = this.link.protocolVersion === 5 ? message.properties : undefined;
    const bytes = Buffer.allocUnsafe(this.measure(message.topic, payload, qos, messageId, properties));
    writePublishFields(
      bytes,
      0,
      message.topic,
      payload,
      qos,
      dup && qos > 0,
      message.retain === true,
      messageId,
      properties,
      this.link.protocolVersion,
    );
    return bytes;
  }

  /**
   * The size of the PUBLISH with these fields (measurePublishFields: write it next). Throws MqttPublishError
   * when it cannot be encoded or exceeds the client's maximum packet size.
   */
  private measure(
    topic: string,
    payload: Buffer,
    qos: QoS,
    messageId: number,
    properties: PublishProperties | undefined,
  ): number {
    let size: number;
    try {
      size = measurePublishFields(topic, payload, qos, messageId, properties, this.link.protocolVersion);
    } catch (error) {
      throw new MqttPublishError('invalid-message', (error as Error).message, { cause: error });
    }
    if (size > this.link.clientMaxPacketSize) {
      throw new MqttPublishError(
        'packet-too-large',
        `PUBLISH of ${size} bytes exceeds the client's maximum packet size ${this.link.clientMaxPacketSize}`,
      );
    }
    return size;
  }

  /**
   * Keeps a QoS 1/2 message in flight until the client completes it. `written`: publish() has written it
   * already; otherwise it is written now (`bytes`, or PUBREL) if the window has room, or queued.
   */
  private track(
    message: Normalized,
    messageId: number,
    target: 'publish' | 'pubrel',
    options: PublishOptions,
    bytes: Buffer | undefined,
    written: boolean,
    callback: PublishCallback | undefined,
  ): TrackedPublish {
    const state = written || this.inflight.hasRoom ? target : 'queued';
    const entry = new TrackedPublish(
      messageId,
      message,
      state,
      target,
      bytes,
      options.onReceived,
      options.signal,
      callback,
    );
    this.inflight.add(entry);
    if (!written && state !== 'queued') this.transmit(entry);
    this.link.windowChanged();
    return entry;
  }

  private transmit(entry: InflightEntry): void {
    entry.state = entry.target;
    if (entry.state === 'publish') this.link.writeBytes(entry.bytes!);
    else this.link.sendPubrel(entry.messageId);
    entry.bytes = undefined;
  }

  private afterPubrec(entry: InflightEntry, info: PubrecInfo): void {
    const sendPubrel = (): void => {
      if (!this.link.isOpen() || this.inflight.get(entry.messageId) !== entry) return;
      entry.state = 'pubrel';
      this.link.sendPubrel(entry.messageId);
    };
    if (entry.onReceived === undefined) {
      sendPubrel();
      return;
    }
    let result: void | Promise<void>;
    try {
      result = entry.onReceived(info);
    } catch (error) {
      this.link.hostStepFailed(error);
      return;
    }
    if (result instanceof Promise)
      result.then(sendPubrel, (error: unknown) => this.link.hostStepFailed(error));
    else sendPubrel();
  }

  private complete(entry: InflightEntry, reasonCode: number, properties: AckProperties | undefined): void {
    this.inflight.delete(entry.messageId);
    let thrown: { error: unknown } | undefined;
    try {
      entry.settle(reasonCode, properties);
    } catch (error) {
      thrown = { error }; // A publishWithCallback callback threw: the connection closes, as for a failed host step.
    }
    for (let next = this.inflight.takeQueued(); next !== undefined; next = this.inflight.takeQueued()) {
      this.transmit(next);
    }
    this.link.windowChanged();
    if (thrown !== undefined) this.link.hostStepFailed(thrown.error);
  }
}

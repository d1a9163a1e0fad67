/**
 * What the endpoint hands the host for inbound requests: a PUBLISH to acknowledge when the host is
 * ready, a SUBSCRIBE / UNSUBSCRIBE to answer. Every method is a no-op once the endpoint has closed.
 */
import { MqttConnectionClosedError } from './errors';
import type {
  AckOptions,
  AckProperties,
  CloseReason,
  ParsedTopicFilter,
  PublishMessage,
  PublishProperties,
  QoS,
  RequestedSubscription,
  SubscribeProperties,
  SubscribeRequest,
  UnsubscribeProperties,
  UnsubscribeRequest,
} from './types';

/** The endpoint side of an inbound request (internal). */
export interface InboundSink {
  readonly closed: boolean;
  readonly closeReason: CloseReason | undefined;
  writeAck(cmd: 'puback' | 'pubrec' | 'pubcomp', messageId: number, options: AckOptions | undefined): void;
  /** The host answered a PUBLISH (PUBACK / PUBREC) or a request (SUBACK / UNSUBACK). */
  hostAnswered(kind: 'publish' | 'request'): void;
  /** PUBCOMP written: the QoS 2 packet identifier is free again. */
  qos2Completed(messageId: number): void;
  writeSuback(messageId: number, granted: number[], properties: AckProperties | undefined): void;
  writeUnsuback(messageId: number, codes: number[], properties: AckProperties | undefined): void;
}

type Qos2State = 'received' | 'pubrec-sent' | 'released' | 'completed';

const EMPTY_PAYLOAD = Buffer.alloc(0);

/**
 * An inbound PUBLISH.
 * - QoS 0: nothing to do.
 * - QoS 1: call `ack()` when the message is safe (writes PUBACK).
 * - QoS 2: call `received()` when the message is safe (writes PUBREC); the client then sends PUBREL
 *   (`released()` resolves); `complete()` writes PUBCOMP — called before PUBREL arrives, it writes
 *   PUBCOMP as soon as PUBREL arrives. Until PUBCOMP a re-sent PUBLISH with the same packet
 *   identifier is not delivered again (PUBREC is repeated if it was already sent).
 */
export class InboundPublish implements PublishMessage {
  readonly topic: string;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  readonly messageId: number | undefined;
  readonly properties: PublishProperties | undefined;
  private answered: boolean;
  /** Let go of once a QoS 2 PUBREC is written: the flow may wait long for PUBREL, the payload need not. */
  private body: Buffer;
  private qos2: Qos2State = 'received';
  private completeOptions: AckOptions | undefined;
  private completeRequested = false;
  private releaseWaiter:
    | { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void }
    | undefined;

  /**
   * @internal created by the endpoint from the PUBLISH it read, with the topic and properties it stands for
   * (a topic alias resolved and left out).
   */
  constructor(
    private readonly sink: InboundSink,
    packet: PublishMessage,
    topic: string,
    properties: PublishProperties | undefined,
  ) {
    this.topic = topic;
    this.body = packet.payload;
    this.qos = packet.qos;
    this.retain = packet.retain;
    this.dup = packet.dup;
    this.messageId = packet.messageId;
    this.properties = properties;
    this.answered = packet.qos === 0;
  }

  /**
   * The message body. QoS 2: empty once received() has written PUBREC — the message is the host's by then,
   * and an exchange waiting for the client's PUBREL should not keep it in memory; read it before.
   */
  get payload(): Buffer {
    return this.body;
  }

  /** True once the host has answered (ack() for QoS 1, received() for QoS 2; always for QoS 0). */
  get acknowledged(): boolean {
    return this.answered;
  }

  /** QoS 1: writes PUBACK (MQTT 5: with the reason code, e.g. 0x87 not authorized). QoS 0: no-op. */
  ack(options?: AckOptions): void {
    if (this.qos === 2) throw new TypeError('QoS 2 messages are answered with received() and complete()');
    if (this.answered) return;
    this.answered = true;
    this.sink.hostAnswered('publish');
    if (!this.sink.closed) this.sink.writeAck('puback', this.messageId!, options);
  }

  /** QoS 2: writes PUBREC. A reason code >= 0x80 (MQTT 5) ends the exchange. */
  received(options?: AckOptions): void {
    if (this.qos !== 2) throw new TypeError('received() is for QoS 2 messages; use ack()');
    if (this.answered) return;
    this.answered = true;
    this.qos2 = 'pubrec-sent';
    this.body = EMPTY_PAYLOAD;
    this.sink.hostAnswered('publish');
    if (this.sink.closed) return;
    this.sink.writeAck('pubrec', this.messageId!, options);
    if ((options?.reasonCode ?? 0) >= 0x80) {
      // A failed PUBREC completes the flow: the packet identifier is free and no PUBREL follows.
      this.qos2 = 'completed';
      this.sink.qos2Completed(this.messageId!);
    }
  }

  /** QoS 2: resolves when the client's PUBREL arrives; rejects with MqttConnectionClosedError if it closes first. */
  released(): Promise<void> {
    if (this.qos !== 2) return Promise.reject(new TypeError('released() is for QoS 2 messages'));
    if (this.qos2 === 'released' || this.qos2 === 'completed') return Promise.resolve();
    if (this.sink.closed) return Promise.reject(new MqttConnectionClosedError(this.sink.closeReason!));
    if (this.releaseWaiter === undefined) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.releaseWaiter = { promise, resolve, reject };
    }
    return this.releaseWaiter.promise;
  }

  /** QoS 2: writes PUBCOMP now if PUBREL has arrived, otherwise as soon as it does. */
  complete(options?: AckOptions): void {
    if (this.qos !== 2) throw new TypeError('complete() is for QoS 2 messages');
    if (this.completeRequested) return;
    this.completeRequested = true;
    this.completeOptions = options;
    if (this.qos2 === 'released') this.writeComplete();
  }

  /** @internal a duplicate PUBLISH arrived: repeat PUBREC if it was sent. */
  duplicate(): void {
    if (this.qos2 === 'pubrec-sent' && !this.sink.closed)
      this.sink.writeAck('pubrec', this.messageId!, undefined);
  }

  /** @internal PUBREL arrived. Returns false if PUBREC was not sent yet (a protocol error). */
  release(): boolean {
    if (this.qos2 === 'received') return false;
    if (this.qos2 === 'pubrec-sent') {
      this.qos2 = 'released';
      this.releaseWaiter?.resolve();
      if (this.completeRequested) this.writeComplete();
    } else if (this.qos2 === 'completed') {
      this.sink.writeAck('pubcomp', this.messageId!, undefined);
    }
    return true;
  }

  /** @internal the connection closed. */
  abandon(reason: CloseReason): void {
    if (this.qos2 === 'pubrec-sent') this.releaseWaiter?.reject(new MqttConnectionClosedError(reason));
  }

  private writeComplete(): void {
    this.qos2 = 'completed';
    if (this.sink.closed) return;
    this.sink.writeAck('pubcomp', this.messageId!, this.completeOptions);
    this.sink.qos2Completed(this.messageId!);
  }
}

/**
 * An inbound SUBSCRIBE. Answer with `grant(codes)`: one entry per subscription, in order — the
 * granted QoS (0, 1, 2) or a failure (MQTT 5 reason code >= 0x80; 3.1.1 clients get 0x80).
 * The endpoint writes the SUBACK. Filters that are not valid never reach the host: for MQTT 5 they
 * get 0x8F in the SUBACK, a 3.1.1 client is disconnected.
 */
export class InboundSubscribe implements SubscribeRequest {
  readonly messageId: number;
  /** The valid entries, in order, each with its parsed `filter` and `group` (MQTT 5 shared subscriptions). */
  readonly subscriptions: RequestedSubscription[];
  readonly properties: SubscribeProperties | undefined;
  private answered = false;

  /** @internal */
  constructor(
    private readonly sink: InboundSink,
    request: SubscribeRequest,
    private readonly merge: (codes: number[]) => number[],
  ) {
    this.messageId = request.messageId;
    this.subscriptions = request.subscriptions;
    this.properties = request.properties;
  }

  grant(codes: readonly number[], properties?: AckProperties): void {
    if (this.answered) return;
    if (codes.length !== this.subscriptions.length) {
      throw new RangeError(`grant() needs ${this.subscriptions.length} codes, got ${codes.length}`);
    }
    this.answered = true;
    this.sink.hostAnswered('request');
    if (!this.sink.closed) this.sink.writeSuback(this.messageId, this.merge([...codes]), properties);
  }
}

/**
 * An inbound UNSUBSCRIBE. Answer with `done(codes?)`: MQTT 5 reason codes per filter (default all
 * 0x00 success); 3.1.1 UNSUBACK carries none. The endpoint writes the UNSUBACK.
 */
export class InboundUnsubscribe implements UnsubscribeRequest {
  readonly messageId: number;
  readonly unsubscriptions: string[];
  /** `unsubscriptions` parsed, in the same order (`group` set for an MQTT 5 shared subscription). */
  readonly filters: ParsedTopicFilter[];
  readonly properties: UnsubscribeProperties | undefined;
  private answered = false;

  /** @internal */
  constructor(
    private readonly sink: InboundSink,
    request: UnsubscribeRequest,
    private readonly merge: (codes: number[]) => number[],
  ) {
    this.messageId = request.messageId;
    this.unsubscriptions = request.unsubscriptions;
    this.filters = request.filters;
    this.properties = request.properties;
  }

  done(codes?: readonly number[], properties?: AckProperties): void {
    if (this.answered) return;
    if (codes !== undefined && codes.length !== this.unsubscriptions.length) {
      throw new RangeError(`done() needs ${this.unsubscriptions.length} codes, got ${codes.length}`);
    }
    this.answered = true;
    this.sink.hostAnswered('request');
    const all = codes === undefined ? this.unsubscriptions.map(() => 0) : [...codes];
    if (!this.sink.closed) this.sink.writeUnsuback(this.messageId, this.merge(all), properties);
  }
}

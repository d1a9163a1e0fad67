import type { Delivery, MessageId, Receiver } from '@dragoman/amqp';
import {
  MqttPublishError,
  type OutboundMessage,
  type PublishCallback,
  type PublishOptions,
  type PublishOutcome,
  type PublishProperties,
} from '@dragoman/mqtt';
import { decodePubrelRequest, isPubrelRequest } from '../mapping/pubrel';
import type { DecodedPublish } from '../types';
import type { MessageTally } from './message-tally';
import type { OutboundTopicAliases } from './topic-aliases';

/** What the network-to-client path needs from its bridge. */
export interface ClientDeliveriesHost {
  /**
   * The client's in-flight window: how many messages it may have unacknowledged (MQTT 5 receive maximum,
   * capped by the endpoint's outbound window; the endpoint's window for 3.1.1).
   */
  readonly window: number;
  /**
   * Writes a PUBLISH without a promise (`endpoint.publishWithCallback`): throws what the endpoint refuses at
   * once; QoS 0 is written when it returns, QoS 1/2 get the client's answer (or the failure) in `done`.
   */
  write(message: OutboundMessage, options: PublishOptions, done: PublishCallback | undefined): void;
  /** The same with a promise (`endpoint.publish`), for the rare re-sends after a refusal. */
  publish(message: OutboundMessage, options: PublishOptions): Promise<PublishOutcome | undefined>;
  /** Counts the PUBLISHes completed with the client and the attempts that failed. */
  readonly tally: MessageTally;
  /** True while the client's socket has more queued than its high-water mark (credit waits for it to drain). */
  writeBlocked(): boolean;
  /** Maps an AMQP_PUBLISH to MQTT terms; throws `MappingError` for a message that does not follow the spec. */
  decode(delivery: Delivery): DecodedPublish;
  /** Sends AMQP_PUBREL for the AMQP_PUBLISH `messageId`; resolves once it is accepted. */
  pubrel(messageId: MessageId): Promise<void>;
  /**
   * Writes PUBREL for `packetId` (a QoS 2 message an earlier connection left in its PUBREL step:
   * `endpoint.resend({ state: 'pubrel' })`); resolves on the client's PUBCOMP.
   */
  resendPubrel(packetId: number, topic: string | undefined): Promise<PublishOutcome>;
  /** MQTT 5 client: properties, topic aliases and subscription identifiers are written. */
  readonly v5: boolean;
  readonly aliases: OutboundTopicAliases;
}

/** On the receiver whose deliveries a `ClientDeliveries` serves: its shared listener finds that one here. */
const DELIVERIES = Symbol('dragoman.client-deliveries');
type ServedReceiver = Receiver & { [DELIVERIES]?: ClientDeliveries };

/**
 * Network → client, on the receiver attached to `$mqtt.to.<client id>.publish` with manual credit.
 * Credit is granted only while the client's in-flight window has room: credit held by the peer plus
 * deliveries held here never exceed the window, and no credit is given while the client's socket is
 * backed up, so a slow subscriber holds at most `window` messages in the gateway.
 *
 * A QoS 1/2 PUBLISH goes out with packet id = the AMQP message-id when that is one (1..65535; the
 * Subscription service numbers each session's messages so) and DUP = the delivery's redelivered flag; a
 * message-id that is no packet id (another AMQP network), or one already in flight, gets an id of the
 * endpoint's. QoS 0: settled at once, then written. QoS 1: written, settled on PUBACK. QoS 2: written; on
 * PUBREC AMQP_PUBREL goes to `$mqtt.<client id>.pubrel` and, once accepted, PUBREL to the client; the
 * delivery is settled on PUBCOMP, so that one that comes back unsettled tells the service the client may
 * still be owed its PUBREL. A PUBREL request (subject `pubrel`) is written as PUBREL and accepted on PUBCOMP.
 * An expired message is settled (accepted) and not written.
 */
export class ClientDeliveries {
  private highWater = 0;
  private stopped = false;
  /**
   * Deliveries whose window slot is taken (received and not yet completed with the client), oldest first: a
   * list through the records themselves, so that holding and freeing one allocates nothing (a Map's table is
   * made anew every few messages as entries come and go, and each time it empties).
   */
  private firstHeld: Held | undefined;
  private lastHeld: Held | undefined;
  private held = 0;

  constructor(
    private readonly receiver: Receiver,
    private readonly host: ClientDeliveriesHost,
  ) {
    (receiver as ServedReceiver)[DELIVERIES] = this;
    receiver.on('delivery', ClientDeliveries.onReceiverDelivery);
  }

  /** The receiver's 'delivery' listener, called with the receiver as `this`: one function for every client. */
  private static readonly onReceiverDelivery = function (this: ServedReceiver, delivery: Delivery): void {
    const deliveries = this[DELIVERIES];
    if (deliveries === undefined) return;
    deliveries.onDelivery(delivery);
    // The peer has used its last credit: slots freed meanwhile in amounts below a batch were not granted yet,
    // and without this grant they would wait for the client's next acknowledgement, which may never come
    // while it waits for these messages.
    if (this.credit === 0) deliveries.topUp();
  };

  /** Deliveries received and not yet completed with the client (their window slot is taken). */
  get heldDeliveries(): number {
    return this.held;
  }

  /** The most deliveries ever held at once. */
  get heldHighWater(): number {
    return this.highWater;
  }

  get outstandingCredit(): number {
    return this.receiver.credit;
  }

  /**
   * Grants credit up to the free part of the window. Call again when the socket drains or a slot frees.
   * While the peer still holds credit, it is granted in batches of a quarter of the window: each grant is a
   * flow frame, and one per delivered message cost both AMQP ends an encode and a decode per message.
   */
  topUp(): void {
    if (this.stopped || !this.receiver.isOpen || this.host.writeBlocked()) return;
    const window = this.host.window;
    const credit = this.receiver.credit;
    const want = window - this.heldDeliveries - credit;
    if (want > 0 && (credit === 0 || want >= Math.ceil(window / 4))) this.receiver.addCredit(want);
  }

  /**
   * Gives back what is held and not settled: deliveries written to the client and not acknowledged come
   * back `modified` (delivery failed: the service counts a redelivery), the others `released`.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    let held = this.firstHeld;
    this.firstHeld = undefined;
    this.lastHeld = undefined;
    this.held = 0;
    while (held !== undefined) {
      const next = held.next;
      held.linked = false;
      held.previous = undefined;
      held.next = undefined;
      this.settle(held.delivery, held, held.written ? modifyFailed : release);
      held = next;
    }
  }

  private onDelivery(delivery: Delivery): void {
    if (this.stopped) {
      if (delivery.settleable) delivery.release();
      return;
    }
    const held = new Held(delivery);
    // Counted as held from here, also when it is done with at once below.
    const heldBefore = this.heldDeliveries;
    if (heldBefore + 1 > this.highWater) this.highWater = heldBefore + 1;
    if (isPubrelRequest(delivery.message)) {
      this.hold(held);
      this.onPubrelRequest(delivery, held);
      return;
    }
    // Until it is known to wait for the client, it stays out of the held list: most of what is done with in
    // this call (QoS 0) never takes a window slot past it.
    let decoded: DecodedPublish;
    try {
      decoded = this.host.decode(delivery);
    } catch (error) {
      const description = error instanceof Error ? error.message : 'not an MQTT-over-AMQP message';
      this.settle(delivery, held, (d) => d.reject({ condition: 'amqp:decode-error', description }));
      this.topUp();
      return;
    }
    if (decoded.expired) {
      this.settle(delivery, held, accept);
      this.topUp();
      return;
    }
    const message = this.toMqtt(decoded);
    held.written = true;
    const tally = this.host.tally;
    if (decoded.qos === 0) {
      this.settle(delivery, held, accept);
      // No promise and no closure: written when write() returns; retries only once a first attempt failed.
      try {
        this.host.write(message, NO_OPTIONS, undefined);
        tally.delivered(0);
      } catch (error) {
        tally.failed();
        const retry = this.retry(error, message, decoded.topic, NO_OPTIONS);
        if (retry === undefined) this.unwritable(delivery, held, error);
        else retry.catch((failure: unknown) => this.unwritable(delivery, held, failure));
      }
      this.topUp();
      return;
    }
    this.hold(held);
    const options: PublishOptions = { dup: decoded.dup };
    const packetId = decoded.messageId;
    if (typeof packetId === 'number' && Number.isInteger(packetId) && packetId >= 1 && packetId <= 0xffff) {
      options.messageId = packetId;
    }
    if (decoded.qos === 2) {
      // PUBREL is written once AMQP_PUBREL is accepted; the delivery is settled on PUBCOMP, below.
      options.onReceived = () => this.host.pubrel(decoded.messageId ?? delivery.tag);
    }
    const qos = decoded.qos;
    // One closure per message and no promise; the retries of `write` are only set up once an attempt failed.
    const done = (error: Error | undefined, outcome: PublishOutcome | undefined): void => {
      if (error === undefined) {
        tally.delivered(qos);
        this.answered(delivery, held, outcome);
        return;
      }
      tally.failed();
      const retry = this.retry(error, message, decoded.topic, options);
      if (retry === undefined) this.unwritable(delivery, held, error);
      else
        retry.then(
          (answer) => this.answered(delivery, held, answer),
          (failure: unknown) => this.unwritable(delivery, held, failure),
        );
    };
    try {
      this.host.write(message, options, done);
    } catch (error) {
      done(error as Error, undefined);
    }
  }

  /** The client answered a QoS 1/2 PUBLISH: the delivery is settled accordingly and its window slot freed. */
  private answered(delivery: Delivery, held: Held, outcome: PublishOutcome | undefined): void {
    const code = outcome?.reasonCode ?? 0;
    if (code < 0x80) {
      this.settle(delivery, held, accept);
    } else {
      const description = `the MQTT client refused the message (reason code 0x${code.toString(16)})`;
      this.settle(delivery, held, (d) => d.reject({ condition: 'amqp:not-allowed', description }));
    }
    this.free(held);
  }

  /**
   * A PUBREL request: the client may be owed the PUBREL of a QoS 2 message an earlier connection took to its
   * PUBREL step. Written as PUBREL with the packet id; accepted on PUBCOMP (the service forgets it then).
   * A request whose packet id is in flight here is accepted at once: that exchange goes on and completes it.
   */
  private onPubrelRequest(delivery: Delivery, held: Held): void {
    let packetId: number;
    let topic: string | undefined;
    try {
      ({ packetId, topic } = decodePubrelRequest(delivery.message));
    } catch (error) {
      const description = error instanceof Error ? error.message : 'not a PUBREL request';
      this.settle(delivery, held, (d) => d.reject({ condition: 'amqp:invalid-field', description }));
      this.free(held);
      return;
    }
    held.written = true;
    this.host.resendPubrel(packetId, topic).then(
      () => {
        this.settle(delivery, held, accept);
        this.free(held);
      },
      (error: unknown) => {
        // Closed meanwhile: `stop()` gives it back, and the next connection sends the PUBREL again.
        if (!(error instanceof MqttPublishError) || error.code !== 'packet-id-in-use') return;
        this.settle(delivery, held, accept);
        this.free(held);
      },
    );
  }

  /**
   * A PUBLISH the endpoint would not write. Too large for the client: MQTT 5 says discard it as if sent, so it
   * is accepted. Not a valid MQTT message (e.g. a topic with wildcards from a native AMQP sender): rejected.
   * The connection closed: nothing here, `stop()` gives the message back for redelivery.
   */
  private unwritable(delivery: Delivery, held: Held, error: unknown): void {
    if (!(error instanceof MqttPublishError)) return;
    if (error.code === 'packet-too-large') {
      this.settle(delivery, held, accept);
    } else if (error.code === 'invalid-message') {
      this.settle(delivery, held, (d) =>
        d.reject({ condition: 'amqp:invalid-field', description: error.message }),
      );
    } else {
      return;
    }
    this.free(held);
  }

  private toMqtt(decoded: DecodedPublish): OutboundMessage {
    const message: OutboundMessage = {
      topic: decoded.topic,
      payload: decoded.payload,
      qos: decoded.qos,
      retain: decoded.retain,
    };
    if (!this.host.v5) return message;
    const properties: PublishProperties = { ...(decoded.properties ?? {}) };
    const aliased = this.host.aliases.resolve(decoded.topic);
    if (aliased.topicAlias !== undefined) {
      message.topic = aliased.topic;
      properties.topicAlias = aliased.topicAlias;
    }
    if (Object.keys(properties).length > 0) message.properties = properties;
    return message;
  }

  /**
   * Writes the PUBLISH again after a refusal (with a promise: this is rare), retrying as `retry` says when the
   * endpoint refuses it too.
   */
  private write(
    message: OutboundMessage,
    topic: string,
    options: PublishOptions,
  ): Promise<PublishOutcome | undefined> {
    const tally = this.host.tally;
    return this.host.publish(message, options).then(
      (outcome) => {
        tally.delivered(message.qos ?? 0);
        return outcome;
      },
      (error: unknown) => {
        tally.failed();
        const retry = this.retry(error, message, topic, options);
        if (retry === undefined) throw error;
        return retry;
      },
    );
  }

  /**
   * The next attempt after the endpoint refused a PUBLISH, or undefined when there is none. A packet id in
   * flight already (a message-id that is not one of a session's packet ids): one the endpoint picks. An
   * alias-only PUBLISH (empty topic) refused as invalid: the full topic instead, and aliases are switched off
   * for this client; nothing is lost, only the saving.
   */
  private retry(
    error: unknown,
    message: OutboundMessage,
    topic: string,
    options: PublishOptions,
  ): Promise<PublishOutcome | undefined> | undefined {
    if (!(error instanceof MqttPublishError)) return undefined;
    if (error.code === 'packet-id-in-use' && options.messageId !== undefined) {
      const { messageId: _taken, ...rest } = options;
      return this.write(message, topic, rest);
    }
    if (error.code === 'invalid-message' && message.topic !== topic && message.topic === '') {
      this.host.aliases.disable();
      const { properties: aliased, ...rest } = message;
      const { topicAlias: _alias, ...properties } = aliased ?? {};
      const full: OutboundMessage = {
        ...rest,
        topic,
        ...(Object.keys(properties).length > 0 ? { properties } : {}),
      };
      return this.write(full, topic, options);
    }
    return undefined;
  }

  /** Gives the AMQP outcome once (if the link still allows it). */
  private settle(delivery: Delivery, held: Held, how: (delivery: Delivery) => void): void {
    if (held.settled) return;
    held.settled = true;
    if (!delivery.settleable) return;
    try {
      how(delivery);
    } catch {
      // The link is gone: the peer redelivers.
    }
  }

  /** The delivery waits for the client: it takes a window slot. */
  private hold(held: Held): void {
    held.linked = true;
    held.previous = this.lastHeld;
    if (this.lastHeld === undefined) this.firstHeld = held;
    else this.lastHeld.next = held;
    this.lastHeld = held;
    this.held += 1;
  }

  /** The client is done with the message: its window slot is free again. */
  private free(held: Held): void {
    if (!held.linked) return;
    held.linked = false;
    const { previous, next } = held;
    if (previous === undefined) this.firstHeld = next;
    else previous.next = next;
    if (next === undefined) this.lastHeld = previous;
    else next.previous = previous;
    held.previous = undefined;
    held.next = undefined;
    this.held -= 1;
    this.topUp();
  }
}

/** Options of a QoS 0 PUBLISH: none (one object for all of them; the endpoint only reads it). */
const NO_OPTIONS: PublishOptions = Object.freeze({});

/** The outcome most deliveries get (one function, not a closure per delivery). */
function accept(delivery: Delivery): void {
  delivery.accept();
}

/** Given back by `stop()`: written to the client and not acknowledged, so the service counts a redelivery. */
function modifyFailed(delivery: Delivery): void {
  delivery.modify({ deliveryFailed: true });
}

/** Given back by `stop()`: never written to the client. */
function release(delivery: Delivery): void {
  delivery.release();
}

/** One delivery received for the client, until it is settled and its window slot free. */
class Held {
  /** Written to the client (a redelivery is then a duplicate). */
  written = false;
  /** The AMQP outcome has been given. */
  settled = false;
  /** In its `ClientDeliveries`' list of deliveries taking a window slot (`previous`, `next`). */
  linked = false;
  previous: Held | undefined = undefined;
  next: Held | undefined = undefined;

  constructor(readonly delivery: Delivery) {}
}

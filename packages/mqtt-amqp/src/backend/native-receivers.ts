/**
 * Plain AMQP receivers attached to topic addresses: a receiver on `a/b` gets what is published on `a/b`, and
 * a receiver on a filter address (`a/+`, `a/#`) gets every matching topic, exactly as an MQTT subscription
 * with that filter would (`$` topics are not matched by a leading wildcard).
 *
 * A native receiver has no session: it gets messages while attached, one copy per link, with the message's
 * own QoS and the retain flag cleared (no retained messages on attach). Each link's sends wait for its credit
 * in a queue of at most `maxQueued` messages; beyond that, messages for that link are dropped and counted.
 */
import { type AmqpMessage, type Sender, SendQueueFullError } from '@dragoman/amqp';
import { TopicTree } from '@dragoman/mqtt';
import type { MqttMessage } from '../types';
import type { BackendCodec } from './codec';

export class NativeReceivers {
  readonly #tree = new TopicTree<Sender, Sender>();
  readonly #filters = new Map<Sender, string>();
  #dropped = 0;
  readonly #codec: BackendCodec;

  constructor(codec: BackendCodec) {
    this.#codec = codec;
  }

  get size(): number {
    return this.#filters.size;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** Messages waiting for credit over every native link. */
  get queued(): number {
    let queued = 0;
    for (const sender of this.#filters.keys()) queued += sender.queued;
    return queued;
  }

  /** Throws `MqttProtocolError` when `filter` is not a valid topic filter. */
  add(filter: string, sender: Sender): void {
    this.#tree.set(filter, sender, sender);
    this.#filters.set(sender, filter);
  }

  remove(sender: Sender): void {
    const filter = this.#filters.get(sender);
    if (filter === undefined) return;
    this.#filters.delete(sender);
    this.#tree.delete(filter, sender);
  }

  /** Hands the message to every matching link (queued for credit, bounded). */
  publish(message: MqttMessage): void {
    if (this.#tree.size === 0) return;
    const copy: MqttMessage = { ...message, retain: false };
    let encoded: AmqpMessage | undefined;
    this.#tree.forEachMatch(message.topic, (sender) => {
      encoded ??= this.#codec.encodeDelivery(copy, undefined, false);
      sender.send(encoded).catch((error: unknown) => {
        if (error instanceof SendQueueFullError) this.#dropped += 1;
        // Otherwise the link closed; its messages go with it, as for any subscriber that leaves.
      });
    });
  }
}

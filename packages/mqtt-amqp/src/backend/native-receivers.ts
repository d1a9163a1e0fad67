/**
 * Plain AMQP receivers attached to topic addresses: a receiver on `a/b` gets what is published on `a/b`, and
 * a receiver on a filter address (`a/+`, `a/#`) gets every matching topic, exactly as an MQTT subscription
 * with that filter would (`$` topics are not matched by a leading wildcard).
 *
 * A native receiver has no session: it gets messages while attached, one copy per link, with the message's
 * own QoS and the retain flag cleared (no retained messages on attach). Each link's messages wait for its
 * credit in a queue of at most `maxQueued`. `hasRoomFor` tells the backend whether every matching link can
 * take one more (it holds QoS 1/2 publications back until they can); a message that finds a full queue anyway
 * (QoS 0, or the `drop` policy) is dropped and counted.
 */
import type { AmqpMessage, Sender } from '@dragoman/amqp';
import { TopicTree } from '@dragoman/mqtt';
import type { MqttMessage } from '../types';
import type { BackendCodec } from './codec';

interface NativeLink {
  readonly sender: Sender;
  readonly filter: string;
  /** Messages waiting for the link's credit, oldest first; at most `maxQueued`. */
  readonly queue: AmqpMessage[];
}

export class NativeReceivers {
  readonly #tree = new TopicTree<Sender, NativeLink>();
  readonly #links = new Map<Sender, NativeLink>();
  readonly #codec: BackendCodec;
  readonly #maxQueued: number;
  readonly #onRoom: () => void;
  #dropped = 0;
  /**
   * The links matching the topic looked up last, until a link comes or goes: the backend asks twice per
   * publication (room, then publish) and publishers keep to their topics. Replaced, never changed in place, so a
   * publish may go on over it while a write adds or removes a link.
   */
  #lastTopic: string | undefined;
  #lastLinks: readonly NativeLink[] = [];
  #collecting: NativeLink[] = [];
  readonly #collect = (link: NativeLink): void => {
    this.#collecting.push(link);
  };

  /** `onRoom`: a link's queue shrank (or the link left), so held publications may go on. */
  constructor(codec: BackendCodec, maxQueued: number, onRoom: () => void) {
    this.#codec = codec;
    this.#maxQueued = maxQueued;
    this.#onRoom = onRoom;
  }

  get size(): number {
    return this.#links.size;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** Messages waiting for credit over every native link. */
  get queued(): number {
    let queued = 0;
    for (const link of this.#links.values()) queued += link.queue.length;
    return queued;
  }

  /** Throws `MqttProtocolError` when `filter` is not a valid topic filter. */
  add(filter: string, sender: Sender): void {
    const link: NativeLink = { sender, filter, queue: [] };
    this.#tree.set(filter, sender, link);
    this.#links.set(sender, link);
    this.#lastTopic = undefined;
    sender.on('sendable', () => this.#pump(link));
  }

  remove(sender: Sender): void {
    const link = this.#links.get(sender);
    if (link === undefined) return;
    this.#links.delete(sender);
    this.#tree.delete(link.filter, sender);
    this.#lastTopic = undefined;
    // Its queued messages go with it, as for any subscriber that leaves.
    link.queue.length = 0;
    this.#onRoom();
  }

  /** Whether every link matching `message` can queue one more message now. */
  hasRoomFor(message: MqttMessage): boolean {
    if (this.#tree.size === 0) return true;
    for (const link of this.#matching(message.topic)) if (link.queue.length >= this.#maxQueued) return false;
    return true;
  }

  /** Hands the message to every matching link: written at once with credit, else queued (bounded). */
  publish(message: MqttMessage): void {
    if (this.#tree.size === 0) return;
    const links = this.#matching(message.topic);
    if (links.length === 0) return;
    const copy: MqttMessage = {
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain: false,
    };
    if (message.properties !== undefined) copy.properties = message.properties;
    const encoded = this.#codec.encodeDelivery(copy, undefined, false);
    for (const link of links) this.#offer(link, encoded);
  }

  #offer(link: NativeLink, encoded: AmqpMessage): void {
    if (link.queue.length === 0 && this.#write(link, encoded)) return;
    if (link.queue.length >= this.#maxQueued) {
      this.#dropped += 1;
      return;
    }
    link.queue.push(encoded);
  }

  /** The links matching `topic` (see `#lastLinks`). */
  #matching(topic: string): readonly NativeLink[] {
    if (topic === this.#lastTopic) return this.#lastLinks;
    this.#collecting = [];
    this.#tree.forEachMatch(topic, this.#collect);
    this.#lastTopic = topic;
    this.#lastLinks = this.#collecting;
    return this.#lastLinks;
  }

  /** The link got credit: write what waits. */
  #pump(link: NativeLink): void {
    let sent = 0;
    while (link.queue.length > 0 && this.#write(link, link.queue[0] as AmqpMessage)) {
      link.queue.shift();
      sent += 1;
    }
    if (sent > 0) this.#onRoom();
  }

  #write(link: NativeLink, message: AmqpMessage): boolean {
    if (!link.sender.isOpen || link.sender.credit <= 0) return false;
    // The outcome is not awaited: a native receiver has no session to redeliver from.
    return link.sender.trySend(message);
  }
}

/**
 * The QoS 2 publications the backend routed and whose publisher has not released them yet, per client (MQTT
 * 4.3.3 "method B" on the receiving side, kept across connections): a re-send of one of them (same packet id,
 * same content) is accepted and not routed again. An entry goes when the publisher settles the delivery (its
 * client sent PUBREL), or — for a publication marked `x-opt-mqtt-release: explicit`, which the publisher settles
 * at PUBREC — only on AMQP_PUBLISH_RELEASED. Bounded per client and in total; when full, the oldest entry is forgotten
 * (at worst a later DUP re-send of it is routed twice — never a loss). Every change is written through to a
 * `Qos2Store` (durable or not).
 */
import { createHash } from 'node:crypto';
import type { Qos2Entry, Qos2Store } from '../store/qos2-store';
import type { MqttMessage } from '../types';

export const DEFAULT_MAX_UNRELEASED_QOS2_PER_CLIENT = 1_000;
export const DEFAULT_MAX_UNRELEASED_QOS2 = 100_000;

/** One remembered publication; `remove` takes it back only if it is still the current one for its key. */
export type UnreleasedEntry = Qos2Entry;

/**
 * What tells a re-send from a new message under the same packet id: a digest of the topic, the payload and the
 * retain flag. Not the DUP flag: mqtt.js re-sends its unanswered QoS 2 PUBLISHes after a reconnect without it.
 */
export function fingerprintOf(message: Pick<MqttMessage, 'topic' | 'payload' | 'retain'>): string {
  const topic = Buffer.from(message.topic, 'utf8');
  const head = Buffer.alloc(5);
  head.writeUInt8(message.retain ? 1 : 0, 0);
  head.writeUInt32BE(topic.length, 1);
  return createHash('sha256')
    .update(head)
    .update(topic)
    .update(message.payload)
    .digest('base64url')
    .slice(0, 22);
}

export class UnreleasedQos2 {
  readonly #store: Qos2Store;
  readonly #maxPerClient: number;
  readonly #max: number;
  /** client id → packet id → entry, each inner map oldest first. */
  readonly #byClient = new Map<string, Map<number, UnreleasedEntry>>();
  /** Every entry, oldest first. */
  readonly #all = new Set<UnreleasedEntry>();
  #evicted = 0;

  constructor(store: Qos2Store, limits: { maxPerClient: number; max: number }) {
    this.#store = store;
    this.#maxPerClient = limits.maxPerClient;
    this.#max = limits.max;
    for (const entry of store.load()) this.#insert({ ...entry });
  }

  /** Entries held. */
  get size(): number {
    return this.#all.size;
  }

  /** Entries forgotten because a limit was reached. */
  get evicted(): number {
    return this.#evicted;
  }

  has(clientId: string, packetId: number): boolean {
    return this.#byClient.get(clientId)?.has(packetId) === true;
  }

  /** The entry for (client, packet id) if it was made for the same content: the publication is a re-send. */
  resent(key: { clientId: string; packetId: number; fingerprint: string }): UnreleasedEntry | undefined {
    const entry = this.#byClient.get(key.clientId)?.get(key.packetId);
    return entry?.fingerprint === key.fingerprint ? entry : undefined;
  }

  /** The current entry for (client, packet id). */
  get(clientId: string, packetId: number): UnreleasedEntry | undefined {
    return this.#byClient.get(clientId)?.get(packetId);
  }

  /** Remembers (replacing any older entry for the same packet id). Throws if the store write fails. */
  add(clientId: string, packetId: number, fingerprint: string): UnreleasedEntry {
    const entry: UnreleasedEntry = { clientId, packetId, fingerprint };
    this.#store.add(entry);
    return this.#insert(entry);
  }

  /**
   * Remembers an entry already written to the store (in the routing's own transaction, `StoresQos2`): memory
   * only, plus any eviction it causes.
   */
  addWritten(entry: Qos2Entry): UnreleasedEntry {
    return this.#insert({
      clientId: entry.clientId,
      packetId: entry.packetId,
      fingerprint: entry.fingerprint,
    });
  }

  /** Forgets `entry` if it is still the current one (a newer publication may have replaced it). */
  remove(entry: UnreleasedEntry): void {
    const forClient = this.#byClient.get(entry.clientId);
    if (forClient?.get(entry.packetId) !== entry) return;
    this.#drop(entry, forClient);
    this.#store.remove(entry.clientId, entry.packetId);
  }

  /** Forgets whatever is held for (client, packet id): its publisher released it. */
  release(clientId: string, packetId: number): boolean {
    const entry = this.#byClient.get(clientId)?.get(packetId);
    if (entry === undefined) return false;
    this.remove(entry);
    return true;
  }

  /** Forgets every entry of the client (its session ended). */
  clear(clientId: string): void {
    const forClient = this.#byClient.get(clientId);
    if (forClient === undefined) return;
    for (const entry of forClient.values()) this.#all.delete(entry);
    this.#byClient.delete(clientId);
    this.#store.clear(clientId);
  }

  #insert(entry: UnreleasedEntry): UnreleasedEntry {
    const { clientId, packetId } = entry;
    let forClient = this.#byClient.get(clientId);
    if (forClient === undefined) {
      forClient = new Map();
      this.#byClient.set(clientId, forClient);
    }
    const previous = forClient.get(packetId);
    if (previous !== undefined) this.#drop(previous, forClient);
    if (forClient.size >= this.#maxPerClient) this.#evict(forClient.values().next().value);
    if (this.#all.size >= this.#max) this.#evict(this.#all.values().next().value);
    // The client's map may have gone with an eviction.
    const current = this.#byClient.get(clientId) ?? new Map<number, UnreleasedEntry>();
    this.#byClient.set(clientId, current);
    current.set(packetId, entry);
    this.#all.add(entry);
    return entry;
  }

  #evict(entry: UnreleasedEntry | undefined): void {
    if (entry === undefined) return;
    const forClient = this.#byClient.get(entry.clientId);
    if (forClient === undefined) return;
    this.#drop(entry, forClient);
    this.#evicted += 1;
    this.#store.remove(entry.clientId, entry.packetId);
  }

  #drop(entry: UnreleasedEntry, forClient: Map<number, UnreleasedEntry>): void {
    forClient.delete(entry.packetId);
    this.#all.delete(entry);
    if (forClient.size === 0) this.#byClient.delete(entry.clientId);
  }
}

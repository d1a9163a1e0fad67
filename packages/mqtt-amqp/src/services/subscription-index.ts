/**
 * Which sessions a topic reaches: every subscription in one `TopicTree`, overlapping subscriptions of one
 * session folded into a single delivery, and one member picked per shared-subscription group.
 */

import type { QoS } from '@dragoman/mqtt';
import { parseSharedSubscription, TopicTree } from '@dragoman/mqtt';
import type { SessionSubscription } from '../types';

/** One copy of a message for one session. */
export interface SessionDelivery {
  readonly clientId: string;
  /** Highest granted QoS among the matching subscriptions (before capping by the message's own QoS). */
  readonly qos: QoS;
  /** Subscription identifiers of every matching subscription that has one, ascending. */
  readonly subscriptionIdentifiers: readonly number[];
  /** Keep the retain flag: some matching subscription asked for retain-as-published. */
  readonly retainAsPublished: boolean;
}

interface IndexedSubscription {
  readonly clientId: string;
  readonly entry: SessionSubscription;
  /** `<group>\0<inner filter>` for a shared subscription (the round-robin key), else undefined. */
  readonly groupKey: string | undefined;
  /** The delivery when this is the session's only matching subscription: made once, not per message. */
  readonly alone: SessionDelivery;
  /** `[alone]`: what `match` returns when this is the only match (most topics have one subscriber). */
  readonly aloneList: readonly SessionDelivery[];
}

interface MutableDelivery {
  clientId: string;
  qos: QoS;
  subscriptionIdentifiers: number[];
  retainAsPublished: boolean;
}

/** The inner filter and group of a subscription filter (`$share/g/f` → `f`, `g`). */
export function splitShared(filter: string): { filter: string; group: string | undefined } {
  const shared = parseSharedSubscription(filter);
  return shared.ok ? { filter: shared.filter, group: shared.group } : { filter, group: undefined };
}

export class SubscriptionIndex {
  // Key: the client id for ordinary subscriptions, `<group>/<client id>` for shared ones (a share name has
  // no `/`, so the two never collide).
  readonly #tree = new TopicTree<string, IndexedSubscription>();
  /** Round-robin position of each shared group (`<group>\0<filter>`). */
  readonly #turns = new Map<string, number>();
  readonly #isConnected: (clientId: string) => boolean;
  /** What one `match` found (its first `#count` entries), reused by every call. */
  readonly #found: Array<IndexedSubscription | undefined> = [];
  #count = 0;
  /**
   * The last answer of `match`, while the subscriptions stay as they are; never one with a shared group.
   * `byPublisher`: some subscription it met has no-local, so the answer holds for `publisherId` only; otherwise
   * it holds for every publisher of the topic (publishers of one topic take turns: asking for each in turn
   * would otherwise walk the tree again at every publication).
   */
  #last:
    | {
        topic: string;
        publisherId: string | undefined;
        byPublisher: boolean;
        deliveries: readonly SessionDelivery[];
      }
    | undefined;
  /** Set by `#match`: its answer depends on the publisher (a subscription it met has no-local). */
  #byPublisher = false;
  /** `#match`'s answer when it returned `NO_CACHE`. */
  #uncached: readonly SessionDelivery[] = NONE;
  readonly #collect = (value: IndexedSubscription): void => {
    this.#found[this.#count] = value;
    this.#count += 1;
  };

  constructor(isConnected: (clientId: string) => boolean) {
    this.#isConnected = isConnected;
  }

  get size(): number {
    return this.#tree.size;
  }

  add(clientId: string, subscriptionFilter: string, entry: SessionSubscription): void {
    this.#last = undefined;
    const { filter, group } = splitShared(subscriptionFilter);
    const alone: SessionDelivery = {
      clientId,
      qos: entry.qos,
      subscriptionIdentifiers: identifiers(entry),
      retainAsPublished: entry.retainAsPublished === true,
    };
    this.#tree.set(filter, keyOf(clientId, group), {
      clientId,
      entry,
      groupKey: group === undefined ? undefined : groupKey(group, filter),
      alone,
      aloneList: [alone],
    });
  }

  remove(clientId: string, subscriptionFilter: string): void {
    this.#last = undefined;
    const { filter, group } = splitShared(subscriptionFilter);
    this.#tree.delete(filter, keyOf(clientId, group));
    if (group !== undefined && !this.#tree.hasFilter(filter)) this.#turns.delete(groupKey(group, filter));
  }

  /**
   * The sessions `topic` reaches: one delivery per session for its ordinary subscriptions (highest QoS,
   * every identifier), plus one per shared group, given to the group's next connected member in turn (to
   * the next member at all when none is connected, so that a persistent member queues it).
   * `publisherId` is left out of subscriptions with no-local. With `advance` false the groups' turns stay
   * where they are, so the next call picks the same members (to look before routing).
   */
  match(topic: string, publisherId: string | undefined, advance = true): readonly SessionDelivery[] {
    // The backend asks twice per publication (room first, then routing): the second answer is the first's.
    const last = this.#last;
    if (last !== undefined && last.topic === topic && (!last.byPublisher || last.publisherId === publisherId))
      return last.deliveries;
    const deliveries = this.#match(topic, publisherId, advance);
    if (deliveries !== NO_CACHE) {
      const byPublisher = this.#byPublisher;
      if (last === undefined) this.#last = { topic, publisherId, byPublisher, deliveries };
      else {
        last.topic = topic;
        last.publisherId = publisherId;
        last.byPublisher = byPublisher;
        last.deliveries = deliveries;
      }
      return deliveries;
    }
    this.#last = undefined;
    const uncached = this.#uncached;
    this.#uncached = NONE;
    return uncached;
  }

  #match(topic: string, publisherId: string | undefined, advance: boolean): readonly SessionDelivery[] {
    // Collected into one reused array (nothing outside the index runs while it is filled and read), then
    // each session's only matching subscription gives its precomputed delivery; only a session matching
    // several subscriptions, or a shared group, costs more.
    this.#count = 0;
    this.#tree.forEachMatch(topic, this.#collect);
    const found = this.#found;
    const count = this.#count;
    this.#byPublisher = false;
    if (count === 0) return NONE;
    const first = found[0] as IndexedSubscription;
    if (count === 1 && first.groupKey === undefined) {
      found[0] = undefined;
      this.#byPublisher = first.entry.noLocal === true;
      return first.entry.noLocal && first.clientId === publisherId ? NONE : first.aloneList;
    }
    const deliveries: SessionDelivery[] = [];
    let groups: Map<string, IndexedSubscription[]> | undefined;
    for (let i = 0; i < count; i++) {
      const value = found[i] as IndexedSubscription;
      if (value.groupKey !== undefined) {
        groups ??= new Map();
        const members = groups.get(value.groupKey);
        if (members === undefined) groups.set(value.groupKey, [value]);
        else members.push(value);
        continue;
      }
      if (value.entry.noLocal) this.#byPublisher = true;
      if (value.entry.noLocal && value.clientId === publisherId) continue;
      deliveries.push(value.alone);
    }
    if (deliveries.length > 1 && hasRepeatedClient(deliveries)) {
      deliveries.length = 0;
      fold(found, count, publisherId, deliveries);
    }
    // Let go of what was found (the array itself is kept, with its capacity).
    found.fill(undefined, 0, count);
    if (groups === undefined) return deliveries;
    // A shared group's member changes from one publication to the next: not kept for the next call.
    for (const [k, members] of groups) {
      const chosen = this.#pick(k, members, advance);
      deliveries.push(chosen.alone);
    }
    this.#uncached = deliveries;
    return NO_CACHE;
  }

  #pick(k: string, members: IndexedSubscription[], advance: boolean): IndexedSubscription {
    // Tree order is not stable across subscribe/unsubscribe; a sorted list makes the turns fair.
    members.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    const connected = members.filter((m) => this.#isConnected(m.clientId));
    const pool = connected.length > 0 ? connected : members;
    const turn = this.#turns.get(k) ?? 0;
    if (advance) this.#turns.set(k, (turn + 1) % 0x7fffffff);
    return pool[turn % pool.length] as IndexedSubscription;
  }
}

const NONE: readonly SessionDelivery[] = Object.freeze([]);
/** `#match`'s sign that its answer (in `#uncached`) must not be kept. */
const NO_CACHE: readonly SessionDelivery[] = Object.freeze([]);

/** Whether some session has more than one delivery (it matched several ordinary subscriptions). */
function hasRepeatedClient(deliveries: readonly SessionDelivery[]): boolean {
  if (deliveries.length <= 16) {
    for (let i = 1; i < deliveries.length; i++) {
      const clientId = (deliveries[i] as SessionDelivery).clientId;
      for (let j = 0; j < i; j++) if ((deliveries[j] as SessionDelivery).clientId === clientId) return true;
    }
    return false;
  }
  const seen = new Set<string>();
  for (const delivery of deliveries) {
    if (seen.has(delivery.clientId)) return true;
    seen.add(delivery.clientId);
  }
  return false;
}

/**
 * One delivery per session for its ordinary subscriptions among `found`, appended to `out` in the order the
 * sessions were first met: the highest QoS, every subscription identifier (ascending), retain-as-published
 * if any asked for it.
 */
function fold(
  found: ReadonlyArray<IndexedSubscription | undefined>,
  count: number,
  publisherId: string | undefined,
  out: SessionDelivery[],
): void {
  const ordinary = new Map<string, MutableDelivery>();
  for (let i = 0; i < count; i++) {
    const value = found[i] as IndexedSubscription;
    if (value.groupKey !== undefined) continue;
    if (value.entry.noLocal && value.clientId === publisherId) continue;
    const existing = ordinary.get(value.clientId);
    if (existing === undefined) {
      ordinary.set(value.clientId, {
        clientId: value.clientId,
        qos: value.entry.qos,
        subscriptionIdentifiers: identifiers(value.entry),
        retainAsPublished: value.entry.retainAsPublished === true,
      });
      continue;
    }
    if (value.entry.qos > existing.qos) existing.qos = value.entry.qos;
    if (value.entry.subscriptionIdentifier !== undefined) {
      existing.subscriptionIdentifiers.push(value.entry.subscriptionIdentifier);
    }
    existing.retainAsPublished ||= value.entry.retainAsPublished === true;
  }
  for (const delivery of ordinary.values()) {
    delivery.subscriptionIdentifiers.sort((a, b) => a - b);
    out.push(delivery);
  }
}

function keyOf(clientId: string, group: string | undefined): string {
  return group === undefined ? clientId : `${group}/${clientId}`;
}

function groupKey(group: string, filter: string): string {
  return `${group}\u0000${filter}`;
}

function identifiers(entry: SessionSubscription): number[] {
  return entry.subscriptionIdentifier === undefined ? [] : [entry.subscriptionIdentifier];
}

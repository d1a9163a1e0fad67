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
  /** Share name for `$share/<group>/…`, else undefined. */
  readonly group: string | undefined;
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

  constructor(isConnected: (clientId: string) => boolean) {
    this.#isConnected = isConnected;
  }

  get size(): number {
    return this.#tree.size;
  }

  add(clientId: string, subscriptionFilter: string, entry: SessionSubscription): void {
    const { filter, group } = splitShared(subscriptionFilter);
    this.#tree.set(filter, keyOf(clientId, group), { clientId, entry, group });
  }

  remove(clientId: string, subscriptionFilter: string): void {
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
  match(topic: string, publisherId: string | undefined, advance = true): SessionDelivery[] {
    const ordinary = new Map<string, MutableDelivery>();
    let groups: Map<string, IndexedSubscription[]> | undefined;
    this.#tree.forEachMatch(topic, (value, _key, filter) => {
      if (value.group !== undefined) {
        groups ??= new Map();
        const k = groupKey(value.group, filter);
        const members = groups.get(k);
        if (members === undefined) groups.set(k, [value]);
        else members.push(value);
        return;
      }
      if (value.entry.noLocal && value.clientId === publisherId) return;
      const existing = ordinary.get(value.clientId);
      if (existing === undefined) {
        ordinary.set(value.clientId, {
          clientId: value.clientId,
          qos: value.entry.qos,
          subscriptionIdentifiers: identifiers(value.entry),
          retainAsPublished: value.entry.retainAsPublished === true,
        });
        return;
      }
      if (value.entry.qos > existing.qos) existing.qos = value.entry.qos;
      if (value.entry.subscriptionIdentifier !== undefined) {
        existing.subscriptionIdentifiers.push(value.entry.subscriptionIdentifier);
      }
      existing.retainAsPublished ||= value.entry.retainAsPublished === true;
    });
    const deliveries: SessionDelivery[] = [];
    for (const delivery of ordinary.values()) {
      delivery.subscriptionIdentifiers.sort((a, b) => a - b);
      deliveries.push(delivery);
    }
    if (groups !== undefined) {
      for (const [k, members] of groups) {
        const chosen = this.#pick(k, members, advance);
        deliveries.push({
          clientId: chosen.clientId,
          qos: chosen.entry.qos,
          subscriptionIdentifiers: identifiers(chosen.entry),
          retainAsPublished: chosen.entry.retainAsPublished === true,
        });
      }
    }
    return deliveries;
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

function keyOf(clientId: string, group: string | undefined): string {
  return group === undefined ? clientId : `${group}/${clientId}`;
}

function groupKey(group: string, filter: string): string {
  return `${group}\u0000${filter}`;
}

function identifiers(entry: SessionSubscription): number[] {
  return entry.subscriptionIdentifier === undefined ? [] : [entry.subscriptionIdentifier];
}

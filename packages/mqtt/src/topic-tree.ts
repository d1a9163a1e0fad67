/**
 * A subscription-matching tree: many topic filters, each with many subscribers, matched against one
 * topic name at a time with work proportional to the topic's levels, not to the number of filters.
 */
import type { TopicLimits } from './topic-types';
import { assertTopicFilter, resolveTopicLimits } from './topic-validation';

const DOLLAR = 0x24;
const PLUS = 0x2b;
const HASH = 0x23;

/** Options of a `TopicTree`. */
export interface TopicTreeOptions {
  /**
   * Limits on the filters `set` accepts; see `TopicLimits` (defaults: 65535 bytes, 128 levels).
   * `maxLevels` also bounds the depth of the tree.
   */
  readonly limits?: TopicLimits;
}

/** Called once for each (filter, key) whose filter matches the topic. */
export type TopicMatchVisitor<K, V> = (value: V, key: K, filter: string) => void;

/** The subscribers of one filter, in two parallel arrays so that matching walks them without allocating. */
class Subscribers<K, V> {
  // Created with their first entry: array literals are allocated at their exact size, where pushing onto
  // an empty array reserves room for 16 (most filters have one or a few subscribers).
  readonly keys: K[];
  readonly values: V[];
  /** Position of each key, built once the list is long enough for a linear search to cost. */
  #index: Map<K, number> | undefined = undefined;

  constructor(
    readonly filter: string,
    key: K,
    value: V,
  ) {
    this.keys = [key];
    this.values = [value];
  }

  get size(): number {
    return this.keys.length;
  }

  indexOf(key: K): number {
    if (this.#index !== undefined) return this.#index.get(key) ?? -1;
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      if (sameKey(keys[i] as K, key)) return i;
    }
    return -1;
  }

  /** Adds or replaces; returns `true` when `key` was not there before. */
  set(key: K, value: V): boolean {
    const i = this.indexOf(key);
    if (i !== -1) {
      this.values[i] = value;
      return false;
    }
    this.keys.push(key);
    this.values.push(value);
    if (this.#index !== undefined) this.#index.set(key, this.keys.length - 1);
    else if (this.keys.length > INDEX_THRESHOLD) this.#index = new Map(this.keys.map((k, j) => [k, j]));
    return true;
  }

  /** Removes `key` by moving the last entry into its place; returns `true` when it was there. */
  delete(key: K): boolean {
    const i = this.indexOf(key);
    if (i === -1) return false;
    const last = this.keys.length - 1;
    const lastKey = this.keys[last] as K;
    this.keys[i] = lastKey;
    this.values[i] = this.values[last] as V;
    this.keys.pop();
    this.values.pop();
    if (this.#index !== undefined) {
      this.#index.delete(key);
      if (i !== last) this.#index.set(lastKey, i);
    }
    return true;
  }

  visit(visitor: TopicMatchVisitor<K, V>): void {
    const keys = this.keys;
    const values = this.values;
    for (let i = 0; i < keys.length; i++) visitor(values[i] as V, keys[i] as K, this.filter);
  }
}

/** Above this many subscribers on one filter, key lookups use a `Map` instead of a linear search. */
const INDEX_THRESHOLD = 8;

/** Keys compare like `Map` keys (SameValueZero). */
function sameKey(a: unknown, b: unknown): boolean {
  // biome-ignore lint/suspicious/noSelfCompare: NaN is the one value not equal to itself
  return a === b || (a !== a && b !== b);
}

/** One level of the tree: the filters that continue with a literal level, with `+`, or end here. */
class TopicNode<K, V> {
  /** Children for literal levels (any string without `+` or `#`, including the empty level). */
  literal: Map<string, TopicNode<K, V>> | undefined = undefined;
  /** The child for a `+` level. */
  plus: TopicNode<K, V> | undefined = undefined;
  /** Subscribers of the filter that ends at this node. */
  exact: Subscribers<K, V> | undefined = undefined;
  /** Subscribers of the filter that is this node's path followed by `#`. */
  multi: Subscribers<K, V> | undefined = undefined;

  get isEmpty(): boolean {
    return (
      this.literal === undefined &&
      this.plus === undefined &&
      this.exact === undefined &&
      this.multi === undefined
    );
  }
}

/**
 * Topic filters mapped to subscribers, matched against topic names.
 *
 * Entries are keyed by (filter, key), like a `Map` of `Map`s: one key (say a client id) may subscribe to
 * several filters, a filter has many keys, and setting the same (filter, key) again replaces its value,
 * as a repeated SUBSCRIBE replaces the subscription. `delete` removes empty branches, so memory goes
 * back as subscriptions go.
 *
 * Filters are matched literally, with the MQTT 3.1.1 meaning of `$share/…`. For an MQTT 5 shared
 * subscription store the inner filter (`parseSharedSubscription(…).filter`) and carry the group in the key
 * or value, e.g. key `` `${clientId}\u0000${group}` `` (MQTT strings never contain U+0000, so it cannot
 * collide with an ordinary subscription keyed by a bare client id); choosing one member of each group per
 * message is the subscription service's job.
 *
 * Matching follows MQTT 5.0 section 4.7: `#` matches its parent level too (`a/#` matches `a`), `+`
 * matches exactly one level even when empty (`a/+` matches `a/`), empty levels are levels, and a topic
 * starting with `$` is not matched by a filter whose first level is `+` or `#`.
 */
export class TopicTree<K, V> {
  readonly #limits: Readonly<Required<TopicLimits>>;
  #root = new TopicNode<K, V>();
  #size = 0;
  #filterCount = 0;
  #nodeCount = 0;
  // Two frontiers reused by every match; a visitor that matches again (re-entrantly) gets fresh ones.
  // Between matches they still reference nodes of earlier ones: at most nodes since pruned empty
  // (small), as `clear` replaces the arrays along with the tree.
  #frontier: TopicNode<K, V>[] = [];
  #nextFrontier: TopicNode<K, V>[] = [];
  #matching = false;

  /** Throws `RangeError` for invalid `options.limits`. */
  constructor(options: TopicTreeOptions = {}) {
    this.#limits = resolveTopicLimits(options.limits);
  }

  /** The number of (filter, key) entries. */
  get size(): number {
    return this.#size;
  }

  /** The number of distinct filters with at least one entry. */
  get filterCount(): number {
    return this.#filterCount;
  }

  /**
   * The number of distinct filter prefixes held (`a/b/#` holds `a`, `a/b` and `a/b/#`): a measure of the
   * tree's memory, for metrics. It is 0 again once every entry is deleted.
   */
  get nodeCount(): number {
    return this.#nodeCount;
  }

  /**
   * Sets the value of `key` under `filter`, replacing any value it had there.
   * Throws `MqttProtocolError` with reason code 0x8F when `filter` is not a valid topic filter within the
   * tree's limits.
   */
  set(filter: string, key: K, value: V): this {
    assertTopicFilter(filter, this.#limits);
    let node = this.#root;
    let start = 0;
    for (;;) {
      let end = filter.indexOf('/', start);
      if (end === -1) end = filter.length;
      if (end - start === 1 && filter.charCodeAt(start) === HASH) {
        // `#` is always the last level: its subscribers live on the parent node.
        if (node.multi === undefined) this.#nodeCount += 1;
        node.multi = this.#add(node.multi, filter, key, value);
        return this;
      }
      node = this.#child(node, filter, start, end);
      if (end === filter.length) break;
      start = end + 1;
    }
    node.exact = this.#add(node.exact, filter, key, value);
    return this;
  }

  /** The value of `key` under `filter`, or `undefined`. */
  get(filter: string, key: K): V | undefined {
    const subscribers = this.#find(filter);
    if (subscribers === undefined) return undefined;
    const i = subscribers.indexOf(key);
    return i === -1 ? undefined : subscribers.values[i];
  }

  /** Whether `key` has an entry under `filter`. */
  has(filter: string, key: K): boolean {
    const subscribers = this.#find(filter);
    return subscribers !== undefined && subscribers.indexOf(key) !== -1;
  }

  /** Whether `filter` has at least one entry. */
  hasFilter(filter: string): boolean {
    return this.#find(filter) !== undefined;
  }

  /**
   * Removes the entry of `key` under `filter`, and every node left without entries or children.
   * Returns whether there was such an entry. An invalid filter has no entries: `false`, no throw.
   */
  delete(filter: string, key: K): boolean {
    const path: TopicNode<K, V>[] = [];
    const levels: string[] = [];
    let node: TopicNode<K, V> | undefined = this.#root;
    let subscribers: Subscribers<K, V> | undefined;
    let multi = false;
    for (const level of filter.split('/')) {
      if (level === '#') {
        subscribers = node.multi;
        multi = true;
        break;
      }
      path.push(node);
      levels.push(level);
      node = level === '+' ? node.plus : node.literal?.get(level);
      if (node === undefined) return false;
    }
    if (!multi) subscribers = node.exact;
    if (subscribers === undefined || subscribers.filter !== filter || !subscribers.delete(key)) return false;
    this.#size -= 1;
    if (subscribers.size > 0) return true;
    this.#filterCount -= 1;
    if (multi) {
      node.multi = undefined;
      this.#nodeCount -= 1;
    } else {
      node.exact = undefined;
    }
    this.#prune(path, levels, node);
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.#root = new TopicNode<K, V>();
    this.#frontier = [];
    this.#nextFrontier = [];
    this.#size = 0;
    this.#filterCount = 0;
    this.#nodeCount = 0;
  }

  /**
   * Calls `visitor(value, key, filter)` once for each entry whose filter matches the topic name `topic`,
   * in no particular order. Allocates nothing but the level strings it looks up. `topic` is taken as a
   * valid topic name (see `validateTopicName`); it is not checked here. Entries set or deleted by the
   * visitor during the call may or may not be visited by it.
   */
  forEachMatch(topic: string, visitor: TopicMatchVisitor<K, V>): void {
    const reentrant = this.#matching;
    let frontier = reentrant ? [] : this.#frontier;
    let next = reentrant ? [] : this.#nextFrontier;
    this.#matching = true;
    try {
      const root = this.#root;
      // A `$` topic (e.g. `$SYS/…`) is not matched by `+` or `#` in the first level.
      const system = topic.charCodeAt(0) === DOLLAR;
      const length = topic.length;
      let start = 0;
      // Level by level: `frontier[0, count)` holds the nodes whose path matches the levels before `start`.
      // Counts, not `length = 0`, keep the arrays' storage from being freed and regrown on every call.
      frontier[0] = root;
      let count = 1;
      for (;;) {
        let end = topic.indexOf('/', start);
        if (end === -1) end = length;
        let level: string | undefined;
        let nextCount = 0;
        for (let i = 0; i < count; i++) {
          const node = frontier[i] as TopicNode<K, V>;
          const wildcards = !system || node !== root;
          // `#` matches this level and all after it.
          if (node.multi !== undefined && wildcards) node.multi.visit(visitor);
          if (node.literal !== undefined) {
            level ??= topic.slice(start, end);
            const child = node.literal.get(level);
            if (child !== undefined) next[nextCount++] = child;
          }
          if (node.plus !== undefined && wildcards) next[nextCount++] = node.plus;
        }
        const swap = frontier;
        frontier = next;
        next = swap;
        count = nextCount;
        if (count === 0) return;
        if (end === length) break;
        start = end + 1;
      }
      // Every level consumed: filters ending here match, and so do `…/#` ones (`#` matches the parent).
      for (let i = 0; i < count; i++) {
        const node = frontier[i] as TopicNode<K, V>;
        node.exact?.visit(visitor);
        node.multi?.visit(visitor);
      }
    } finally {
      if (!reentrant) this.#matching = false;
    }
  }

  /** The values of the entries whose filter matches `topic`, in no particular order; see `forEachMatch`. */
  match(topic: string): V[] {
    const values: V[] = [];
    this.forEachMatch(topic, (value) => {
      values.push(value);
    });
    return values;
  }

  /** Every entry as `[filter, key, value]`, in no particular order. */
  *entries(): IterableIterator<[filter: string, key: K, value: V]> {
    const pending: TopicNode<K, V>[] = [this.#root];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      for (const subscribers of [node.exact, node.multi]) {
        if (subscribers === undefined) continue;
        // Copied so that the caller may delete while iterating.
        const keys = subscribers.keys.slice();
        const values = subscribers.values.slice();
        for (let i = 0; i < keys.length; i++) yield [subscribers.filter, keys[i] as K, values[i] as V];
      }
      if (node.plus !== undefined) pending.push(node.plus);
      if (node.literal !== undefined) pending.push(...node.literal.values());
    }
  }

  /** Sets `key` in `subscribers`, creating them when `undefined`; returns them. */
  #add(subscribers: Subscribers<K, V> | undefined, filter: string, key: K, value: V): Subscribers<K, V> {
    if (subscribers === undefined) {
      this.#size += 1;
      this.#filterCount += 1;
      return new Subscribers(filter, key, value);
    }
    if (subscribers.set(key, value)) this.#size += 1;
    return subscribers;
  }

  /** The child of `node` for the level `filter[start, end)`, created when missing. */
  #child(node: TopicNode<K, V>, filter: string, start: number, end: number): TopicNode<K, V> {
    if (end - start === 1 && filter.charCodeAt(start) === PLUS) {
      if (node.plus === undefined) {
        node.plus = new TopicNode();
        this.#nodeCount += 1;
      }
      return node.plus;
    }
    const level = filter.slice(start, end);
    node.literal ??= new Map();
    let child = node.literal.get(level);
    if (child === undefined) {
      child = new TopicNode();
      node.literal.set(level, child);
      this.#nodeCount += 1;
    }
    return child;
  }

  /** The subscribers of exactly `filter`, if any. */
  #find(filter: string): Subscribers<K, V> | undefined {
    let node: TopicNode<K, V> | undefined = this.#root;
    for (const level of filter.split('/')) {
      if (level === '#') {
        const multi: Subscribers<K, V> | undefined = node.multi;
        return multi?.filter === filter ? multi : undefined;
      }
      node = level === '+' ? node.plus : node.literal?.get(level);
      if (node === undefined) return undefined;
    }
    return node.exact;
  }

  /** Detaches `node` and then each ancestor in `path` that is left empty. */
  #prune(path: TopicNode<K, V>[], levels: string[], node: TopicNode<K, V>): void {
    for (let depth = path.length - 1; depth >= 0 && node.isEmpty; depth--) {
      const parent = path[depth] as TopicNode<K, V>;
      const level = levels[depth] as string;
      if (level === '+') {
        parent.plus = undefined;
      } else if (parent.literal !== undefined) {
        parent.literal.delete(level);
        if (parent.literal.size === 0) parent.literal = undefined;
      }
      this.#nodeCount -= 1;
      node = parent;
    }
  }
}

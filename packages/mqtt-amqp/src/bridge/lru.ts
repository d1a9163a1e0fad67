/**
 * A bounded map that forgets its least recently used entry when full. Used for the per-client cache of
 * publish sender links and for outbound topic aliases: both must stay bounded however many topics a
 * client touches.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();
  /**
   * The most recently used key (the Map's last entry), or undefined when unknown: a hit on it needs no
   * reordering, and a client publishing to one topic hits the same link again and again (delete + set per
   * hit made the Map rehash).
   */
  private newest: K | undefined = undefined;

  /**
   * @param capacity most entries kept (at least 1).
   * @param onEvict called with each entry pushed out by `set` (not for `delete` or `clear`).
   */
  constructor(
    readonly capacity: number,
    private readonly onEvict: (key: K, value: V) => void = () => {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LRU capacity must be a positive integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value for `key`, marking it most recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined || key === this.newest) return value;
    this.entries.delete(key);
    this.entries.set(key, value);
    this.newest = key;
    return value;
  }

  /** The value without touching its recency. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Stores `value` as most recently used, evicting the least recently used entry when over capacity. */
  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    this.newest = key;
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      const evicted = this.entries.get(oldest.value) as V;
      this.entries.delete(oldest.value);
      this.onEvict(oldest.value, evicted);
    }
  }

  /** Removes and returns the least recently used entry (without calling `onEvict`). */
  shift(): [K, V] | undefined {
    const oldest = this.entries.entries().next();
    if (oldest.done === true) return undefined;
    this.delete(oldest.value[0]);
    return oldest.value;
  }

  delete(key: K): boolean {
    if (key === this.newest) this.newest = undefined;
    return this.entries.delete(key);
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }

  clear(): void {
    this.newest = undefined;
    this.entries.clear();
  }
}

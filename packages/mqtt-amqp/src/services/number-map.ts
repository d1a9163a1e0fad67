/**
 * A map from non-negative integer keys to values, for the entries a session has in flight or in memory, which
 * come and go with every message: open addressing with linear probing in two arrays that only grow.
 *
 * Why not a Map: a Map's table is made anew as entries come and go (it is compacted when its deleted slots fill
 * it, and shrunk when it empties), a few hundred bytes of garbage every few messages. Here, adding and
 * removing allocate nothing once the arrays are large enough for the most entries held at once.
 */

/** A slot without an entry (keys are never negative). */
const EMPTY = -1;
/** Slots a new map starts with (a power of two). */
const INITIAL_SLOTS = 8;

export class NumberMap<V> {
  #keys: number[];
  #values: Array<V | undefined>;
  /** Slots - 1: a key's home slot is `key & mask` (keys of a session are mostly consecutive). */
  #mask: number;
  #size = 0;
  /**
   * Entries not in their home slot (moved on by a collision). While there is none, a delete has nothing to shift
   * back: a session's keys are consecutive and sit in their home slots, one run of up to a window's length, and
   * removing the oldest would otherwise walk the whole run to find the empty slot after it.
   */
  #displaced = 0;

  constructor() {
    this.#keys = new Array<number>(INITIAL_SLOTS).fill(EMPTY);
    this.#values = new Array<V | undefined>(INITIAL_SLOTS).fill(undefined);
    this.#mask = INITIAL_SLOTS - 1;
  }

  get size(): number {
    return this.#size;
  }

  get(key: number): V | undefined {
    const slot = this.#find(key);
    return slot === -1 ? undefined : this.#values[slot];
  }

  has(key: number): boolean {
    return this.#find(key) !== -1;
  }

  set(key: number, value: V): void {
    const keys = this.#keys;
    const mask = this.#mask;
    let slot = key & mask;
    for (;;) {
      const at = keys[slot] as number;
      if (at === key) {
        this.#values[slot] = value;
        return;
      }
      if (at === EMPTY) break;
      slot = (slot + 1) & mask;
    }
    // At most half full, so that probes stay short.
    if ((this.#size + 1) * 2 > keys.length) {
      this.#grow();
      this.set(key, value);
      return;
    }
    keys[slot] = key;
    this.#values[slot] = value;
    this.#size += 1;
    if (slot !== (key & mask)) this.#displaced += 1;
  }

  delete(key: number): boolean {
    let hole = this.#find(key);
    if (hole === -1) return false;
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    if (hole !== (key & mask)) this.#displaced -= 1;
    // Backward shift: the entries after the hole that probed past it move into it, so no tombstone is left. Only
    // displaced entries ever move: with none left, nothing after the hole needs to.
    let next = hole;
    while (this.#displaced > 0) {
      next = (next + 1) & mask;
      const moving = keys[next] as number;
      if (moving === EMPTY) break;
      const home = moving & mask;
      // Stays when its home lies cyclically in (hole, next]: moving it before its home would lose it.
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      keys[hole] = moving;
      values[hole] = values[next];
      if (hole === home) this.#displaced -= 1;
      hole = next;
    }
    keys[hole] = EMPTY;
    values[hole] = undefined;
    this.#size -= 1;
    return true;
  }

  /** Empties it; the arrays stay. */
  clear(): void {
    if (this.#size === 0) return;
    this.#keys.fill(EMPTY);
    this.#values.fill(undefined);
    this.#size = 0;
    this.#displaced = 0;
  }

  /** Calls `fn` for each entry, in no particular order. `fn` must not change the map. */
  forEach(fn: (value: V, key: number) => void): void {
    const keys = this.#keys;
    const values = this.#values;
    for (let slot = 0; slot < keys.length; slot++) {
      const key = keys[slot] as number;
      if (key !== EMPTY) fn(values[slot] as V, key);
    }
  }

  #find(key: number): number {
    const keys = this.#keys;
    const mask = this.#mask;
    let slot = key & mask;
    for (;;) {
      const at = keys[slot] as number;
      if (at === key) return slot;
      if (at === EMPTY) return -1;
      slot = (slot + 1) & mask;
    }
  }

  #grow(): void {
    const keys = this.#keys;
    const values = this.#values;
    const slots = keys.length * 2;
    this.#keys = new Array<number>(slots).fill(EMPTY);
    this.#values = new Array<V | undefined>(slots).fill(undefined);
    this.#mask = slots - 1;
    this.#size = 0;
    this.#displaced = 0;
    for (let slot = 0; slot < keys.length; slot++) {
      const key = keys[slot] as number;
      if (key !== EMPTY) this.set(key, values[slot] as V);
    }
  }
}

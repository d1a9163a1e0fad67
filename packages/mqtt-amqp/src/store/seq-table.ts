/**
 * Entries keyed by sequence number, in order: one client's backlog in the memory store. New entries come with
 * a higher seq than any before, and most leave from the front, so the entries sit in two arrays in seq order
 * and are found by binary search.
 *
 * Why not a Map: a backlog goes up and down by one entry with every message, and a Map makes itself a new hash
 * table every few of those (grown, then compacted or shrunk), a few hundred bytes of garbage each time. Here
 * adding and removing allocate nothing once the arrays are large enough for the most entries held at once.
 *
 * A removed entry leaves its slot empty until the entries before it are gone too (the front then moves past
 * it); once the empty slots outnumber the entries (and are at least 32), the entries move together to the
 * front. So the arrays never hold more than 32 slots plus twice the most entries held at once.
 */

/** Empty slots below which no compaction is done (each compaction moves every entry). */
const MIN_COMPACTION = 32;

export class SeqTable<V> {
  /** Slots `[#head, #tail)` are in use, by ascending seq; a removed entry's value is undefined. */
  readonly #seqs: number[] = [];
  readonly #values: Array<V | undefined> = [];
  #head = 0;
  #tail = 0;
  #size = 0;

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  get(seq: number): V | undefined {
    const slot = this.#find(seq);
    return slot === -1 ? undefined : this.#values[slot];
  }

  /** Adds the entry of `seq`, or replaces its value; `value` must not be undefined. */
  set(seq: number, value: V): void {
    const tail = this.#tail;
    if (tail === this.#head || (this.#seqs[tail - 1] as number) < seq) {
      // The common case: a seq above every other one.
      this.#seqs[tail] = seq;
      this.#values[tail] = value;
      this.#tail = tail + 1;
      this.#size += 1;
      return;
    }
    const slot = this.#slotOf(seq);
    if (slot < tail && this.#seqs[slot] === seq) {
      if (this.#values[slot] === undefined) this.#size += 1;
      this.#values[slot] = value;
      return;
    }
    // Below the newest entry and not there: inserted at its place (no caller does this in practice).
    this.#seqs.splice(slot, 0, seq);
    this.#values.splice(slot, 0, value);
    this.#tail += 1;
    this.#size += 1;
  }

  /** Removes the entry of `seq`; false when there was none. */
  delete(seq: number): boolean {
    const slot = this.#find(seq);
    if (slot === -1 || this.#values[slot] === undefined) return false;
    this.#values[slot] = undefined;
    this.#size -= 1;
    if (this.#size === 0) {
      // Emptied (every value in use is undefined now): the slots stay, for the next entries.
      this.#head = 0;
      this.#tail = 0;
      return true;
    }
    if (slot === this.#head) {
      let head = slot + 1;
      while (this.#values[head] === undefined) head += 1;
      this.#head = head;
    }
    const empty = this.#tail - this.#head - this.#size;
    if (this.#head + empty >= MIN_COMPACTION && this.#head + empty > this.#size) this.#compact();
    return true;
  }

  /** The entries, lowest seq first. Nothing may be added or removed while iterating. */
  *entries(): IterableIterator<[number, V]> {
    for (let slot = this.#head; slot < this.#tail; slot++) {
      const value = this.#values[slot];
      if (value !== undefined) yield [this.#seqs[slot] as number, value];
    }
  }

  /** Moves the entries to the front of the arrays, without the empty slots between them. */
  #compact(): void {
    const seqs = this.#seqs;
    const values = this.#values;
    let to = 0;
    for (let from = this.#head; from < this.#tail; from++) {
      const value = values[from];
      if (value === undefined) continue;
      seqs[to] = seqs[from] as number;
      values[to] = value;
      to += 1;
    }
    values.fill(undefined, to, this.#tail);
    this.#head = 0;
    this.#tail = to;
  }

  /** The slot of `seq`, or -1. */
  #find(seq: number): number {
    const slot = this.#slotOf(seq);
    return slot < this.#tail && this.#seqs[slot] === seq ? slot : -1;
  }

  /** The first slot in use whose seq is `seq` or above (`#tail` when there is none). */
  #slotOf(seq: number): number {
    const seqs = this.#seqs;
    let low = this.#head;
    let high = this.#tail;
    // Most lookups are for the oldest entry (an acknowledgement, in order).
    if (low < high && (seqs[low] as number) >= seq) return low;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((seqs[middle] as number) < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

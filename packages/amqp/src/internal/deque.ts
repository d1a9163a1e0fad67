/**
 * A FIFO on a growable ring buffer: O(1) push, shift and unshift, no array re-indexing on shift. The ring is
 * made at the first push (most links' queues stay empty for their whole life).
 */
export class Deque<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #size = 0;

  get length(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) % this.#items.length] = item;
    this.#size++;
  }

  unshift(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#head = (this.#head - 1 + this.#items.length) % this.#items.length;
    this.#items[this.#head] = item;
    this.#size++;
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return item;
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  /** Removes the first occurrence of `item`; O(n). */
  remove(item: T): boolean {
    const all = this.drain();
    let removed = false;
    for (const x of all) {
      if (!removed && x === item) removed = true;
      else this.push(x);
    }
    return removed;
  }

  /** Empties the deque, returning its items in order. */
  drain(): T[] {
    const out: T[] = [];
    while (this.#size > 0) out.push(this.shift() as T);
    return out;
  }

  #grow(): void {
    const items = new Array<T | undefined>(Math.max(16, this.#items.length * 2));
    for (let i = 0; i < this.#size; i++) items[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = items;
    this.#head = 0;
  }
}

/** The links an item carries to belong to one `LinkedSet` at a time. */
export interface Linkable<T> {
  linkedPrev: T | undefined;
  linkedNext: T | undefined;
  linkedIn: object | undefined;
}

/**
 * A set in insertion order whose items carry their own links: add and delete allocate nothing. A `Set` that
 * fills and empties with every few messages (the deliveries awaiting their outcome) reallocates its hash table
 * each time it grows or shrinks.
 */
export class LinkedSet<T extends Linkable<T>> {
  #head: T | undefined;
  #tail: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(item: T): boolean {
    return item.linkedIn === this;
  }

  /** Adds `item` at the end; it must not be in a set already. */
  add(item: T): void {
    if (item.linkedIn !== undefined) throw new Error('item is in a LinkedSet already');
    item.linkedIn = this;
    item.linkedPrev = this.#tail;
    item.linkedNext = undefined;
    if (this.#tail === undefined) this.#head = item;
    else this.#tail.linkedNext = item;
    this.#tail = item;
    this.#size++;
  }

  delete(item: T): boolean {
    if (item.linkedIn !== this) return false;
    const { linkedPrev: prev, linkedNext: next } = item;
    if (prev === undefined) this.#head = next;
    else prev.linkedNext = next;
    if (next === undefined) this.#tail = prev;
    else next.linkedPrev = prev;
    item.linkedIn = item.linkedPrev = item.linkedNext = undefined;
    this.#size--;
    return true;
  }

  /** Empties the set, returning its items in insertion order. */
  drain(): T[] {
    const items: T[] = [];
    while (this.#head !== undefined) {
      const item = this.#head;
      items.push(item);
      this.delete(item);
    }
    return items;
  }
}

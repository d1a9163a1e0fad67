/**
 * A map keyed by MQTT packet identifier (1..65535), for the tables that gain and lose an entry with every
 * QoS 1/2 message (the outbound in-flight messages, the inbound unacknowledged identifiers, the inbound QoS 2
 * flows). A Map or Set whose size goes up and down by one makes itself a new hash table every few operations;
 * here an identifier's place is fixed: pages of 16 slots indexed by the identifier's high bits. A page that
 * empties is kept as the one idle page, and is the next page made, so a connection with a message or two in
 * flight (one page, emptied and refilled) or numbering its messages in sequence (a page every 16 messages)
 * allocates nothing. At most one empty page is kept. Every operation is O(1) whatever the identifiers.
 */

const PAGE_BITS = 4;
const PAGE_SIZE = 1 << PAGE_BITS;
const SLOT_MASK = PAGE_SIZE - 1;

interface Page<V> {
  /** Its place among the pages (the identifiers' high bits). */
  index: number;
  readonly slots: (V | undefined)[];
  used: number;
}

export class PacketIdMap<V> {
  private readonly pages = new Map<number, Page<V>>();
  /** The page that emptied last, still among the pages at its index until a new page is needed. */
  private idle: Page<V> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    return this.pages.get(id >>> PAGE_BITS)?.slots[id & SLOT_MASK];
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Sets the value of `id`; `value` must not be undefined. */
  set(id: number, value: V): void {
    const index = id >>> PAGE_BITS;
    let page = this.pages.get(index);
    if (page === undefined) {
      page = this.idle;
      if (page === undefined) {
        page = { index, slots: new Array<V | undefined>(PAGE_SIZE), used: 0 };
      } else {
        this.pages.delete(page.index);
        page.index = index;
      }
      this.pages.set(index, page);
    }
    if (page === this.idle) this.idle = undefined;
    const slot = id & SLOT_MASK;
    if (page.slots[slot] === undefined) {
      page.used++;
      this.count++;
    }
    page.slots[slot] = value;
  }

  /** Removes `id`; false if it was not there. */
  delete(id: number): boolean {
    const page = this.pages.get(id >>> PAGE_BITS);
    const slot = id & SLOT_MASK;
    if (page === undefined || page.slots[slot] === undefined) return false;
    page.slots[slot] = undefined;
    this.count--;
    if (--page.used === 0) {
      // The page stays as the idle one; the one idle before goes.
      if (this.idle !== undefined) this.pages.delete(this.idle.index);
      this.idle = page;
    }
    return true;
  }

  /** Every value (in no particular order). */
  values(): V[] {
    const out: V[] = [];
    for (const page of this.pages.values()) {
      for (const value of page.slots) if (value !== undefined) out.push(value);
    }
    return out;
  }

  clear(): void {
    this.pages.clear();
    this.idle = undefined;
    this.count = 0;
  }
}

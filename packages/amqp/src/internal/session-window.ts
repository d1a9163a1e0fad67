// rhea keeps the deliveries of each direction of a session in a ring of 2048 slots and frees a slot only when
// every older delivery of the session is done (settled on both sides going out, settled by us coming in). One
// delivery left unsettled — an MQTT client that never acknowledges one QoS 1 message, a QoS 2 exchange held
// until a PUBREL that never comes — thus closes the session's window once 2047 later deliveries went through,
// and every link of the session stops, whoever it belongs to. On the connections this package makes, each
// session gets instead a window that frees each delivery as soon as it is done, in any order. Its capacity is
// rhea's, and the link credit still bounds what is unsettled per link. Nothing else changes: rhea reads and
// writes the same four operations (push, by_id, pop_if, available) it would on its own ring.
import type { RheaConnection } from './rhea-types';

interface TrackedDelivery {
  readonly id: number;
}

/** rhea's view of a session's deliveries in one direction (its CircularBuffer). */
interface DeliveryBuffer {
  readonly capacity: number;
  readonly size: number;
}

interface SessionInternals {
  outgoing: { deliveries: DeliveryBuffer };
  incoming: { deliveries: DeliveryBuffer };
}

/**
 * The deliveries of one direction of a session, by id. `popIf` frees the done ones from the oldest on, as
 * rhea does, and when a not-done one holds more than half the window behind it, also the done ones after it
 * (a sweep, at most once per eighth of the window pushed, or whenever the window is full).
 *
 * Ids come in sequence, so the deliveries sit in a ring indexed by id, holes where one was freed out of order;
 * a not-done delivery the ring's range moves past (a window's worth of ids later) waits in a small map instead.
 * A `Map` by id here reallocated its hash table every few deliveries as it filled and emptied.
 */
export class OutOfOrderWindow<D extends TrackedDelivery> {
  readonly capacity: number;
  /** Grows by doubling to the window's capacity (rounded up to a power of two): an idle session's stays small. */
  #ring: (D | undefined)[] = new Array<D | undefined>(MIN_RING_SLOTS).fill(undefined);
  #mask = MIN_RING_SLOTS - 1;
  readonly #maxSlots: number;
  /** The ring holds ids from `#headId` (the oldest not freed, unless the range is empty) to `#endId - 1`. */
  #headId = 0;
  #endId = 0;
  #inRing = 0;
  /** Not-done deliveries older than the ring's range, oldest first; made at the first. */
  #stragglers: Map<number, D> | undefined;
  #tail: D | undefined;
  #pushedSinceSweep = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    let slots = MIN_RING_SLOTS;
    while (slots < capacity) slots *= 2;
    this.#maxSlots = slots;
  }

  get size(): number {
    return this.#inRing + (this.#stragglers?.size ?? 0);
  }

  available(): number {
    return this.capacity - this.size;
  }

  push(delivery: D): void {
    if (this.size >= this.capacity) {
      throw new Error(`session window overflow: ${this.capacity} deliveries not done`);
    }
    if (delivery.id !== this.#endId || this.#inRing === 0) {
      // Out of sequence (or the ring is empty): what the ring holds moves aside and the ring starts here.
      if (delivery.id !== this.#endId) this.#evict(this.#endId);
      this.#headId = this.#endId = delivery.id;
    }
    if (this.#endId - this.#headId > this.#mask) {
      if (this.#ring.length < this.#maxSlots) this.#grow();
      else this.#evict(this.#headId + 1);
    }
    this.#ring[this.#endId & this.#mask] = delivery;
    this.#endId += 1;
    this.#inRing += 1;
    this.#tail = delivery;
    this.#pushedSinceSweep += 1;
  }

  by_id(id: number): D | undefined {
    if (id >= this.#headId && id < this.#endId) {
      const delivery = this.#ring[id & this.#mask];
      if (delivery !== undefined && delivery.id === id) return delivery;
    }
    return this.#stragglers?.get(id);
  }

  get_head(): D | undefined {
    if (this.#stragglers !== undefined) for (const delivery of this.#stragglers.values()) return delivery;
    return this.#inRing > 0 ? this.#ring[this.#headId & this.#mask] : undefined;
  }

  get_tail(): D | undefined {
    return this.size > 0 ? this.#tail : undefined;
  }

  pop_if(done: (delivery: D) => boolean): number {
    let freed = 0;
    let blocked = false;
    const stragglers = this.#stragglers;
    if (stragglers !== undefined) {
      for (const delivery of stragglers.values()) {
        if (!done(delivery)) {
          blocked = true;
          break;
        }
        stragglers.delete(delivery.id);
        freed += 1;
      }
    }
    while (!blocked && this.#inRing > 0) {
      const slot = this.#headId & this.#mask;
      const delivery = this.#ring[slot] as D;
      if (!done(delivery)) break;
      this.#ring[slot] = undefined;
      this.#inRing -= 1;
      freed += 1;
      this.#skipFreedHead();
    }
    const size = this.size;
    if (size === this.capacity || (size > this.capacity / 2 && this.#pushedSinceSweep >= this.capacity / 8)) {
      this.#pushedSinceSweep = 0;
      freed += this.#sweep(done);
    }
    return freed;
  }

  /** Frees every done delivery, wherever it is. */
  #sweep(done: (delivery: D) => boolean): number {
    let freed = 0;
    if (this.#stragglers !== undefined) {
      for (const delivery of this.#stragglers.values()) {
        if (!done(delivery)) continue;
        this.#stragglers.delete(delivery.id);
        freed += 1;
      }
    }
    for (let id = this.#headId; id < this.#endId; id++) {
      const slot = id & this.#mask;
      const delivery = this.#ring[slot];
      if (delivery === undefined || !done(delivery)) continue;
      this.#ring[slot] = undefined;
      this.#inRing -= 1;
      freed += 1;
    }
    this.#skipFreedHead();
    return freed;
  }

  /** Moves the ring's deliveries with ids below `untilId` to the stragglers, and the ring's head past them. */
  #evict(untilId: number): void {
    while (this.#headId < untilId && this.#headId < this.#endId) {
      const slot = this.#headId & this.#mask;
      const delivery = this.#ring[slot];
      if (delivery !== undefined) {
        this.#ring[slot] = undefined;
        this.#inRing -= 1;
        this.#stragglers ??= new Map();
        this.#stragglers.set(delivery.id, delivery);
      }
      this.#headId += 1;
    }
    this.#skipFreedHead();
  }

  #grow(): void {
    const old = this.#ring;
    const ring = new Array<D | undefined>(old.length * 2).fill(undefined);
    const mask = ring.length - 1;
    for (let id = this.#headId; id < this.#endId; id++) ring[id & mask] = old[id & this.#mask];
    this.#ring = ring;
    this.#mask = mask;
  }

  /** The ring's head moved past freed slots (to the end of the range when none is left). */
  #skipFreedHead(): void {
    if (this.#inRing === 0) {
      this.#headId = this.#endId;
      return;
    }
    while (this.#ring[this.#headId & this.#mask] === undefined) this.#headId += 1;
  }
}

const MIN_RING_SLOTS = 16;

/** Gives every session `connection` creates from now on windows that free deliveries out of order. */
export function freeSessionSlotsOutOfOrder(connection: RheaConnection): void {
  const target = connection as unknown as { create_session?: (size?: unknown) => SessionInternals };
  const create = target.create_session;
  if (typeof create !== 'function') return; // not the rhea we know: leave its ring in place
  target.create_session = function (this: unknown, size?: unknown): SessionInternals {
    const session = create.call(this, size);
    const outgoing = session.outgoing?.deliveries;
    const incoming = session.incoming?.deliveries;
    // Replaced only while empty and shaped as expected; otherwise rhea keeps its own.
    if (outgoing?.size === 0 && typeof outgoing.capacity === 'number') {
      session.outgoing.deliveries = new OutOfOrderWindow<TrackedDelivery>(outgoing.capacity);
    }
    if (incoming?.size === 0 && typeof incoming.capacity === 'number') {
      session.incoming.deliveries = new OutOfOrderWindow<TrackedDelivery>(incoming.capacity);
    }
    return session;
  };
}

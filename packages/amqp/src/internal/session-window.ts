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
 */
export class OutOfOrderWindow<D extends TrackedDelivery> {
  readonly capacity: number;
  readonly #byId = new Map<number, D>();
  #tail: D | undefined;
  #pushedSinceSweep = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#byId.size;
  }

  available(): number {
    return this.capacity - this.#byId.size;
  }

  push(delivery: D): void {
    if (this.#byId.size >= this.capacity) {
      throw new Error(`session window overflow: ${this.capacity} deliveries not done`);
    }
    this.#byId.set(delivery.id, delivery);
    this.#tail = delivery;
    this.#pushedSinceSweep += 1;
  }

  by_id(id: number): D | undefined {
    return this.#byId.get(id);
  }

  get_head(): D | undefined {
    for (const delivery of this.#byId.values()) return delivery;
    return undefined;
  }

  get_tail(): D | undefined {
    return this.#byId.size > 0 ? this.#tail : undefined;
  }

  pop_if(done: (delivery: D) => boolean): number {
    let freed = 0;
    for (const delivery of this.#byId.values()) {
      if (!done(delivery)) break;
      this.#byId.delete(delivery.id);
      freed += 1;
    }
    const size = this.#byId.size;
    if (size === this.capacity || (size > this.capacity / 2 && this.#pushedSinceSweep >= this.capacity / 8)) {
      this.#pushedSinceSweep = 0;
      for (const delivery of this.#byId.values()) {
        if (!done(delivery)) continue;
        this.#byId.delete(delivery.id);
        freed += 1;
      }
    }
    return freed;
  }
}

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

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutOfOrderWindow } from '../src/internal/session-window';

interface Delivery {
  readonly id: number;
  done: boolean;
}

/** The window's contract written the plain way, by id in a Map (what the ring replaced). */
class ReferenceWindow {
  readonly byId = new Map<number, Delivery>();
  tail: Delivery | undefined;
  pushedSinceSweep = 0;
  constructor(readonly capacity: number) {}

  push(delivery: Delivery): void {
    if (this.byId.size >= this.capacity) throw new Error('overflow');
    this.byId.set(delivery.id, delivery);
    this.tail = delivery;
    this.pushedSinceSweep += 1;
  }

  popIf(done: (d: Delivery) => boolean): number {
    let freed = 0;
    for (const d of this.byId.values()) {
      if (!done(d)) break;
      this.byId.delete(d.id);
      freed += 1;
    }
    const size = this.byId.size;
    if (size === this.capacity || (size > this.capacity / 2 && this.pushedSinceSweep >= this.capacity / 8)) {
      this.pushedSinceSweep = 0;
      for (const d of this.byId.values()) {
        if (!done(d)) continue;
        this.byId.delete(d.id);
        freed += 1;
      }
    }
    return freed;
  }
}

type Operation = { kind: 'push'; jump: number } | { kind: 'done'; pick: number } | { kind: 'pop' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      jump: fc.oneof({ weight: 20, arbitrary: fc.constant(0) }, fc.integer({ min: -50, max: 50 })),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('done' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pop' as const) }) },
);

describe('OutOfOrderWindow', () => {
  it('holds, finds and frees exactly what the plain by-id window does, ids in sequence or not', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(operation, { minLength: 50, maxLength: 400, size: 'max' }),
        (capacity, operations) => {
          const ring = new OutOfOrderWindow<Delivery>(capacity);
          const reference = new ReferenceWindow(capacity);
          const all: Delivery[] = [];
          let nextId = 1000;
          const isDone = (d: Delivery): boolean => d.done;
          for (const op of operations) {
            if (op.kind === 'push') {
              if (reference.byId.size >= capacity) {
                expect(() => ring.push({ id: nextId, done: false })).toThrow(/overflow/);
                continue;
              }
              const id = nextId + op.jump;
              if (reference.byId.has(id)) continue;
              const delivery = { id, done: false };
              all.push(delivery);
              ring.push(delivery);
              reference.push(delivery);
              nextId = id + 1;
            } else if (op.kind === 'done') {
              const held = [...reference.byId.values()];
              if (held.length > 0) (held[op.pick % held.length] as Delivery).done = true;
            } else {
              expect(ring.pop_if(isDone)).toBe(reference.popIf(isDone));
            }
            expect(ring.size).toBe(reference.byId.size);
            expect(ring.available()).toBe(capacity - reference.byId.size);
            expect(ring.get_head()).toBe(reference.byId.values().next().value);
            expect(ring.get_tail()).toBe(reference.byId.size > 0 ? reference.tail : undefined);
          }
          for (const d of all) expect(ring.by_id(d.id)).toBe(reference.byId.get(d.id));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps one delivery never done while a window and more of later ones come and go', () => {
    const window = new OutOfOrderWindow<Delivery>(2048);
    const stuck = { id: 0, done: false };
    window.push(stuck);
    for (let id = 1; id < 10_000; id++) {
      const delivery = { id, done: false };
      window.push(delivery);
      expect(window.by_id(id)).toBe(delivery);
      delivery.done = true;
      window.pop_if((d) => d.done);
    }
    // The done ones behind it are swept once they hold over half the window (at most an eighth more).
    expect(window.size).toBeLessThanOrEqual(2048 / 2 + 2048 / 8 + 1);
    expect(window.get_head()).toBe(stuck);
    expect(window.by_id(0)).toBe(stuck);
    stuck.done = true;
    const held = window.size;
    expect(window.pop_if((d) => d.done)).toBe(held);
    expect(window.size).toBe(0);
    expect(window.get_head()).toBeUndefined();
  });
});

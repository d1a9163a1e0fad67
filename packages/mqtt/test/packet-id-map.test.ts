/** PacketIdMap behaves as a Map from packet identifiers to values, whatever the identifiers and the order. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketIdMap } from '../src/packet-id-map';

const id = fc.oneof(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 200 }));
const operation = fc.oneof(
  fc.record({ op: fc.constant('set' as const), id, value: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), id }),
  fc.record({ op: fc.constant('clear' as const) }),
);

describe('PacketIdMap', () => {
  it('answers get, has, size, delete and values as a Map does', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300, size: 'max' }), (operations) => {
        const map = new PacketIdMap<number>();
        const model = new Map<number, number>();
        for (const step of operations) {
          if (step.op === 'set') {
            map.set(step.id, step.value);
            model.set(step.id, step.value);
          } else if (step.op === 'delete') {
            expect(map.delete(step.id)).toBe(model.delete(step.id));
          } else {
            map.clear();
            model.clear();
          }
          expect(map.size).toBe(model.size);
          if (step.op !== 'clear') {
            expect(map.get(step.id)).toBe(model.get(step.id));
            expect(map.has(step.id)).toBe(model.has(step.id));
          }
        }
        expect(map.values().sort((a, b) => a - b)).toEqual([...model.values()].sort((a, b) => a - b));
        for (const key of model.keys()) expect(map.get(key)).toBe(model.get(key));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps at most one empty page, and allocates none for one message in flight at a time', () => {
    const map = new PacketIdMap<string>();
    const pages = (map as unknown as { pages: Map<number, { slots: unknown[] }> }).pages;
    for (let i = 1; i <= 0xffff; i++) {
      map.set(i, 'x');
      if (i > 40) map.delete(i - 40);
    }
    for (let i = 0xffff - 39; i <= 0xffff; i++) map.delete(i);
    expect(map.size).toBe(0);
    expect(map.values()).toEqual([]);
    expect(pages.size).toBe(1);
    const kept = [...pages.values()][0]!.slots;
    for (let i = 1; i <= 100; i++) {
      map.set(i, 'y');
      map.delete(i);
    }
    expect(pages.size).toBe(1);
    expect([...pages.values()][0]!.slots).toBe(kept);
  });
});

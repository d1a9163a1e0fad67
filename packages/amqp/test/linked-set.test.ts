import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Linkable, LinkedSet } from '../src/internal/linked-set';

class Item implements Linkable<Item> {
  linkedPrev: Item | undefined = undefined;
  linkedNext: Item | undefined = undefined;
  linkedIn: object | undefined = undefined;
  constructor(readonly id: number) {}
}

describe('LinkedSet', () => {
  it('keeps insertion order through any adds and deletes, as a Set does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.nat(15)), { maxLength: 200, size: 'max' }),
        (operations) => {
          const items = Array.from({ length: 16 }, (_, i) => new Item(i));
          const linked = new LinkedSet<Item>();
          const reference = new Set<Item>();
          for (const [add, index] of operations) {
            const item = items[index] as Item;
            if (add && !reference.has(item)) {
              linked.add(item);
              reference.add(item);
            } else {
              expect(linked.delete(item)).toBe(reference.delete(item));
            }
            expect(linked.size).toBe(reference.size);
            expect(linked.has(item)).toBe(reference.has(item));
          }
          expect(linked.drain().map((i) => i.id)).toEqual([...reference].map((i) => i.id));
          expect(linked.size).toBe(0);
        },
      ),
    );
  });

  it('refuses an item that is in a set already, and forgets it once deleted from that set', () => {
    const first = new LinkedSet<Item>();
    const second = new LinkedSet<Item>();
    const item = new Item(1);
    first.add(item);
    expect(() => second.add(item)).toThrow(/already/);
    expect(second.delete(item)).toBe(false);
    expect(first.delete(item)).toBe(true);
    second.add(item);
    expect(second.drain()).toEqual([item]);
  });
});

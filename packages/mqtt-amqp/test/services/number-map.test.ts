import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NumberMap } from '../../src/services/number-map';

type Step = { op: 'set'; key: number; value: number } | { op: 'delete'; key: number } | { op: 'clear' };

function contents(map: NumberMap<number>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  map.forEach((value, key) => {
    out.push([key, value]);
  });
  return out.sort((a, b) => a[0] - b[0]);
}

describe('NumberMap', () => {
  it('answers as a Map does through any sequence of sets, deletes and clears', () => {
    // Keys from a small range collide and wrap around the table; large ones exercise the low-bit hash.
    const key = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 40 }));
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }) },
      { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
    );
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 300, size: 'max' }),
        fc.array(key, { maxLength: 20 }),
        (steps, probes) => {
          const map = new NumberMap<number>();
          const model = new Map<number, number>();
          for (const s of steps) {
            if (s.op === 'set') {
              map.set(s.key, s.value);
              model.set(s.key, s.value);
            } else if (s.op === 'delete') {
              expect(map.delete(s.key)).toBe(model.delete(s.key));
            } else {
              map.clear();
              model.clear();
            }
            expect(map.size).toBe(model.size);
          }
          for (const k of [...probes, ...model.keys()]) {
            expect(map.get(k)).toBe(model.get(k));
            expect(map.has(k)).toBe(model.has(k));
          }
          expect(contents(map)).toEqual([...model].sort((a, b) => a[0] - b[0]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds every entry after deletes among keys that collide, wherever they were moved to', () => {
    // Eight keys in two groups sharing their low bits: each group piles up in one run of slots, displaced from
    // its home; deletes in the middle of a run must shift the right ones back, and leave the others (a delete
    // stops early once none is displaced, so a miscount would lose entries).
    const key = fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1 }))
      .map(([i, j]) => i * 64 + j);
    const step = fc.oneof(
      { weight: 3, arbitrary: fc.record({ set: key }) },
      { weight: 2, arbitrary: fc.record({ delete: key }) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const map = new NumberMap<number>();
        const model = new Map<number, number>();
        steps.forEach((s, index) => {
          if ('set' in s) {
            map.set(s.set, index);
            model.set(s.set, index);
          } else expect(map.delete(s.delete)).toBe(model.delete(s.delete));
          for (const [k, v] of model) expect(map.get(k)).toBe(v);
        });
        expect(contents(map)).toEqual([...model].sort((a, b) => a[0] - b[0]));
      }),
      { numRuns: 500 },
    );
  });

  it('shifts back a run of colliding keys one by one as its entries are deleted from the front', () => {
    const map = new NumberMap<string>();
    // Three keys with one home slot: the second and third sit one and two slots past it.
    for (const key of [0, 64, 128]) map.set(key, `k${key}`);
    expect(map.delete(0)).toBe(true);
    expect(map.get(128)).toBe('k128');
    expect(map.delete(64)).toBe(true);
    expect(map.get(128)).toBe('k128');
    expect(map.size).toBe(1);
  });

  it('keeps a sliding window of consecutive keys, as a session in flight does', () => {
    const map = new NumberMap<string>();
    for (let seq = 1; seq <= 10_000; seq++) {
      map.set(seq, `m${seq}`);
      if (seq > 100) expect(map.delete(seq - 100)).toBe(true);
    }
    expect(map.size).toBe(100);
    expect(map.get(9_901)).toBe('m9901');
    expect(map.get(9_900)).toBeUndefined();
  });
});

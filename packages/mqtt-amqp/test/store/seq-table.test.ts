import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeqTable } from '../../src/store/seq-table';

type Step =
  | { readonly add: number }
  | { readonly remove: number }
  | { readonly removeOldest: number }
  | { readonly replace: number }
  | { readonly insert: number };

/** What a table holds, lowest seq first. */
function listed(table: SeqTable<string>): Array<[number, string]> {
  return [...table.entries()];
}

describe('SeqTable', () => {
  it('holds what a sorted map would, through appends, removals anywhere, replacements and inserts', () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ add: fc.integer({ min: 1, max: 120 }) }) },
      { weight: 2, arbitrary: fc.record({ remove: fc.nat() }) },
      { weight: 3, arbitrary: fc.record({ removeOldest: fc.integer({ min: 1, max: 120 }) }) },
      { weight: 1, arbitrary: fc.record({ replace: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ insert: fc.nat() }) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const table = new SeqTable<string>();
        const model = new Map<number, string>();
        let next = 1;
        const sorted = (): number[] => [...model.keys()].sort((a, b) => a - b);
        for (const s of steps) {
          if ('add' in s) {
            for (let i = 0; i < s.add; i++) {
              // Gaps now and then: seqs only grow, not always by one.
              next += next % 7 === 0 ? 3 : 1;
              table.set(next, `v${next}`);
              model.set(next, `v${next}`);
            }
          } else if ('remove' in s) {
            const keys = sorted();
            // Present or not: a seq that is not there is reported so.
            const seq = keys.length === 0 ? s.remove : (keys[s.remove % keys.length] as number);
            expect(table.delete(seq)).toBe(model.delete(seq));
            expect(table.delete(seq)).toBe(false);
          } else if ('removeOldest' in s) {
            for (const seq of sorted().slice(0, s.removeOldest)) {
              expect(table.delete(seq)).toBe(true);
              model.delete(seq);
            }
          } else if ('replace' in s) {
            const keys = sorted();
            if (keys.length === 0) continue;
            const seq = keys[s.replace % keys.length] as number;
            table.set(seq, `r${seq}`);
            model.set(seq, `r${seq}`);
          } else {
            // A seq below the newest that is not there (a gap, or one removed before).
            const free = Array.from({ length: next }, (_, i) => i + 1).filter((seq) => !model.has(seq));
            if (free.length === 0) continue;
            const seq = free[s.insert % free.length] as number;
            table.set(seq, `i${seq}`);
            model.set(seq, `i${seq}`);
          }
          expect(table.size).toBe(model.size);
          expect(listed(table)).toEqual(sorted().map((seq) => [seq, model.get(seq)]));
          for (const seq of [1, next, next + 1, ...sorted().slice(0, 3)])
            expect(table.get(seq)).toBe(model.get(seq));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('empties and fills again', () => {
    const table = new SeqTable<string>();
    for (let round = 0; round < 3; round++) {
      for (let seq = round * 10 + 1; seq <= round * 10 + 10; seq++) table.set(seq, `v${seq}`);
      expect(table.size).toBe(10);
      for (let seq = round * 10 + 10; seq > round * 10; seq--) expect(table.delete(seq)).toBe(true);
      expect(table.size).toBe(0);
      expect(listed(table)).toEqual([]);
    }
  });
});

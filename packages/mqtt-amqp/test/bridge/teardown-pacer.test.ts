import { describe, expect, it } from 'vitest';
import { TeardownPacer } from '../../src/bridge/teardown-pacer';

/** The next turn of the event loop, after the pacer's batch of this turn (queued before) has run. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('TeardownPacer', () => {
  it('lets at most perTurn teardowns go per turn, in order, until every one has gone', async () => {
    const pacer = new TeardownPacer(4);
    const gone: number[] = [];
    const all = Array.from({ length: 10 }, (_, i) => pacer.turn().then(() => gone.push(i)));
    expect(pacer.waiting).toBe(10);
    expect(gone).toEqual([]); // never in the same turn
    await nextTurn();
    expect(gone).toEqual([0, 1, 2, 3]);
    await nextTurn();
    expect(gone).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await nextTurn();
    expect(gone).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await Promise.all(all);
    expect(pacer.waiting).toBe(0);
  });

  it('serves teardowns queued while a burst drains, and again after it is idle', async () => {
    const pacer = new TeardownPacer(2);
    const gone: string[] = [];
    for (const name of ['a', 'b', 'c']) void pacer.turn().then(() => gone.push(name));
    await nextTurn();
    void pacer.turn().then(() => gone.push('d'));
    await nextTurn();
    expect(gone).toEqual(['a', 'b', 'c', 'd']);
    await pacer.turn();
    expect(pacer.waiting).toBe(0);
  });

  it('keeps order and count while teardowns keep arriving as fast as they go', async () => {
    const pacer = new TeardownPacer(3);
    const gone: number[] = [];
    let next = 0;
    const arrive = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const id = next++;
        void pacer.turn().then(() => gone.push(id));
      }
    };
    arrive(7);
    for (let turn = 0; turn < 20; turn++) {
      await nextTurn();
      expect(gone).toHaveLength(3 * (turn + 1));
      arrive(3);
      expect(pacer.waiting).toBe(7);
    }
    while (pacer.waiting > 0) await nextTurn();
    await nextTurn();
    expect(gone).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  it('refuses a batch size that is not a positive integer', () => {
    expect(() => new TeardownPacer(0)).toThrow(RangeError);
    expect(() => new TeardownPacer(1.5)).toThrow(RangeError);
  });
});

import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MqttProtocolError, parseSubscriptionFilter, TopicTree } from '../src/index';
import { filterArbitrary, MATCH_TABLE, oracleMatches, oraclePrefixes, topicArbitrary } from './topic-oracle';

/** Every match of `topic` as sorted `filter|key|value` strings, so results compare regardless of order. */
function matchesOf<K, V>(tree: TopicTree<K, V>, topic: string): string[] {
  const found: string[] = [];
  tree.forEachMatch(topic, (value, key, filter) => {
    found.push(`${filter}|${String(key)}|${String(value)}`);
  });
  return found.sort();
}

describe('TopicTree matching', () => {
  it.each(MATCH_TABLE)('%s against %s -> %s', (filter, topic, expected) => {
    const tree = new TopicTree<string, string>();
    tree.set(filter, 'client', 'subscription');
    expect(tree.match(topic)).toEqual(expected ? ['subscription'] : []);
  });

  it('matches every filter of the table at once, each entry exactly once', () => {
    const tree = new TopicTree<number, string>();
    MATCH_TABLE.forEach(([filter], row) => {
      tree.set(filter, row, filter);
    });
    for (const [, topic] of MATCH_TABLE) {
      const expected = MATCH_TABLE.flatMap(([filter], row) =>
        oracleMatches(filter, topic) ? [`${filter}|${row}|${filter}`] : [],
      );
      expect(matchesOf(tree, topic)).toEqual(expected.sort());
    }
  });

  it('gives the visitor the value, the key and the filter', () => {
    const tree = new TopicTree<string, { qos: number }>();
    const subscription = { qos: 1 };
    tree.set('home/+/temperature', 'c1', subscription);
    const seen: unknown[] = [];
    tree.forEachMatch('home/kitchen/temperature', (value, key, filter) => {
      seen.push([value, key, filter]);
    });
    expect(seen).toEqual([[subscription, 'c1', 'home/+/temperature']]);
  });

  it('does not match + or # in the first level against $ topics, but does in later levels', () => {
    const tree = new TopicTree<string, string>();
    for (const filter of ['#', '+', '+/x', '+/#', '$SYS/#', '$SYS/+', 'a/+', 'a/#'])
      tree.set(filter, 'k', filter);
    expect(tree.match('$SYS').sort()).toEqual(['$SYS/#']);
    expect(tree.match('$SYS/x').sort()).toEqual(['$SYS/#', '$SYS/+']);
    expect(tree.match('a/$x').sort()).toEqual(['#', '+/#', 'a/#', 'a/+']);
    expect(tree.match('x').sort()).toEqual(['#', '+', '+/#']);
  });

  it('matches a filter of 20000 levels without running out of stack', () => {
    const tree = new TopicTree<string, string>({ limits: { maxLevels: Number.POSITIVE_INFINITY } });
    const deepFilter = `${'+/'.repeat(19_999)}+`;
    tree.set(deepFilter, 'k', 'deep');
    tree.set(`${'a/'.repeat(19_999)}#`, 'k', 'deep-hash');
    expect(tree.match(`${'a/'.repeat(19_999)}a`).sort()).toEqual(['deep', 'deep-hash']);
    expect(tree.match(`${'a/'.repeat(19_998)}a`)).toEqual(['deep-hash']);
    expect(tree.delete(deepFilter, 'k')).toBe(true);
    expect(tree.delete(`${'a/'.repeat(19_999)}#`, 'k')).toBe(true);
    expect(tree.nodeCount).toBe(0);
  });

  it('supports matching again from inside a visitor', () => {
    const tree = new TopicTree<string, string>();
    tree.set('a/+', 'k', 'outer');
    tree.set('b/#', 'k', 'inner');
    const seen: string[] = [];
    tree.forEachMatch('a/x', (value) => {
      seen.push(value);
      tree.forEachMatch('b/y/z', (inner) => {
        seen.push(inner);
      });
    });
    expect(seen).toEqual(['outer', 'inner']);
    expect(tree.match('a/x')).toEqual(['outer']);
  });

  it('still matches correctly after a visitor threw', () => {
    const tree = new TopicTree<string, string>();
    tree.set('a/+/c', 'k', 'v1');
    tree.set('a/b/+', 'k', 'v2');
    expect(() =>
      tree.forEachMatch('a/b/c', () => {
        throw new Error('visitor failed');
      }),
    ).toThrow('visitor failed');
    expect(tree.match('a/b/c').sort()).toEqual(['v1', 'v2']);
    expect(tree.match('a/x/c')).toEqual(['v1']);
  });
});

describe('TopicTree entries', () => {
  it('keys entries by (filter, key): one key on many filters, many keys on one filter', () => {
    const tree = new TopicTree<string, number>();
    tree.set('a/#', 'c1', 1).set('a/b', 'c1', 2).set('a/b', 'c2', 3);
    expect(tree.size).toBe(3);
    expect(tree.filterCount).toBe(2);
    expect(matchesOf(tree, 'a/b')).toEqual(['a/#|c1|1', 'a/b|c1|2', 'a/b|c2|3']);
    expect(tree.get('a/b', 'c2')).toBe(3);
    expect(tree.get('a/b', 'c3')).toBeUndefined();
    expect(tree.get('a/+', 'c1')).toBeUndefined();
    expect(tree.has('a/#', 'c1')).toBe(true);
    expect(tree.has('a/#', 'c2')).toBe(false);
    expect(tree.hasFilter('a/b')).toBe(true);
    expect(tree.hasFilter('a')).toBe(false);
    expect(tree.hasFilter('a/+')).toBe(false);
  });

  it('replaces the value when the same (filter, key) is set again, like a repeated SUBSCRIBE', () => {
    const tree = new TopicTree<string, string>();
    tree.set('a/+', 'c1', 'qos0');
    tree.set('a/+', 'c1', 'qos1');
    expect(tree.size).toBe(1);
    expect(tree.match('a/b')).toEqual(['qos1']);
  });

  it('delete removes one entry and prunes the nodes left empty', () => {
    const tree = new TopicTree<string, number>();
    tree.set('a/b/c', 'c1', 1);
    tree.set('a/b/#', 'c2', 2);
    tree.set('a/+', 'c3', 3);
    expect(tree.nodeCount).toBe(5); // a, a/b, a/b/c, a/b/#, a/+
    expect(tree.delete('a/b/c', 'c1')).toBe(true);
    expect(tree.nodeCount).toBe(4);
    expect(tree.delete('a/b/c', 'c1')).toBe(false);
    expect(tree.match('a/b/c')).toEqual([2]);
    expect(tree.delete('a/b/#', 'c2')).toBe(true);
    expect(tree.nodeCount).toBe(2);
    expect(tree.delete('a/+', 'c3')).toBe(true);
    expect(tree.nodeCount).toBe(0);
    expect(tree.size).toBe(0);
    expect(tree.filterCount).toBe(0);
    expect(tree.match('a/b')).toEqual([]);
  });

  it('delete answers false for entries that do not exist, and for invalid filters, without throwing', () => {
    const tree = new TopicTree<string, number>();
    tree.set('a/#', 'c1', 1);
    tree.set('a/b', 'c1', 1);
    for (const filter of ['a', 'a/+', 'a/#/b', 'a/b/#', '#', 'a/b/c', '', 'a\0', '+/#']) {
      expect(tree.delete(filter, 'c1')).toBe(false);
    }
    expect(tree.delete('a/#', 'c2')).toBe(false);
    expect(tree.size).toBe(2);
    expect(tree.nodeCount).toBe(3);
  });

  it('keeps many subscribers of one filter straight through deletes in any order', () => {
    const tree = new TopicTree<number, number>();
    for (let key = 0; key < 50; key++) tree.set('x/+', key, key * 10);
    for (const key of [0, 49, 25, 1, 48, 24, 26]) expect(tree.delete('x/+', key)).toBe(true);
    const remaining = Array.from({ length: 50 }, (_, key) => key).filter(
      (key) => ![0, 49, 25, 1, 48, 24, 26].includes(key),
    );
    expect(tree.match('x/y').sort((p, q) => p - q)).toEqual(remaining.map((key) => key * 10));
    for (const key of remaining) expect(tree.get('x/+', key)).toBe(key * 10);
    expect(tree.has('x/+', 25)).toBe(false);
  });

  it('holds shared subscriptions under their inner filter, keyed apart from ordinary ones', () => {
    const tree = new TopicTree<string, { clientId: string; group: string | undefined }>();
    const subscribe = (clientId: string, text: string) => {
      const parsed = parseSubscriptionFilter(text, 5);
      if (!parsed.ok) throw new Error(parsed.reason);
      const key = parsed.group === undefined ? clientId : `${clientId}\u0000${parsed.group}`;
      tree.set(parsed.filter, key, { clientId, group: parsed.group });
    };
    subscribe('c1', 'sensors/+');
    subscribe('c1', '$share/workers/sensors/+');
    subscribe('c2', '$share/workers/sensors/+');
    subscribe('c1/workers', 'sensors/+');
    expect(tree.size).toBe(4);
    expect(tree.filterCount).toBe(1);
    const matched = tree.match('sensors/t1').map(({ clientId, group }) => `${clientId}:${group ?? '-'}`);
    expect(matched.sort()).toEqual(['c1/workers:-', 'c1:-', 'c1:workers', 'c2:workers']);
  });

  it('compares keys like a Map (NaN is one key)', () => {
    const tree = new TopicTree<number, string>();
    tree.set('a', Number.NaN, 'first').set('a', Number.NaN, 'second');
    expect(tree.size).toBe(1);
    expect(tree.get('a', Number.NaN)).toBe('second');
  });

  it('rejects invalid filters with MqttProtocolError 0x8F and stores nothing', () => {
    const tree = new TopicTree<string, number>({ limits: { maxLevels: 2 } });
    for (const filter of ['', 'a/#/b', 'a+', 'a\0', 'a/b/c']) {
      let error: unknown;
      try {
        tree.set(filter, 'c1', 1);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(MqttProtocolError);
      expect(error).toMatchObject({ reasonCode: 0x8f });
    }
    expect(tree.size).toBe(0);
    expect(tree.nodeCount).toBe(0);
  });

  it('rejects invalid limits with a RangeError', () => {
    expect(() => new TopicTree({ limits: { maxLevels: 0 } })).toThrow(RangeError);
    expect(() => new TopicTree({ limits: { maxLength: 70_000 } })).toThrow(RangeError);
  });

  it('lists entries, and allows deleting while listing', () => {
    const tree = new TopicTree<string, number>();
    tree.set('#', 'c1', 1).set('a/+', 'c1', 2).set('a/+', 'c2', 3);
    expect([...tree.entries()].map(([filter, key, value]) => `${filter}|${key}|${value}`).sort()).toEqual([
      '#|c1|1',
      'a/+|c1|2',
      'a/+|c2|3',
    ]);
    for (const [filter, key] of tree.entries()) tree.delete(filter, key);
    expect(tree.size).toBe(0);
    expect(tree.nodeCount).toBe(0);
  });

  it('clear removes everything', () => {
    const tree = new TopicTree<string, number>();
    tree.set('a/b', 'c1', 1).set('#', 'c1', 1);
    tree.clear();
    expect([tree.size, tree.filterCount, tree.nodeCount]).toEqual([0, 0, 0]);
    expect(tree.match('a/b')).toEqual([]);
  });
});

type Operation =
  | { kind: 'set'; filter: number; key: number; value: number }
  | { kind: 'delete'; filter: number; key: number };

describe('TopicTree against a brute-force oracle', () => {
  it('matches exactly what checking every filter one by one matches, through random sets and deletes', () => {
    const operation: fc.Arbitrary<Operation> = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), filter: fc.nat(), key: fc.nat(11), value: fc.nat(99) }),
      fc.record({ kind: fc.constant('delete' as const), filter: fc.nat(), key: fc.nat(11) }),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(filterArbitrary(), { minLength: 1, maxLength: 12 }),
        fc.array(operation, { maxLength: 150, size: 'max' }),
        fc.array(topicArbitrary(), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 200, size: 'max' }),
        (filters, operations, topics, deletionOrder) => {
          const tree = new TopicTree<number, number>();
          const model = new Map<string, { filter: string; key: number; value: number }>();

          const check = () => {
            const live = [...model.values()];
            expect(tree.size).toBe(live.length);
            expect(tree.filterCount).toBe(new Set(live.map((e) => e.filter)).size);
            expect(tree.nodeCount).toBe(oraclePrefixes(live.map((e) => e.filter)).size);
            for (const topic of topics) {
              const expected = live
                .filter((entry) => oracleMatches(entry.filter, topic))
                .map((entry) => `${entry.filter}|${entry.key}|${entry.value}`)
                .sort();
              expect(matchesOf(tree, topic)).toEqual(expected);
            }
          };

          for (const op of operations) {
            const filter = filters[op.filter % filters.length] as string;
            const id = `${filter}\0${op.key}`;
            if (op.kind === 'set') {
              tree.set(filter, op.key, op.value);
              model.set(id, { filter, key: op.key, value: op.value });
            } else {
              expect(tree.delete(filter, op.key)).toBe(model.delete(id));
            }
          }
          check();

          // Delete everything left, in a random order, checking halfway and at the end.
          const left = [...model.entries()]
            .map((entry, i) => ({ entry, rank: deletionOrder[i] ?? i }))
            .sort((a, b) => a.rank - b.rank)
            .map(({ entry }) => entry);
          left.forEach(([id, entry], i) => {
            expect(tree.delete(entry.filter, entry.key)).toBe(true);
            model.delete(id);
            if (i === Math.floor(left.length / 2)) check();
          });
          check();
          expect(tree.nodeCount).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

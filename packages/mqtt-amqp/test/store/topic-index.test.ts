/**
 * The retained store's topic trie against @dragoman/mqtt's matcher (written independently), on random topics
 * and filters: the trie must find exactly the topics the matcher accepts, through additions and removals.
 */
import { filterMatchesTopic } from '@dragoman/mqtt';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopicIndex } from '../../src/store/topic-index';

const level = fc.constantFrom('', 'a', 'b', 'ab', '$SYS', '$x', 'é');
const topicArb = fc.array(level, { minLength: 1, maxLength: 4 }).map((levels) => levels.join('/'));
const filterArb = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 4 }), fc.boolean())
  .map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('/'))
  .filter((filter) => filter.length > 0);

describe('TopicIndex', () => {
  it('matches exactly what filterMatchesTopic matches', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(topicArb, { maxLength: 30 }),
        fc.array(filterArb, { minLength: 1, maxLength: 10 }),
        (topics, filters) => {
          const index = new TopicIndex();
          for (const topic of topics) index.add(topic);
          // Remove every third topic again: pruning must not lose its neighbours.
          const kept = topics.filter((topic, i) => i % 3 !== 0 || !index.remove(topic));
          expect(index.size).toBe(kept.length);
          for (const filter of filters) {
            const expected = kept.filter((topic) => filterMatchesTopic(filter, topic)).sort();
            expect(index.match(filter)).toEqual(expected);
          }
          expect(index.topics().sort()).toEqual([...kept].sort());
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reports additions and removals of absent topics', () => {
    const index = new TopicIndex();
    expect(index.add('a/b')).toBe(true);
    expect(index.add('a/b')).toBe(false);
    expect(index.remove('a')).toBe(false);
    expect(index.remove('a/b/c')).toBe(false);
    expect(index.has('a')).toBe(false);
    expect(index.remove('a/b')).toBe(true);
    expect(index.size).toBe(0);
    expect(index.match('#')).toEqual([]);
  });
});

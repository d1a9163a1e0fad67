import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterMatchesTopic } from '../src/index';
import { filterArbitrary, MATCH_TABLE, oracleMatches, topicArbitrary } from './topic-oracle';

describe('filterMatchesTopic', () => {
  it.each(MATCH_TABLE)('%s against %s -> %s', (filter, topic, expected) => {
    expect(oracleMatches(filter, topic)).toBe(expected);
    expect(filterMatchesTopic(filter, topic)).toBe(expected);
  });

  it('agrees with the level-by-level oracle on random filters and topics', () => {
    fc.assert(
      fc.property(filterArbitrary(), topicArbitrary(), (filter, topic) => {
        expect(filterMatchesTopic(filter, topic)).toBe(oracleMatches(filter, topic));
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * Deliberately simple reference implementations for the topic tests: split into levels and compare level
 * by level, written from the specification text and sharing no code with src/.
 */
import * as fc from 'fast-check';

/** MQTT 5.0 section 4.7: does `filter` match `topic`? */
export function oracleMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  // 4.7.2: a topic starting with $ is not matched by a filter starting with a wildcard.
  if (topic.startsWith('$') && (filterLevels[0] === '+' || filterLevels[0] === '#')) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    // '#' matches whatever is left, including nothing (the parent level).
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/** MQTT 4.7.1: wildcard placement only (no length, U+0000 or UTF-8 checks). */
export function oracleWildcardsPlacedWell(filter: string): boolean {
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '+') return true;
    if (level === '#') return i === levels.length - 1;
    return !level.includes('+') && !level.includes('#');
  });
}

/** Every distinct prefix of the given filters, by levels (`a/b/#` has `a`, `a/b`, `a/b/#`). */
export function oraclePrefixes(filters: Iterable<string>): Set<string> {
  const prefixes = new Set<string>();
  for (const filter of filters) {
    const levels = filter.split('/');
    for (let i = 1; i <= levels.length; i++) prefixes.add(levels.slice(0, i).join('/'));
  }
  return prefixes;
}

/** [filter, topic, matches], mostly the examples of MQTT 5.0 section 4.7. */
export const MATCH_TABLE: readonly (readonly [string, string, boolean])[] = [
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/tennis/player1/#', 'sport/tennis/player2', false],
  ['sport/#', 'sport', true],
  ['sport/#', 'sports', false],
  ['#', 'sport/tennis', true],
  ['#', '/', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+', 'finance', true],
  ['+/tennis/#', 'sport/tennis/player1', true],
  ['+/tennis/#', 'sport/tennis', true],
  ['a//b', 'a//b', true],
  ['a/+/b', 'a//b', true],
  ['a/b', 'a//b', false],
  ['a/b', 'a/b/', false],
  ['a/b/', 'a/b', false],
  ['/', '/', true],
  ['+/+', '/', true],
  ['+', '/', false],
  ['a/b', 'a/bc', false],
  ['a/bc', 'a/b', false],
  ['#', '$SYS/monitor/Clients', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['#', '$', false],
  ['+', '$', false],
  ['$', '$', true],
  ['a/+', 'a/$x', true],
  ['a/#', 'a/$x/y', true],
  ['$share/g/a', '$share/g/a', true],
  ['\u20ac/+', '\u20ac/\u{1f600}', true],
];

const LEVELS = ['a', 'b', 'ab', '', '$', '$x'] as const;

/** Topic names of 1 to 5 levels from a small alphabet, so that random filters often match them. */
export function topicArbitrary(): fc.Arbitrary<string> {
  return fc
    .array(fc.constantFrom(...LEVELS), { minLength: 1, maxLength: 5 })
    .map((levels) => levels.join('/'))
    .filter((topic) => topic.length > 0);
}

/** Valid topic filters: levels from the same alphabet or `+`, optionally ending with `#`. */
export function filterArbitrary(): fc.Arbitrary<string> {
  const level = fc.oneof(fc.constantFrom(...LEVELS), fc.constant('+'));
  return fc
    .tuple(fc.array(level, { minLength: 0, maxLength: 4 }), fc.boolean())
    .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
    .filter((filter) => filter.length > 0);
}

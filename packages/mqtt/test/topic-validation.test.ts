import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertTopicFilter,
  assertTopicName,
  DEFAULT_TOPIC_LIMITS,
  hasWildcard,
  isValidTopicFilter,
  isValidTopicName,
  MqttProtocolError,
  ReasonCode,
  resolveTopicLimits,
  type TopicLimits,
  type TopicRule,
  validateTopicFilter,
  validateTopicName,
} from '../src/index';
import { oracleWildcardsPlacedWell } from './topic-oracle';

const EURO = '\u20ac'; // 3 UTF-8 bytes, 1 UTF-16 code unit
const GRIN = '\u{1f600}'; // 4 UTF-8 bytes, 2 UTF-16 code units

type Case = readonly [label: string, topic: string, limits?: TopicLimits];
type BadCase = readonly [label: string, topic: string, rule: TopicRule, limits?: TopicLimits];

/** Table rows as objects, which `it.each` types well even with the optional limits. */
const good = (cases: Case[]) => cases.map(([label, topic, limits]) => ({ label, topic, limits }));
const bad = (cases: BadCase[]) =>
  cases.map(([label, topic, rule, limits]) => ({ label, topic, rule, limits }));

/** Valid both as a topic name and as a topic filter. */
const validNamesAndFilters: Case[] = [
  ['one character', 'a'],
  ['two levels', 'a/b'],
  ['a single slash: two empty levels', '/'],
  ['only empty levels', '//'],
  ['an empty level inside', 'a//b'],
  ['a leading empty level', '/a'],
  ['a trailing empty level', 'a/'],
  ['a space', ' '],
  ['$ topics', '$SYS/broker/uptime'],
  ['a lone $', '$'],
  ['$share as an ordinary first level', '$share/g/a'],
  ['non-ASCII text', `\u00fc/${EURO}/${GRIN}`],
  ['control characters other than U+0000 (SHOULD NOT, not MUST NOT)', 'a\u0001b\u007f'],
  ['65535 one-byte characters', 'a'.repeat(65_535)],
  ['65535 bytes of three-byte characters', EURO.repeat(21_845)],
  ['65535 bytes with surrogate pairs', `${GRIN.repeat(16_383)}abc`],
  ['128 levels (the default maximum)', '/'.repeat(127)],
  ['many levels when maxLevels is Infinity', '/'.repeat(5000), { maxLevels: Number.POSITIVE_INFINITY }],
  ['exactly a lower maxLength', 'a'.repeat(10), { maxLength: 10 }],
  ['exactly a lower maxLevels', 'a/b/c', { maxLevels: 3 }],
];

/** Invalid both as a topic name and as a topic filter, for the same rule. */
const invalidNamesAndFilters: BadCase[] = [
  ['empty', '', 'empty'],
  ['U+0000 alone', '\0', 'null-character'],
  ['U+0000 inside', 'a/b\0c', 'null-character'],
  ['a lone high surrogate', 'a\ud800', 'unpaired-surrogate'],
  ['a high surrogate before a non-surrogate', '\ud800a', 'unpaired-surrogate'],
  ['a lone low surrogate', 'a\udc00b', 'unpaired-surrogate'],
  ['two high surrogates', '\ud800\ud800', 'unpaired-surrogate'],
  ['65536 one-byte characters', 'a'.repeat(65_536), 'too-long'],
  ['over 65535 bytes in fewer than 65535 code units', EURO.repeat(21_846), 'too-long'],
  ['65536 bytes of surrogate pairs', GRIN.repeat(16_384), 'too-long'],
  ['129 levels', '/'.repeat(128), 'too-many-levels'],
  ['over a lower maxLength in characters', 'a'.repeat(11), 'too-long', { maxLength: 10 }],
  ['over a lower maxLength in bytes only', EURO.repeat(4), 'too-long', { maxLength: 10 }],
  ['over a lower maxLevels', 'a/b/c/d', 'too-many-levels', { maxLevels: 3 }],
  ['maxLength above 65535 still capped at 65535', 'a'.repeat(65_536), 'too-long', { maxLength: 100_000 }],
];

const validFiltersOnly: Case[] = [
  ['# alone', '#'],
  ['+ alone', '+'],
  ['+/+', '+/+'],
  ['# after a level', 'a/#'],
  ['+ in the middle', 'a/+/b'],
  ['+ then #', '+/#'],
  ['# after an empty level', '/#'],
  ['+ after empty levels', '//+'],
  ['+ before an empty level', '+/'],
  ['$SYS/#', '$SYS/#'],
  ['a shared subscription with a wildcard group, as an ordinary filter', '$share/+/a'],
];

const misplacedInFilters: BadCase[] = [
  ['# joined to a level', 'a#', 'misplaced-multi-level-wildcard'],
  ['# not last', 'a/#/b', 'misplaced-multi-level-wildcard'],
  ['# first of two levels', '#/a', 'misplaced-multi-level-wildcard'],
  ['## as a level', '##', 'misplaced-multi-level-wildcard'],
  ['# after text in the last level', 'a/b#', 'misplaced-multi-level-wildcard'],
  ['+ followed by # in one level', '+#', 'misplaced-single-level-wildcard'],
  ['+ after text', 'a+', 'misplaced-single-level-wildcard'],
  ['+ before text', '+a', 'misplaced-single-level-wildcard'],
  ['+ inside a level', 'a/x+y/c', 'misplaced-single-level-wildcard'],
  ['++ as a level', '++', 'misplaced-single-level-wildcard'],
  ['# followed by + in one level', '#+', 'misplaced-multi-level-wildcard'],
];

describe('validateTopicName', () => {
  it.each(good(validNamesAndFilters))('accepts $label', ({ topic, limits }) => {
    expect(validateTopicName(topic, limits)).toEqual({ ok: true });
    expect(isValidTopicName(topic, limits)).toBe(true);
    expect(() => assertTopicName(topic, limits)).not.toThrow();
  });

  it.each(bad(invalidNamesAndFilters))('rejects $label', ({ topic, rule, limits }) => {
    const result = validateTopicName(topic, limits);
    expect(result).toMatchObject({ ok: false, rule, reasonCode: ReasonCode.TopicNameInvalid });
    expect(isValidTopicName(topic, limits)).toBe(false);
  });

  it.each(good([...validFiltersOnly, ['+ and # inside levels', 'a+b/c#']]))(
    'rejects wildcards in a name: $label',
    ({ topic }) => {
      expect(validateTopicName(topic)).toMatchObject({
        ok: false,
        rule: 'wildcard-in-topic-name',
        reasonCode: 0x90,
      });
    },
  );

  it('returns the same object for every valid name (no allocation)', () => {
    expect(validateTopicName('a/b')).toBe(validateTopicName('c'));
  });

  it('says what is wrong in words', () => {
    const result = validateTopicName('a/+');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe('topic name must not contain the wildcards + or #');
  });
});

describe('validateTopicFilter', () => {
  it.each(good([...validNamesAndFilters, ...validFiltersOnly]))(
    'accepts $label',
    ({ topic: filter, limits }) => {
      expect(validateTopicFilter(filter, limits)).toEqual({ ok: true });
      expect(isValidTopicFilter(filter, limits)).toBe(true);
      expect(() => assertTopicFilter(filter, limits)).not.toThrow();
    },
  );

  it.each(bad([...invalidNamesAndFilters, ...misplacedInFilters]))(
    'rejects $label',
    ({ topic: filter, rule, limits }) => {
      expect(validateTopicFilter(filter, limits)).toMatchObject({
        ok: false,
        rule,
        reasonCode: ReasonCode.TopicFilterInvalid,
      });
      expect(isValidTopicFilter(filter, limits)).toBe(false);
    },
  );

  it('agrees with a level-by-level reading of the wildcard rules on random strings', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', 'b', '/', '+', '#', '$'),
      minLength: 1,
      maxLength: 12,
    });
    fc.assert(
      fc.property(text, (filter) => {
        expect(isValidTopicFilter(filter)).toBe(oracleWildcardsPlacedWell(filter));
        expect(isValidTopicName(filter)).toBe(!filter.includes('+') && !filter.includes('#'));
      }),
    );
  });

  it('agrees with Buffer.byteLength on random text around a lower maxLength', () => {
    const unit = fc.constantFrom('a', '/', '\u00e9', EURO, GRIN);
    fc.assert(
      fc.property(fc.string({ unit, minLength: 1, maxLength: 20 }), (topic) => {
        const fits = Buffer.byteLength(topic, 'utf8') <= 24;
        const levels = topic.split('/').length;
        const limits = { maxLength: 24, maxLevels: Number.POSITIVE_INFINITY };
        expect(isValidTopicName(topic, limits)).toBe(fits);
        expect(isValidTopicFilter(topic, { maxLength: 65_535, maxLevels: 4 })).toBe(levels <= 4);
      }),
    );
  });
});

describe('assertTopicName and assertTopicFilter', () => {
  it('throw MqttProtocolError with 0x90 for a bad topic name', () => {
    const error = catchError(() => assertTopicName('a/#'));
    expect(error).toBeInstanceOf(MqttProtocolError);
    expect(error).toMatchObject({
      reasonCode: 0x90,
      message: '"a/#": topic name must not contain the wildcards + or #',
    });
  });

  it('throw MqttProtocolError with 0x8F for a bad topic filter', () => {
    const error = catchError(() => assertTopicFilter('a/#/b'));
    expect(error).toBeInstanceOf(MqttProtocolError);
    expect(error).toMatchObject({ reasonCode: 0x8f });
    expect((error as Error).message).toContain('# other than as the whole of the last level');
  });

  it('keep the message short for a huge topic', () => {
    const error = catchError(() => assertTopicName(`${'a'.repeat(70_000)}`));
    expect((error as Error).message.length).toBeLessThan(200);
  });
});

describe('resolveTopicLimits', () => {
  it('fills in the documented defaults', () => {
    expect(resolveTopicLimits()).toEqual({ maxLength: 65_535, maxLevels: 128 });
    expect(DEFAULT_TOPIC_LIMITS).toEqual({ maxLength: 65_535, maxLevels: 128 });
    expect(resolveTopicLimits({ maxLevels: Number.POSITIVE_INFINITY })).toEqual({
      maxLength: 65_535,
      maxLevels: Number.POSITIVE_INFINITY,
    });
  });

  it.each([
    { maxLength: 0 },
    { maxLength: 65_536 },
    { maxLength: 1.5 },
    { maxLength: Number.NaN },
    { maxLength: Number.POSITIVE_INFINITY },
    { maxLevels: 0 },
    { maxLevels: -1 },
    { maxLevels: 2.5 },
    { maxLevels: Number.NaN },
  ])('rejects %o with a RangeError', (limits) => {
    expect(() => resolveTopicLimits(limits)).toThrow(RangeError);
  });
});

describe('hasWildcard', () => {
  it.each([
    ['a/b', false],
    ['a/+', true],
    ['#', true],
    ['$share/g/a', false],
  ] as const)('%s -> %s', (filter, expected) => {
    expect(hasWildcard(filter)).toBe(expected);
  });
});

function catchError(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

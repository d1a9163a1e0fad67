import { describe, expect, it } from 'vitest';
import {
  isSharedSubscription,
  parseSharedSubscription,
  parseSubscriptionFilter,
  ReasonCode,
  type TopicLimits,
  type TopicRule,
} from '../src/index';

describe('parseSharedSubscription', () => {
  it.each([
    ['$share/g/a', 'g', 'a'],
    ['$share/consumers/sensors/+/temperature', 'consumers', 'sensors/+/temperature'],
    ['$share/g/#', 'g', '#'],
    ['$share/g/+', 'g', '+'],
    ['$share/g/a//b', 'g', 'a//b'],
    ['$share/g//', 'g', '/'],
    ['$share/g/$SYS/#', 'g', '$SYS/#'],
    ['$share/$g/a', '$g', 'a'],
    ['$share/gr\u00fcn/a', 'gr\u00fcn', 'a'],
    ['$share/share/$share/x/y', 'share', '$share/x/y'],
  ])('parses %s', (text, group, filter) => {
    expect(parseSharedSubscription(text)).toEqual({ ok: true, group, filter });
  });

  it.each([
    ['an ordinary filter', 'a/b', 'not-shared-subscription'],
    ['$share with no slash', '$share', 'not-shared-subscription'],
    ['a longer first level', '$shared/g/a', 'not-shared-subscription'],
    ['a different case', '$SHARE/g/a', 'not-shared-subscription'],
    ['an empty share name', '$share//a', 'empty-share-name'],
    ['a share name only', '$share/g', 'missing-shared-filter'],
    ['an empty filter', '$share/g/', 'missing-shared-filter'],
    ['nothing after the prefix', '$share/', 'missing-shared-filter'],
    ['+ in the share name', '$share/+/a', 'wildcard-in-share-name'],
    ['# in the share name', '$share/g#/a', 'wildcard-in-share-name'],
    ['U+0000 in the share name', '$share/g\0/a', 'null-character'],
    ['an unpaired surrogate in the share name', '$share/\ud800/a', 'unpaired-surrogate'],
    ['a misplaced # in the filter', '$share/g/a/#/b', 'misplaced-multi-level-wildcard'],
    ['a misplaced + in the filter', '$share/g/a+', 'misplaced-single-level-wildcard'],
    ['U+0000 in the filter', '$share/g/a\0', 'null-character'],
    ['the whole string over 65535 bytes', `$share/g/${'a'.repeat(65_527)}`, 'too-long'],
    [
      'the whole string over 65535 bytes in a long share name',
      `$share/${'\u20ac'.repeat(21_843)}/a`,
      'too-long',
    ],
    ['the whole string over a lower maxLength', '$share/group/abc', 'too-long', { maxLength: 15 }],
    ['the filter over maxLevels', '$share/g/a/b/c', 'too-many-levels', { maxLevels: 2 }],
  ] as [string, string, TopicRule, TopicLimits?][])('rejects %s', (...[, text, rule, limits]) => {
    expect(parseSharedSubscription(text, limits)).toMatchObject({
      ok: false,
      rule,
      reasonCode: ReasonCode.TopicFilterInvalid,
    });
  });

  it('accepts exactly 65535 bytes and exactly maxLevels levels in the filter', () => {
    expect(parseSharedSubscription(`$share/g/${'a'.repeat(65_526)}`).ok).toBe(true);
    expect(parseSharedSubscription('$share/group/ab', { maxLength: 15 }).ok).toBe(true);
    expect(parseSharedSubscription('$share/g/a/b', { maxLevels: 2 }).ok).toBe(true);
  });
});

describe('isSharedSubscription', () => {
  it.each([
    ['$share/g/a', true],
    ['$share/', true],
    ['$share', false],
    ['$sharex/g', false],
    ['a/$share/g/a', false],
  ] as const)('%s -> %s', (filter, expected) => {
    expect(isSharedSubscription(filter)).toBe(expected);
  });
});

describe('parseSubscriptionFilter', () => {
  it('treats $share/ as a shared subscription in MQTT 5', () => {
    expect(parseSubscriptionFilter('$share/g/a/+', 5)).toEqual({ ok: true, group: 'g', filter: 'a/+' });
    expect(parseSubscriptionFilter('$share/+/a', 5)).toMatchObject({
      ok: false,
      rule: 'wildcard-in-share-name',
    });
  });

  it('treats $share/ as an ordinary filter in MQTT 3.1 and 3.1.1', () => {
    for (const version of [3, 4] as const) {
      expect(parseSubscriptionFilter('$share/g/a', version)).toEqual({
        ok: true,
        group: undefined,
        filter: '$share/g/a',
      });
      expect(parseSubscriptionFilter('$share/+/a', version)).toEqual({
        ok: true,
        group: undefined,
        filter: '$share/+/a',
      });
      expect(parseSubscriptionFilter('$share//a', version).ok).toBe(true);
    }
  });

  it('validates ordinary filters in every version, with the given limits', () => {
    for (const version of [3, 4, 5] as const) {
      expect(parseSubscriptionFilter('a/+/#', version)).toEqual({
        ok: true,
        group: undefined,
        filter: 'a/+/#',
      });
      expect(parseSubscriptionFilter('a/#/b', version)).toMatchObject({
        ok: false,
        rule: 'misplaced-multi-level-wildcard',
        reasonCode: 0x8f,
      });
      expect(parseSubscriptionFilter('a/b/c', version, { maxLevels: 2 })).toMatchObject({
        ok: false,
        rule: 'too-many-levels',
      });
    }
  });
});

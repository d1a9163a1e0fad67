/**
 * MQTT 5 shared subscriptions, `$share/<group>/<filter>` (MQTT 5.0 section 4.8.2).
 *
 * In MQTT 3.1.1 the same string is an ordinary topic filter whose first level is `$share`;
 * `parseSubscriptionFilter` takes the protocol version to tell the two apart.
 */
import { ReasonCode } from './reason-codes';
import type { SharedSubscriptionParse, SubscriptionFilterParse, TopicLimits, TopicRule } from './topic-types';
import {
  effectiveMaxLength,
  effectiveMaxLevels,
  scanTopic,
  topicInvalid,
  validateTopicFilter,
} from './topic-validation';

/** Every shared subscription starts with this. */
export const SHARED_SUBSCRIPTION_PREFIX = '$share/';

const SUBJECT = 'shared subscription';

function reject(rule: TopicRule): SharedSubscriptionParse {
  return topicInvalid(rule, ReasonCode.TopicFilterInvalid, SUBJECT);
}

/** `true` when `filter` starts with `$share/`, i.e. is meant as a shared subscription in MQTT 5. */
export function isSharedSubscription(filter: string): boolean {
  return filter.startsWith(SHARED_SUBSCRIPTION_PREFIX);
}

/**
 * Takes a shared subscription apart into its share name and topic filter. The share name must be at least
 * one character with no `/`, `+`, `#` or U+0000; the filter after it must be a valid topic filter.
 * `limits.maxLength` applies to the whole string (it is one MQTT string on the wire), `limits.maxLevels`
 * to the filter after the share name. Never throws; a rejection carries reason code 0x8F.
 */
export function parseSharedSubscription(filter: string, limits?: TopicLimits): SharedSubscriptionParse {
  if (!isSharedSubscription(filter)) return reject('not-shared-subscription');
  const maxLength = effectiveMaxLength(limits);
  if (filter.length > maxLength) return reject('too-long');
  const groupStart = SHARED_SUBSCRIPTION_PREFIX.length;
  const groupEnd = filter.indexOf('/', groupStart);
  if (groupEnd === groupStart) return reject('empty-share-name');
  if (groupEnd === -1 || groupEnd + 1 === filter.length) return reject('missing-shared-filter');

  const groupBytes = scanTopic(filter, groupStart, groupEnd, false, 1);
  if (typeof groupBytes === 'string') {
    return reject(groupBytes === 'wildcard-in-topic-name' ? 'wildcard-in-share-name' : groupBytes);
  }
  const filterBytes = scanTopic(filter, groupEnd + 1, filter.length, true, effectiveMaxLevels(limits));
  if (typeof filterBytes === 'string') return reject(filterBytes);
  if (groupStart + groupBytes + 1 + filterBytes > maxLength) return reject('too-long');
  return { ok: true, group: filter.slice(groupStart, groupEnd), filter: filter.slice(groupEnd + 1) };
}

/**
 * Parses the topic filter of a SUBSCRIBE or UNSUBSCRIBE as the given protocol version means it:
 * with `protocolVersion` 5, `$share/<group>/<filter>` is a shared subscription and comes back as its
 * group and inner filter; with 3 or 4 (MQTT 3.1 / 3.1.1) every filter is ordinary and `group` is
 * `undefined`. Never throws; a rejection carries reason code 0x8F.
 */
export function parseSubscriptionFilter(
  filter: string,
  protocolVersion: 3 | 4 | 5,
  limits?: TopicLimits,
): SubscriptionFilterParse {
  if (protocolVersion === 5 && isSharedSubscription(filter)) return parseSharedSubscription(filter, limits);
  const validation = validateTopicFilter(filter, limits);
  return validation.ok ? { ok: true, filter, group: undefined } : validation;
}

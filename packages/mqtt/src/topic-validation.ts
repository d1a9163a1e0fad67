/**
 * Validation of topic names (PUBLISH) and topic filters (SUBSCRIBE, UNSUBSCRIBE) by the rules of
 * MQTT 3.1.1 section 4.7 and MQTT 5.0 section 4.7, plus the optional limits of `TopicLimits`.
 *
 * The `validate*` functions never throw and allocate nothing for a valid topic; they are meant for hot
 * paths. The `is*` functions are their boolean forms, and the `assert*` functions throw
 * `MqttProtocolError` with the reason code instead.
 */
import { MqttProtocolError } from './errors';
import { ReasonCode } from './reason-codes';
import type { TopicInvalid, TopicLimits, TopicReasonCode, TopicRule, TopicValidation } from './topic-types';

/** The longest topic the specification allows, in UTF-8 bytes (a two-byte length prefix). */
export const MQTT_MAX_TOPIC_LENGTH = 65_535;
/** The default `maxLevels`: deep enough for any sensible topic scheme, shallow enough to bound a tree. */
export const DEFAULT_MAX_TOPIC_LEVELS = 128;

/** The limits used where none are given: the specification's length and 128 levels. */
export const DEFAULT_TOPIC_LIMITS: Readonly<Required<TopicLimits>> = Object.freeze({
  maxLength: MQTT_MAX_TOPIC_LENGTH,
  maxLevels: DEFAULT_MAX_TOPIC_LEVELS,
});

const VALID: TopicValidation = Object.freeze({ ok: true });

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;

const REASONS: Readonly<Record<TopicRule, string>> = {
  empty: 'must be at least one character long',
  'too-long': 'is longer than the maximum length in UTF-8 bytes',
  'too-many-levels': 'has more than the maximum number of levels',
  'null-character': 'must not contain U+0000',
  'unpaired-surrogate': 'contains an unpaired UTF-16 surrogate, which is not encodable as UTF-8',
  'wildcard-in-topic-name': 'must not contain the wildcards + or #',
  'misplaced-single-level-wildcard': 'uses + other than as a whole level',
  'misplaced-multi-level-wildcard': 'uses # other than as the whole of the last level',
  'not-shared-subscription': 'is not a shared subscription ($share/<group>/<filter>)',
  'empty-share-name': 'has an empty share name',
  'wildcard-in-share-name': 'has + or # in its share name',
  'missing-shared-filter': 'has no topic filter after the share name',
};

/** Builds the rejection for `rule`; `subject` names what was checked ("topic name", "topic filter"). */
export function topicInvalid(rule: TopicRule, reasonCode: TopicReasonCode, subject: string): TopicInvalid {
  return { ok: false, rule, reason: `${subject} ${REASONS[rule]}`, reasonCode };
}

/** The effective maximum length: the configured one, never above what the specification allows. */
export function effectiveMaxLength(limits: TopicLimits | undefined): number {
  const max = limits?.maxLength ?? MQTT_MAX_TOPIC_LENGTH;
  return Math.min(max, MQTT_MAX_TOPIC_LENGTH);
}

/** The effective maximum number of levels. */
export function effectiveMaxLevels(limits: TopicLimits | undefined): number {
  return limits?.maxLevels ?? DEFAULT_MAX_TOPIC_LEVELS;
}

/**
 * Checks `limits` and fills in the defaults. Throws `RangeError` for a limit that is not a positive
 * integer (`maxLevels` may also be `Infinity`) or a `maxLength` above 65535; use it where limits come
 * from configuration.
 */
export function resolveTopicLimits(limits: TopicLimits = {}): Readonly<Required<TopicLimits>> {
  const maxLength = limits.maxLength ?? MQTT_MAX_TOPIC_LENGTH;
  const maxLevels = limits.maxLevels ?? DEFAULT_MAX_TOPIC_LEVELS;
  if (!Number.isInteger(maxLength) || maxLength < 1 || maxLength > MQTT_MAX_TOPIC_LENGTH) {
    throw new RangeError(
      `topic maxLength must be an integer from 1 to ${MQTT_MAX_TOPIC_LENGTH}, got ${maxLength}`,
    );
  }
  if (!(Number.isInteger(maxLevels) || maxLevels === Number.POSITIVE_INFINITY) || maxLevels < 1) {
    throw new RangeError(`topic maxLevels must be a positive integer or Infinity, got ${maxLevels}`);
  }
  return Object.freeze({ maxLength, maxLevels });
}

/**
 * Scans `text[from, to)` once. Returns the broken rule, or the UTF-8 byte length when every rule holds.
 * With `wildcards`, `+` and `#` are allowed where a filter may have them; otherwise they are rejected.
 * Length is not checked here; the callers compare the byte count with their limit.
 */
export function scanTopic(
  text: string,
  from: number,
  to: number,
  wildcards: boolean,
  maxLevels: number,
): TopicRule | number {
  let bytes = 0;
  let levels = 1;
  let levelStart = from;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c === SLASH) {
        levels += 1;
        if (levels > maxLevels) return 'too-many-levels';
        levelStart = i + 1;
      } else if (c === PLUS) {
        if (!wildcards) return 'wildcard-in-topic-name';
        if (i !== levelStart || (i + 1 < to && text.charCodeAt(i + 1) !== SLASH)) {
          return 'misplaced-single-level-wildcard';
        }
      } else if (c === HASH) {
        if (!wildcards) return 'wildcard-in-topic-name';
        if (i !== levelStart || i + 1 !== to) return 'misplaced-multi-level-wildcard';
      } else if (c === 0) {
        return 'null-character';
      }
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A high surrogate followed by a low one is one code point of four UTF-8 bytes; anything else
      // cannot be written as UTF-8 at all.
      const next = i + 1 < to ? text.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) return 'unpaired-surrogate';
      bytes += 4;
      i += 1;
    } else {
      bytes += 3;
    }
  }
  return bytes;
}

function validate(
  topic: string,
  wildcards: boolean,
  limits: TopicLimits | undefined,
  reasonCode: TopicReasonCode,
  subject: string,
): TopicValidation {
  if (topic.length === 0) return topicInvalid('empty', reasonCode, subject);
  const maxLength = effectiveMaxLength(limits);
  // Every UTF-16 code unit takes at least one UTF-8 byte, so this rejects oversize input before scanning it.
  if (topic.length > maxLength) return topicInvalid('too-long', reasonCode, subject);
  const scanned = scanTopic(topic, 0, topic.length, wildcards, effectiveMaxLevels(limits));
  if (typeof scanned === 'string') return topicInvalid(scanned, reasonCode, subject);
  if (scanned > maxLength) return topicInvalid('too-long', reasonCode, subject);
  return VALID;
}

/**
 * Validates a topic name, the topic of a PUBLISH: at least one character, no `+` or `#`, no U+0000,
 * encodable as UTF-8 within `limits.maxLength` bytes and `limits.maxLevels` levels. Give the topic after
 * any MQTT 5 topic alias has been resolved (an alias may leave the topic field itself empty).
 * A rejection carries reason code 0x90, Topic Name invalid.
 */
export function validateTopicName(topic: string, limits?: TopicLimits): TopicValidation {
  return validate(topic, false, limits, ReasonCode.TopicNameInvalid, 'topic name');
}

/**
 * Validates a topic filter: the rules of a topic name, except that `+` may be a whole level anywhere and
 * `#` may be the whole of the last level. `$share/…` is checked here as an ordinary filter (MQTT 3.1.1
 * meaning); use `parseSubscriptionFilter` for MQTT 5 shared subscriptions.
 * A rejection carries reason code 0x8F, Topic Filter invalid.
 */
export function validateTopicFilter(filter: string, limits?: TopicLimits): TopicValidation {
  return validate(filter, true, limits, ReasonCode.TopicFilterInvalid, 'topic filter');
}

/** `true` when `topic` is a valid topic name; see `validateTopicName`. */
export function isValidTopicName(topic: string, limits?: TopicLimits): boolean {
  return validateTopicName(topic, limits).ok;
}

/** `true` when `filter` is a valid topic filter; see `validateTopicFilter`. */
export function isValidTopicFilter(filter: string, limits?: TopicLimits): boolean {
  return validateTopicFilter(filter, limits).ok;
}

/** `true` when `filter` contains a wildcard level, so it can match more than one topic name. */
export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/** Shows at most the first 64 characters of a topic in an error message: topics may be 64 KiB long. */
function quote(topic: string): string {
  return topic.length > 64 ? `${JSON.stringify(topic.slice(0, 64))}...` : JSON.stringify(topic);
}

/** Throws the rejection as an `MqttProtocolError` carrying its reason code. */
export function throwTopicInvalid(invalid: TopicInvalid, topic: string): never {
  throw new MqttProtocolError(`${quote(topic)}: ${invalid.reason}`, invalid.reasonCode);
}

/**
 * Throws `MqttProtocolError` with reason code 0x90 (Topic Name invalid) unless `topic` is a valid topic
 * name; see `validateTopicName`.
 */
export function assertTopicName(topic: string, limits?: TopicLimits): void {
  const validation = validateTopicName(topic, limits);
  if (!validation.ok) throwTopicInvalid(validation, topic);
}

/**
 * Throws `MqttProtocolError` with reason code 0x8F (Topic Filter invalid) unless `filter` is a valid
 * topic filter; see `validateTopicFilter`.
 */
export function assertTopicFilter(filter: string, limits?: TopicLimits): void {
  const validation = validateTopicFilter(filter, limits);
  if (!validation.ok) throwTopicInvalid(validation, filter);
}

/**
 * Public types for topic names, topic filters and shared subscriptions.
 */
import type { ReasonCode } from './reason-codes';

/** The reason code that goes with a rejected topic name (0x90) or topic filter (0x8F). */
export type TopicReasonCode = typeof ReasonCode.TopicFilterInvalid | typeof ReasonCode.TopicNameInvalid;

/**
 * Limits a gateway may put on topics, below what the specification allows.
 * Omitted fields take the values of `DEFAULT_TOPIC_LIMITS`.
 */
export interface TopicLimits {
  /**
   * Maximum length in UTF-8 bytes. Default and ceiling: 65535, the most an MQTT string can hold;
   * a larger value is treated as 65535.
   */
  readonly maxLength?: number;
  /**
   * Maximum number of levels (one more than the number of `/`). Default 128. The specification has no
   * such limit; it bounds the depth of a `TopicTree` and the work one subscription can cost.
   * `Infinity` turns the check off.
   */
  readonly maxLevels?: number;
}

/** Which rule a topic name, topic filter or shared subscription broke. */
export type TopicRule =
  /** Zero characters; every topic name and filter has at least one. */
  | 'empty'
  /** Longer than `maxLength` UTF-8 bytes. */
  | 'too-long'
  /** More than `maxLevels` levels. */
  | 'too-many-levels'
  /** Contains U+0000. */
  | 'null-character'
  /** Contains a UTF-16 surrogate without its partner, which has no UTF-8 encoding. */
  | 'unpaired-surrogate'
  /** A topic name (PUBLISH) contains `+` or `#`. */
  | 'wildcard-in-topic-name'
  /** `+` is not the whole of its level. */
  | 'misplaced-single-level-wildcard'
  /** `#` is not the whole of the last level. */
  | 'misplaced-multi-level-wildcard'
  /** Does not start with `$share/`. */
  | 'not-shared-subscription'
  /** `$share//…`: the share name is empty. */
  | 'empty-share-name'
  /** The share name contains `+` or `#`. */
  | 'wildcard-in-share-name'
  /** `$share/<group>` or `$share/<group>/` with no topic filter after the share name. */
  | 'missing-shared-filter';

/** Why a topic name, topic filter or shared subscription was rejected. */
export interface TopicInvalid {
  readonly ok: false;
  /** The rule that was broken, for programs. */
  readonly rule: TopicRule;
  /** A sentence saying what is wrong, for people. */
  readonly reason: string;
  /** The MQTT 5 reason code to answer with: 0x90 for topic names, 0x8F for filters. */
  readonly reasonCode: TopicReasonCode;
}

/** The outcome of validating a topic name or filter. The valid outcome is a shared constant: no allocation. */
export type TopicValidation = { readonly ok: true } | TopicInvalid;

/** An MQTT 5 shared subscription, `$share/<group>/<filter>`, taken apart. */
export interface SharedSubscription {
  /** The share name: at least one character, no `/`, `+` or `#`. */
  readonly group: string;
  /** The topic filter that follows the share name. */
  readonly filter: string;
}

/** The outcome of parsing a shared subscription. */
export type SharedSubscriptionParse = ({ readonly ok: true } & SharedSubscription) | TopicInvalid;

/** A subscription's topic filter, with its share name when it is an MQTT 5 shared subscription. */
export interface SubscriptionFilter {
  /** The filter to match topics against (for a shared subscription, the part after the share name). */
  readonly filter: string;
  /** The share name of a shared subscription; `undefined` for an ordinary one. */
  readonly group: string | undefined;
}

/** The outcome of parsing the topic filter of a SUBSCRIBE or UNSUBSCRIBE. */
export type SubscriptionFilterParse = ({ readonly ok: true } & SubscriptionFilter) | TopicInvalid;

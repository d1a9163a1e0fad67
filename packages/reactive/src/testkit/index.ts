/**
 * `@dragoman/reactive/testkit`: Reactive Streams rule checks for any Publisher or Subscriber, usable from
 * any test runner (there is no JavaScript counterpart of the Reactive Streams TCK). Each check resolves
 * when the rule holds and throws a RuleViolation when it does not.
 */
export { ProbePublisher, ProbeSubscription } from './probe-publisher';
export { type ProbeBehaviour, ProbeSubscriber } from './probe-subscriber';
export { publisherRules } from './publisher-rules';
export { RuleViolation } from './rule-violation';
export { runRuleChecks } from './run';
export { subscriberRules } from './subscriber-rules';
export { eventLoopTurns } from './timing';
export type { KitTimings, PublisherFactory, RuleCheck, RuleResult, SubscriberFactory } from './types';

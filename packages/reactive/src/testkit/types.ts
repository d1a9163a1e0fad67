import type { Publisher } from '../types';

/** One rule check: run it under any test runner; it throws a RuleViolation when the rule is broken. */
export interface RuleCheck {
  /** The rule number, e.g. `§1.1`. */
  readonly rule: string;
  /** What is checked, in a few words. */
  readonly title: string;
  /** `${rule} ${title}`: a ready-made test name. */
  readonly name: string;
  /** Set when the rule is not checked for this factory: the reason. `run` then resolves at once. */
  readonly skipped: string | undefined;
  run(): Promise<void>;
}

/** The outcome of one check, from `runRuleChecks`. */
export interface RuleResult {
  readonly rule: string;
  readonly title: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  /** The violation, for a failed check; the skip reason, for a skipped one. */
  readonly detail: string | undefined;
}

/** How long the kit waits, shared by both kinds of verification. */
export interface KitTimings {
  /** Longest wait for a signal the rule requires (ms). Default 5 000. */
  readonly timeoutMs?: number;
  /**
   * Waits until the thing under test has had every chance to emit what it would emit now, before the kit
   * checks that something did NOT happen. Default: a few event-loop turns. A bridge to a network peer
   * passes a round trip to that peer. It only decides how long a late violation is watched for: a correct
   * implementation passes whatever it waits.
   */
  readonly quiesce?: () => Promise<void>;
}

/** What `publisherRules` needs: publishers of a given length (the TCK's PublisherVerification). */
export interface PublisherFactory<T> extends KitTimings {
  /**
   * A publisher that signals exactly `elements` elements when asked for them, then `onComplete`.
   * Each call may return a fresh publisher; the kit subscribes to it at most twice (§1.10).
   */
  createPublisher(elements: number): Publisher<T> | Promise<Publisher<T>>;
  /** A publisher that fails: signals `onSubscribe` then `onError`. Rules needing it are skipped without it. */
  createFailedPublisher?(): Publisher<T> | Promise<Publisher<T>>;
  /** The longest stream the factory can make (the §3.3 recursion check uses it). Default 256. */
  readonly maxElements?: number;
  /** Rules the publisher does not claim: rule number → reason. Those checks are reported as skipped. */
  readonly skip?: Readonly<Record<string, string>>;
}

/**
 * What `subscriberRules` needs (the TCK's blackbox SubscriberVerification): a way to attach a fresh
 * subscriber under test to the kit's probe publisher, and elements to feed it.
 */
export interface SubscriberFactory<T> extends KitTimings {
  /**
   * Attaches a fresh subscriber under test to `publisher` (call `publisher.subscribe(subscriber)`, directly
   * or through an adapter). Resolve when it is attached; the kit then drives it.
   */
  attach(publisher: Publisher<T>): void | Promise<void>;
  /** The i-th element to feed (0-based). */
  createElement(index: number): T;
  /** Rules the subscriber does not claim: rule number → reason. */
  readonly skip?: Readonly<Record<string, string>>;
}

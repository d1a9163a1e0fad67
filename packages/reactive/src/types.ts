/**
 * TypeScript counterparts of the Reactive Streams interfaces (reactive-streams.org, "Specification" §1–§3).
 * Rule numbers in comments refer to that specification.
 */

/** A demand-driven source of elements. Each `subscribe` starts one independent subscription. */
export interface Publisher<T> {
  /** Starts a subscription: `onSubscribe` is called before any other signal (§1.9). */
  subscribe(subscriber: Subscriber<T>): void;
}

/**
 * Receives the signals of one subscription, serially (§1.3): `onSubscribe` first, then at most as many
 * `onNext` as requested, then at most one of `onError` / `onComplete`.
 */
export interface Subscriber<T> {
  onSubscribe(subscription: Subscription): void;
  /**
   * One element. Must return normally (§2.13). It may return a promise: publishers that settle what they
   * deliver (receiverPublisher in automatic settlement) treat its fulfilment as the end of processing.
   */
  onNext(element: T): void | PromiseLike<void>;
  onError(error: Error): void;
  onComplete(): void;
}

/** The link between one Subscriber and its Publisher. */
export interface Subscription {
  /**
   * Adds `n` to the outstanding demand (§3.8). `n` must be a positive integer or `Infinity`; anything else
   * signals `onError` with a RangeError (§3.9). Demand saturates at `Number.MAX_SAFE_INTEGER`, which
   * means "unbounded" (§3.17). A no-op after cancel (§3.6).
   */
  request(n: number): void;
  /** Asks the publisher to stop signalling (§3.12). Idempotent (§3.5, §3.7). */
  cancel(): void;
}

/** A stage that is both a Subscriber (upstream) and a Publisher (downstream). */
export interface Processor<T, R> extends Subscriber<T>, Publisher<R> {}

/** Demand at or above this value means "unbounded" (§3.17; JavaScript's largest exact integer). */
export const UNBOUNDED: number = Number.MAX_SAFE_INTEGER;

/**
 * An element whose processing ends with settlement (an AMQP delivery). Adapters (`toObservable`,
 * `toAsyncIterable`) return its credit only when `settled` fulfils, so that credit follows the real pace of
 * processing.
 */
export interface Settleable {
  /** Fulfils once the element has been settled (never rejects). */
  readonly settled: PromiseLike<unknown>;
}

/** What a bounded buffer does when an element arrives and it is full. */
export type OverflowPolicy = 'error' | 'drop-newest' | 'drop-oldest';

/** Called when a subscriber breaks §2.13 (throws from a signal method). */
export type SubscriberErrorHandler = (error: unknown) => void;

import type {
  AmqpConnection,
  AmqpErrorCondition,
  AmqpMessage,
  ReceiverOptions,
  SenderOptions,
  SendResult,
  SourceOptions,
  TargetOptions,
} from '@dragoman/amqp';
import type { ReceivedMessage } from './received-message';
import type { RelayProcessor } from './relay';

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

// ---------------------------------------------------------------------------
// received messages
// ---------------------------------------------------------------------------

/** How a received message was settled by the application, or `lost` when its link went away first. */
export type Settlement = 'accepted' | 'rejected' | 'released' | 'modified' | 'lost';

// ---------------------------------------------------------------------------
// receiverPublisher
// ---------------------------------------------------------------------------

/** `auto`: accept once `onNext` returns (or the promise it returns fulfils). `manual`: the subscriber settles. */
export type SettlementPolicy = 'auto' | 'manual';

/** The outcome given in automatic settlement when `onNext` throws or its promise rejects. */
export type FailureOutcome = 'reject' | 'release' | 'modify';

export interface ReceiverPublisherOptions {
  /** Default `'auto'`. */
  readonly settlement?: SettlementPolicy;
  /**
   * Automatic settlement only: the outcome for a message whose processing failed. Default `'reject'` (with
   * the error's text as description); `'modify'` marks it delivery-failed so the peer may redeliver it.
   */
  readonly failureOutcome?: FailureOutcome;
  /**
   * Credit kept on the link while demand is unbounded (`request(Number.MAX_SAFE_INTEGER)` or more): the
   * link's credit plus the messages received and not yet settled stay within it, topped up once half is
   * used. Default 100. Bounded demand is granted as credit exactly (in instalments of at most 2^32 - 1,
   * the largest credit AMQP can express).
   */
  readonly creditWindow?: number;
  /** Further receiver-link options (name, settle-mode preset, source terminus fields, timeouts). */
  readonly link?: Omit<ReceiverOptions, 'source' | 'creditWindow'> & {
    readonly source?: Omit<SourceOptions, 'address'>;
  };
  /** Report for subscribers that throw from a signal method (§2.13). Default: a process warning. */
  readonly onSubscriberError?: SubscriberErrorHandler;
}

// ---------------------------------------------------------------------------
// senderSubscriber
// ---------------------------------------------------------------------------

/** The fate of one message given to a senderSubscriber: the peer's outcome, or why it has none. */
export type SendReport =
  | { readonly message: AmqpMessage; readonly result: SendResult; readonly error?: undefined }
  | { readonly message: AmqpMessage; readonly result?: undefined; readonly error: Error };

/** Running totals of a senderSubscriber. `sent` counts transfers; the others count outcomes. */
export interface SendCounts {
  readonly sent: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly released: number;
  readonly modified: number;
  /** Pre-settled (at-most-once) transfers: written, no outcome to wait for. */
  readonly settled: number;
  /** Messages that got no outcome: unencodable, or their link closed first. */
  readonly failed: number;
  /** Messages that arrived after the link was gone (§2.8) and were not sent (reported with an error). */
  readonly dropped: number;
}

/** How the stream ended for a senderSubscriber. */
export type SenderEnd =
  /** upstream completed, and the link closed cleanly after every outcome came back */
  | 'completed'
  /** upstream failed; the link closed with an error condition carrying the error's text */
  | 'errored'
  /** the peer detached the link (or the connection ended): upstream was cancelled */
  | 'detached'
  /** the link could not be attached: upstream was cancelled */
  | 'attach-failed';

export interface SenderSummary {
  readonly end: SenderEnd;
  /** Upstream's error, the peer's detach error, or the attach failure. */
  readonly error: Error | undefined;
  readonly counts: SendCounts;
}

export interface SenderSubscriberOptions {
  /** Called with the outcome of every message (in outcome order). */
  readonly onOutcome?: (report: SendReport) => void;
  /**
   * The condition the link is closed with on `onError`, unless the error carries an AMQP `condition` of
   * its own. Default `'amqp:internal-error'`.
   */
  readonly errorCondition?: AmqpErrorCondition;
  /** Further sender-link options (name, settle-mode preset, target terminus fields, timeouts). */
  readonly link?: Omit<SenderOptions, 'target' | 'maxQueued'> & {
    readonly target?: Omit<TargetOptions, 'address'>;
  };
}

// ---------------------------------------------------------------------------
// toObservable
// ---------------------------------------------------------------------------

export interface ToObservableOptions {
  /**
   * Elements requested ahead of consumption: the credit an AMQP receiver link holds. Default 16.
   * Credit returns one element at a time, when the element is done: a settleable element (a delivery)
   * when it is settled, any other element when `next` returns.
   */
  readonly prefetch?: number;
}

// ---------------------------------------------------------------------------
// toAsyncIterable
// ---------------------------------------------------------------------------

export interface ToAsyncIterableOptions {
  /**
   * Elements requested ahead of consumption (the credit an AMQP receiver holds). Default 16. The buffer
   * never holds more than this. Credit returns as for `toObservable`: a settleable element when settled,
   * any other element when it is handed to the consumer.
   */
  readonly prefetch?: number;
}

// ---------------------------------------------------------------------------
// fromObservable
// ---------------------------------------------------------------------------

export interface FromObservableOptions<T> {
  /**
   * Elements held while there is no demand. An Observable cannot be paused, so this is where a fast
   * source meets a slow link. Default 256.
   */
  readonly bufferSize?: number;
  /**
   * What happens when an element arrives and the buffer is full. Default `'error'`: unsubscribe from the
   * Observable and signal `onError(BufferOverflowError)`. `'drop-newest'` discards the arriving element,
   * `'drop-oldest'` discards the oldest buffered one; both report it through `onDrop`.
   */
  readonly overflow?: OverflowPolicy;
  /** Called with every element a drop policy discards. */
  readonly onDrop?: (element: T) => void;
  /** Report for subscribers that throw from a signal method (§2.13). Default: a process warning. */
  readonly onSubscriberError?: SubscriberErrorHandler;
}

// ---------------------------------------------------------------------------
// fromAsyncIterable
// ---------------------------------------------------------------------------

export interface FromAsyncIterableOptions {
  /** Report for subscribers that throw from a signal method (§2.13). Default: a process warning. */
  readonly onSubscriberError?: SubscriberErrorHandler;
}

// ---------------------------------------------------------------------------
// sinks
// ---------------------------------------------------------------------------

export interface SendObservableOptions extends SenderSubscriberOptions {
  /** The bounded buffer between the Observable and the link's credit, and what happens when it is full. */
  readonly buffer?: FromObservableOptions<AmqpMessage>;
}

// ---------------------------------------------------------------------------
// relay
// ---------------------------------------------------------------------------

export interface RelayOptions {
  /** Where to send; default: the source connection. */
  readonly targetConnection?: AmqpConnection;
  /** Builds the message to forward from the received one. Default: the message as received. */
  readonly transform?: (received: ReceivedMessage) => AmqpMessage;
  /** Receiver-side options; settlement is always manual (the relay settles with downstream's outcome). */
  readonly source?: Omit<ReceiverPublisherOptions, 'settlement' | 'failureOutcome'>;
  /** Sender-side options. */
  readonly target?: SenderSubscriberOptions;
}

export interface Relay {
  /** Fulfils when the relay stopped: how the sending side ended. */
  readonly done: Promise<SenderSummary>;
  /** The processor in the middle (for its `inFlight` count). */
  readonly processor: RelayProcessor;
}

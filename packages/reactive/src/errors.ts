/** `request(n)` with `n` not a positive integer (Reactive Streams §3.9). Signalled through `onError`. */
export class IllegalDemandError extends RangeError {
  override readonly name = 'IllegalDemandError';
  constructor(readonly requested: number) {
    super(`§3.9: request(n) needs a positive integer, got ${String(requested)}`);
  }
}

/** A bounded buffer with the `'error'` overflow policy received an element while full. */
export class BufferOverflowError extends Error {
  override readonly name = 'BufferOverflowError';
  constructor(readonly capacity: number) {
    super(`buffer overflow: more than ${capacity} elements waiting for demand`);
  }
}

/** The AMQP peer transferred more deliveries than the credit it was given. */
export class CreditExceededError extends Error {
  override readonly name = 'CreditExceededError';
  constructor(readonly address: string) {
    super(`peer sent a delivery on ${address} without credit (no outstanding demand)`);
  }
}

/**
 * A subscriber's signal method failed: it threw (a §2.13 breach: the subscription is cancelled), or the
 * promise its `onNext` returned rejected where nobody settles by it. Given to `onSubscriberError`.
 */
export class SubscriberViolationError extends Error {
  override readonly name = 'SubscriberViolationError';
  constructor(
    readonly signal: 'onSubscribe' | 'onNext' | 'onError' | 'onComplete',
    override readonly cause: unknown,
    readonly how: 'threw' | 'rejected' = 'threw',
  ) {
    const text = cause instanceof Error ? cause.message : String(cause);
    super(
      how === 'threw'
        ? `§2.13: subscriber threw from ${signal}: ${text}`
        : `the promise returned by ${signal} rejected: ${text}`,
    );
  }
}

/**
 * An element that reached an adapter's buffer but was never handed to the consumer (the iteration ended
 * first). An `onNext` promise rejected with it means "not processed": a delivery in automatic settlement
 * is released, not rejected.
 */
export class NotProcessedError extends Error {
  override readonly name = 'NotProcessedError';
  constructor() {
    super('the element was never handed to the consumer');
  }
}

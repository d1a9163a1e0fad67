import { NotProcessedError } from './errors';
import { Queue } from './queue';
import { whenDone } from './settleable';
import { requireArgument } from './to-error';
import { checkPrefetch, DEFAULT_PREFETCH } from './to-observable';
import type { Publisher, Subscriber, Subscription, ToAsyncIterableOptions } from './types';

/**
 * An AsyncIterable over a Publisher: `for await (const element of toAsyncIterable(publisher))`. Each
 * iteration subscribes once and pulls with credit. Leaving the loop (`break`, `return`, a throw) cancels.
 *
 * An element counts as processed when the consumer asks for the next one (or leaves the loop): the promise
 * returned from this adapter's `onNext` fulfils then, so a receiverPublisher in automatic settlement accepts
 * a delivery only after the loop body that handled it has finished. Elements still buffered when the loop
 * is left reject that promise with NotProcessedError (deliveries are released).
 */
export function toAsyncIterable<T>(
  publisher: Publisher<T>,
  options: ToAsyncIterableOptions = {},
): AsyncIterable<T> {
  const prefetch = checkPrefetch(options.prefetch ?? DEFAULT_PREFETCH);
  return {
    [Symbol.asyncIterator]: () => new PullIterator(publisher, prefetch),
  };
}

interface Buffered<T> {
  readonly element: T;
  readonly processed: Deferred;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: Error): void;
}

class PullIterator<T> implements AsyncIterator<T>, Subscriber<T> {
  private subscription: Subscription | undefined;
  private subscribed = false;
  /** At most `prefetch` elements: only requested elements arrive. */
  private readonly buffer = new Queue<Buffered<T>>();
  /** Pending `next()` calls, one per call the consumer has not seen answered. */
  private readonly waiters = new Queue<Waiter<T>>();
  private handedOut: Buffered<T> | undefined;
  private end: { readonly error: Error | undefined } | undefined;

  constructor(
    private readonly publisher: Publisher<T>,
    private readonly prefetch: number,
  ) {}

  next(): Promise<IteratorResult<T>> {
    this.finishHandedOut();
    if (!this.subscribed) {
      this.subscribed = true;
      this.publisher.subscribe(this);
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.settleWaiters();
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.finishHandedOut();
    this.stop();
    return Promise.resolve({ done: true, value: undefined });
  }

  onSubscribe(subscription: Subscription): void {
    requireArgument(subscription, '§2.13', 'subscription');
    if (this.subscription !== undefined || this.end !== undefined) {
      subscription.cancel(); // §2.5
      return;
    }
    this.subscription = subscription;
    subscription.request(this.prefetch);
  }

  onNext(element: T): Promise<void> {
    requireArgument(element, '§2.13', 'element');
    const processed = deferred();
    this.buffer.push({ element, processed });
    this.settleWaiters();
    return processed.promise;
  }

  onError(error: Error): void {
    requireArgument(error, '§2.13', 'error');
    this.end ??= { error };
    this.settleWaiters();
  }

  onComplete(): void {
    this.end ??= { error: undefined };
    this.settleWaiters();
  }

  private settleWaiters(): void {
    while (this.waiters.length > 0) {
      const item = this.buffer.shift();
      if (item !== undefined) {
        (this.waiters.shift() as Waiter<T>).resolve({ done: false, value: item.element });
        this.handOut(item);
        continue;
      }
      if (this.end === undefined) return;
      const waiter = this.waiters.shift() as Waiter<T>;
      if (this.end.error !== undefined) {
        const error = this.end.error;
        this.end = { error: undefined }; // the error is thrown once, then the iterator is done
        waiter.reject(error);
      } else {
        waiter.resolve({ done: true, value: undefined });
      }
    }
  }

  private handOut(item: Buffered<T>): void {
    this.finishHandedOut();
    this.handedOut = item;
    whenDone(item.element, () => {
      if (this.end === undefined) this.subscription?.request(1); // §2.4: nothing after the end
    });
  }

  private finishHandedOut(): void {
    this.handedOut?.processed.resolve();
    this.handedOut = undefined;
  }

  private stop(): void {
    this.end ??= { error: undefined };
    this.subscription?.cancel();
    for (const item of this.buffer.drainAll()) item.processed.reject(new NotProcessedError());
    this.settleWaiters();
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody awaits (a publisher that ignores onNext's result) must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

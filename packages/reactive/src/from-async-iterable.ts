import { Outlet } from './outlet';
import { requireArgument, toError } from './to-error';
import type { FromAsyncIterableOptions, Publisher, Subscriber } from './types';

/**
 * A Publisher that pulls from an (async) iterable only against demand: one `next()` per requested element,
 * never two at once, and nothing buffered (true pull back-pressure). Each subscription opens its own
 * iterator; a one-shot source (a generator object) therefore serves one subscriber. `cancel` calls the
 * iterator's `return()`; a throw from the iterator becomes `onError`; its end becomes `onComplete`.
 */
export function fromAsyncIterable<T>(
  source: AsyncIterable<T> | Iterable<T>,
  options: FromAsyncIterableOptions = {},
): Publisher<T> {
  return {
    subscribe(subscriber: Subscriber<T>): void {
      requireArgument(subscriber, '§1.9', 'subscriber');
      new IterableSubscription(source, subscriber, options).start();
    },
  };
}

class IterableSubscription<T> {
  private readonly outlet: Outlet<T>;
  private iterator: AsyncIterator<T> | Iterator<T> | undefined;
  private pulling = false;
  private ended = false;

  constructor(
    private readonly source: AsyncIterable<T> | Iterable<T>,
    subscriber: Subscriber<T>,
    options: FromAsyncIterableOptions,
  ) {
    this.outlet = new Outlet(
      subscriber,
      { onDemand: () => this.maybePull(), onCancel: () => this.close() },
      options.onSubscriberError,
    );
  }

  start(): void {
    this.outlet.start();
  }

  private maybePull(): void {
    if (this.pulling || this.ended || this.outlet.outstanding <= this.outlet.queued) return;
    this.pulling = true;
    void this.pullOne();
  }

  private async pullOne(): Promise<void> {
    try {
      this.iterator ??= openIterator(this.source);
      const result = await this.iterator.next();
      this.pulling = false;
      if (this.ended) return;
      if (result.done) {
        this.ended = true;
        this.outlet.finish();
      } else {
        this.outlet.push(result.value); // delivering re-enters maybePull through onDemand
      }
    } catch (error) {
      this.pulling = false;
      if (this.ended) return;
      this.ended = true;
      this.outlet.fail(toError(error));
    }
  }

  private close(): void {
    if (this.ended) return;
    this.ended = true;
    const iterator = this.iterator;
    if (iterator?.return === undefined) return;
    // The iterator's own clean-up failing is not the subscriber's business any more.
    Promise.resolve()
      .then(() => iterator.return?.())
      .catch(() => undefined);
  }
}

function openIterator<T>(source: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> | Iterator<T> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  return source[Symbol.iterator]();
}

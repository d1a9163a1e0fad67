import { type Observable, Subject, takeUntil } from 'rxjs';
import { BufferOverflowError } from './errors';
import { Outlet } from './outlet';
import { requireArgument, toError } from './to-error';
import type { FromObservableOptions, Publisher, Subscriber } from './types';

export const DEFAULT_BUFFER_SIZE = 256;

/**
 * A Publisher fed by an rxjs Observable through a bounded buffer with an explicit overflow policy. Each
 * subscription subscribes to the Observable once (cold); `cancel` unsubscribes. The Observable's error is
 * signalled at once, ahead of buffered elements; its completion after them.
 */
export function fromObservable<T>(
  source: Observable<T>,
  options: FromObservableOptions<T> = {},
): Publisher<T> {
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
  if (!Number.isInteger(bufferSize) || bufferSize < 0) {
    throw new RangeError(`bufferSize must be a non-negative integer, got ${String(bufferSize)}`);
  }
  const overflow = options.overflow ?? 'error';
  return {
    subscribe(subscriber: Subscriber<T>): void {
      requireArgument(subscriber, '§1.9', 'subscriber');
      const stop = new Subject<void>();
      const outlet: Outlet<T> = new Outlet(
        subscriber,
        { onDemand: () => undefined, onCancel: () => stop.next() },
        options.onSubscriberError,
      );
      outlet.start();
      if (!outlet.active) return;
      source.pipe(takeUntil(stop)).subscribe({
        next: (element) => {
          // Elements covered by demand are delivered at once; only the rest occupy the buffer.
          if (outlet.queued < outlet.outstanding + bufferSize) {
            outlet.push(element);
            return;
          }
          if (overflow === 'drop-newest' || (overflow === 'drop-oldest' && outlet.queued === 0)) {
            options.onDrop?.(element);
          } else if (overflow === 'drop-oldest') {
            const dropped = outlet.dropOldest();
            outlet.push(element);
            if (dropped !== undefined) options.onDrop?.(dropped);
          } else {
            stop.next();
            outlet.fail(new BufferOverflowError(bufferSize));
          }
        },
        error: (error: unknown) => outlet.fail(toError(error)),
        complete: () => outlet.finish(),
      });
    },
  };
}

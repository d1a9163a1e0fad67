import { Observable } from 'rxjs';
import { whenDone } from './settleable';
import { requireArgument } from './to-error';
import type { Publisher, Subscription, ToObservableOptions } from './types';

export const DEFAULT_PREFETCH = 16;

/**
 * An rxjs Observable over a Publisher. Each Observable subscription subscribes to the publisher, requests
 * `prefetch`, and requests one more each time an element is done. With deliveries in manual settlement,
 * settling at the end of an async `concatMap` / `mergeMap(…, n)` makes credit follow the real pace of
 * processing: at most `prefetch` deliveries are ever outstanding (sent and unsettled). Unsubscribing
 * cancels the subscription.
 */
export function toObservable<T>(publisher: Publisher<T>, options: ToObservableOptions = {}): Observable<T> {
  const prefetch = checkPrefetch(options.prefetch ?? DEFAULT_PREFETCH);
  return new Observable<T>((observer) => {
    let subscription: Subscription | undefined;
    let unsubscribed = false;
    let ended = false; // §2.4: after onComplete / onError the subscription counts as cancelled
    publisher.subscribe({
      onSubscribe(s) {
        requireArgument(s, '§2.13', 'subscription');
        if (subscription !== undefined || unsubscribed) {
          s.cancel(); // §2.5
          return;
        }
        subscription = s;
        s.request(prefetch);
      },
      onNext(element) {
        requireArgument(element, '§2.13', 'element');
        observer.next(element);
        whenDone(element, () => {
          if (!ended) subscription?.request(1);
        });
      },
      onError(error) {
        requireArgument(error, '§2.13', 'error');
        ended = true;
        observer.error(error);
      },
      onComplete() {
        ended = true;
        observer.complete();
      },
    });
    return () => {
      unsubscribed = true;
      if (!ended) subscription?.cancel();
    };
  });
}

export function checkPrefetch(prefetch: number): number {
  if (!Number.isInteger(prefetch) || prefetch <= 0) {
    throw new RangeError(`prefetch must be a positive integer, got ${String(prefetch)}`);
  }
  return prefetch;
}

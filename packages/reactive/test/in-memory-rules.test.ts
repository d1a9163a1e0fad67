import {
  fromAsyncIterable,
  fromObservable,
  NotProcessedError,
  type Publisher,
  SubscriberViolationError,
  toAsyncIterable,
  toObservable,
} from '@dragoman/reactive';
import {
  type PublisherFactory,
  publisherRules,
  type SubscriberFactory,
  subscriberRules,
} from '@dragoman/reactive/testkit';
import { defer, range, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { runChecks } from './support';

function countTo(n: number): AsyncIterable<number> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < n; i += 1) yield i;
    },
  };
}

const failingIterable: AsyncIterable<number> = {
  [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('source failed')) }),
};

describe('fromAsyncIterable satisfies the Publisher rules', () => {
  const factory: PublisherFactory<number> = {
    createPublisher: (n) => fromAsyncIterable(countTo(n)),
    createFailedPublisher: () => fromAsyncIterable(failingIterable),
    maxElements: 1_000,
  };
  runChecks(publisherRules(factory));
});

/** A synchronous iterable whose iterator throws at its first step. */
const failingSyncIterable: Iterable<number> = {
  [Symbol.iterator]: () => ({
    next: () => {
      throw new Error('source failed');
    },
  }),
};

describe('fromAsyncIterable over a synchronous iterable satisfies the Publisher rules', () => {
  runChecks(
    publisherRules<number>({
      createPublisher: (n) => fromAsyncIterable(Array.from({ length: n }, (_, i) => i)),
      createFailedPublisher: () => fromAsyncIterable(failingSyncIterable),
      maxElements: 1_000,
    }),
  );
});

describe('fromObservable satisfies the Publisher rules', () => {
  const factory: PublisherFactory<number> = {
    // range emits synchronously: the buffer must hold the whole stream until it is requested
    createPublisher: (n) => fromObservable(range(0, n), { bufferSize: n }),
    createFailedPublisher: () => fromObservable(throwError(() => new Error('source failed'))),
    maxElements: 1_000,
  };
  runChecks(publisherRules(factory));
});

function drain(publisher: Publisher<number>, how: 'observable' | 'iterable'): void {
  if (how === 'observable') {
    toObservable(publisher, { prefetch: 4 }).subscribe({ error: () => undefined });
    return;
  }
  void (async () => {
    for await (const _ of toAsyncIterable(publisher, { prefetch: 4 })) {
      // consume
    }
  })().catch(() => undefined);
}

describe('toObservable satisfies the Subscriber rules', () => {
  const factory: SubscriberFactory<number> = {
    attach: (publisher) => drain(publisher, 'observable'),
    createElement: (i) => i,
  };
  runChecks(subscriberRules(factory));
});

describe('toAsyncIterable satisfies the Subscriber rules', () => {
  const factory: SubscriberFactory<number> = {
    attach: (publisher) => drain(publisher, 'iterable'),
    createElement: (i) => i,
  };
  runChecks(subscriberRules(factory));
});

describe('the kit catches broken publishers', () => {
  it('flags a publisher that ignores demand (§1.1)', async () => {
    const eager: Publisher<number> = {
      subscribe(s) {
        s.onSubscribe({ request: () => undefined, cancel: () => undefined });
        for (let i = 0; i < 10; i += 1) s.onNext(i);
        s.onComplete();
      },
    };
    const check = publisherRules({ createPublisher: () => eager }).find((c) => c.rule === '§1.1');
    await expect(check?.run()).rejects.toThrow(/§1\.1/);
  });

  it('flags a publisher that recurses on request from onNext (§3.3)', async () => {
    const recursive = (n: number): Publisher<number> => ({
      subscribe(s) {
        let sent = 0;
        s.onSubscribe({
          request: () => {
            if (sent < n) s.onNext(sent++);
            else s.onComplete();
          },
          cancel: () => undefined,
        });
      },
    });
    const check = publisherRules({ createPublisher: recursive }).find((c) => c.rule === '§3.3');
    await expect(check?.run()).rejects.toThrow(/§1\.3|§3\.3/);
  });

  it('flags a subscriber that does not cancel a second subscription (§2.5)', async () => {
    const check = subscriberRules<number>({
      attach: (publisher) =>
        publisher.subscribe({
          onSubscribe: (s) => s.request(1),
          onNext: () => undefined,
          onError: () => undefined,
          onComplete: () => undefined,
        }),
      createElement: (i) => i,
      timeoutMs: 200,
    }).find((c) => c.rule === '§2.5');
    await expect(check?.run()).rejects.toThrow(/§2\.5/);
  });
});

describe('the kit catches more breaches', () => {
  const silent = {
    onSubscribe: () => undefined,
    onNext: () => undefined,
    onError: () => undefined,
    onComplete: () => undefined,
  };

  it('flags a signal after onComplete (§1.7)', async () => {
    const chatty: Publisher<number> = {
      subscribe(s) {
        s.onSubscribe({ request: () => undefined, cancel: () => undefined });
        s.onComplete();
        s.onComplete();
      },
    };
    const check = publisherRules({ createPublisher: () => chatty }).find((c) => c.rule === '§1.7');
    await expect(check?.run()).rejects.toThrow(/§1\.7/);
  });

  it('flags a publisher that ignores request(0) (§3.9)', async () => {
    const lenient = (n: number): Publisher<number> => fromAsyncIterable(countTo(n));
    const wrapped = (n: number): Publisher<number> => ({
      subscribe(s) {
        lenient(n).subscribe({
          ...s,
          onSubscribe: (inner) =>
            s.onSubscribe({
              request: (k) => (k > 0 ? inner.request(k) : undefined),
              cancel: () => inner.cancel(),
            }),
          onNext: (e) => s.onNext(e),
          onError: (e) => s.onError(e),
          onComplete: () => s.onComplete(),
        });
      },
    });
    const check = publisherRules({ createPublisher: wrapped, timeoutMs: 200 }).find((c) => c.rule === '§3.9');
    await expect(check?.run()).rejects.toThrow(/§3\.9/);
  });

  it('flags a subscriber that accepts a null element (§2.13)', async () => {
    const check = subscriberRules<number>({
      attach: (publisher) => publisher.subscribe({ ...silent, onSubscribe: (s) => s.request(1) }),
      createElement: (i) => i,
    }).find((c) => c.rule === '§2.13');
    await expect(check?.run()).rejects.toThrow(/§2\.13/);
  });

  it('flags a subscriber that requests from inside onComplete (§2.3)', async () => {
    let subscription: { request(n: number): void } | undefined;
    const check = subscriberRules<number>({
      attach: (publisher) =>
        publisher.subscribe({
          ...silent,
          onSubscribe: (s) => {
            subscription = s;
            s.request(1);
          },
          onNext: () => subscription?.request(1),
          onComplete: () => subscription?.request(1),
        }),
      createElement: (i) => i,
    }).find((c) => c.rule === '§2.3');
    await expect(check?.run()).rejects.toThrow(/§2\.3/);
  });
});

describe('adapters over deferred sources', () => {
  it('fromObservable subscribes to the source once per subscriber', async () => {
    let subscriptions = 0;
    const source = defer(() => {
      subscriptions += 1;
      return range(0, 3);
    });
    const publisher = fromObservable(source);
    const seen: number[] = [];
    for await (const n of toAsyncIterable(publisher)) seen.push(n);
    for await (const n of toAsyncIterable(publisher)) seen.push(n);
    expect(seen).toEqual([0, 1, 2, 0, 1, 2]);
    expect(subscriptions).toBe(2);
  });
});

describe('subscriber failures are reported, never thrown into the source', () => {
  it('a promise from onNext that rejects reaches onSubscriberError; the stream goes on', async () => {
    const reported: unknown[] = [];
    const done = new Promise<number[]>((resolve) => {
      const seen: number[] = [];
      fromAsyncIterable([1, 2, 3], { onSubscriberError: (error) => reported.push(error) }).subscribe({
        onSubscribe: (s) => s.request(10),
        onNext: async (n) => {
          seen.push(n);
          if (n === 2) throw new Error('async failure');
        },
        onError: () => undefined,
        onComplete: () => resolve(seen),
      });
    });
    expect(await done).toEqual([1, 2, 3]);
    await new Promise<void>((resolve) => setImmediate(resolve)); // let the rejection be observed
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(SubscriberViolationError);
    expect(reported[0]).toMatchObject({ signal: 'onNext', how: 'rejected' });
  });

  it('a throw from onNext cancels the subscription (§2.13) and is reported', async () => {
    const reported: unknown[] = [];
    let pulled = 0;
    const source = {
      *[Symbol.iterator]() {
        for (;;) {
          pulled += 1;
          yield pulled;
        }
      },
    };
    const publisher = fromAsyncIterable(source, { onSubscriberError: (error) => reported.push(error) });
    const signals: string[] = [];
    publisher.subscribe({
      onSubscribe: (s) => s.request(5),
      onNext: () => {
        signals.push('next');
        throw new Error('bug');
      },
      onError: () => signals.push('error'),
      onComplete: () => signals.push('complete'),
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(signals).toEqual(['next']); // cancelled at once: nothing more
    expect(pulled).toBe(1);
    expect(reported[0]).toMatchObject({ signal: 'onNext', how: 'threw' });
  });
});

describe('bounded buffers and their policies', () => {
  it('fromObservable drop-newest keeps the oldest within the bound and reports the rest', async () => {
    const dropped: number[] = [];
    const publisher = fromObservable(range(0, 10), {
      bufferSize: 3,
      overflow: 'drop-newest',
      onDrop: (n) => dropped.push(n),
    });
    const seen: number[] = [];
    for await (const n of toAsyncIterable(publisher, { prefetch: 1 })) seen.push(n);
    // range emits all ten at once: one is covered by the demand (prefetch 1), three fit in the buffer
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(dropped).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('fromObservable rejects a negative buffer size', () => {
    expect(() => fromObservable(range(0, 1), { bufferSize: -1 })).toThrow(RangeError);
  });

  it('toAsyncIterable: leaving the loop rejects the onNext promises of elements never handed out', async () => {
    const results: Promise<void>[] = [];
    const publisher: Publisher<number> = {
      subscribe(s) {
        s.onSubscribe({
          request: (n) => {
            for (let i = 0; i < n && results.length < 3; i += 1) {
              const returned = s.onNext(results.length);
              results.push(Promise.resolve(returned as Promise<void>));
            }
          },
          cancel: () => undefined,
        });
      },
    };
    for await (const n of toAsyncIterable(publisher, { prefetch: 3 })) {
      expect(n).toBe(0);
      break;
    }
    await expect(results[0]).resolves.toBeUndefined(); // handed out and finished
    await expect(results[1]).rejects.toBeInstanceOf(NotProcessedError);
    await expect(results[2]).rejects.toBeInstanceOf(NotProcessedError);
  });

  it('toObservable and toAsyncIterable reject a prefetch that is not a positive integer', () => {
    const empty = fromAsyncIterable<number>([]);
    expect(() => toObservable(empty, { prefetch: 0 })).toThrow(RangeError);
    expect(() => toAsyncIterable(empty, { prefetch: 1.5 })).toThrow(RangeError);
  });
});

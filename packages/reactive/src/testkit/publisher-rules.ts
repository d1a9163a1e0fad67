import type { Publisher } from '../types';
import { type ProbeBehaviour, ProbeSubscriber } from './probe-subscriber';
import { check } from './rule-violation';
import { resolveTimings } from './timing';
import type { PublisherFactory, RuleCheck } from './types';

const DEFAULT_MAX_ELEMENTS = 256;

interface Context<T> {
  readonly timeoutMs: number;
  readonly quiesce: () => Promise<void>;
  readonly maxElements: number;
  readonly hasFailedPublisher: boolean;
  publisher(elements: number): Promise<Publisher<T>>;
  failedPublisher(): Promise<Publisher<T>>;
  /** Subscribes a fresh probe; cancels it when the check ends. */
  subscribe(publisher: Publisher<T>, behaviour?: ProbeBehaviour): ProbeSubscriber<T>;
}

interface RuleSpec<T> {
  readonly rule: string;
  readonly title: string;
  readonly needsFailedPublisher?: boolean;
  readonly minElements?: number;
  run(context: Context<T>): Promise<void>;
}

/**
 * The Publisher rules (§1, and the §3 rules a Publisher's Subscription must keep), as checks to run under
 * any test runner. Each check subscribes probes to fresh publishers from the factory.
 */
export function publisherRules<T>(factory: PublisherFactory<T>): RuleCheck[] {
  const { timeoutMs, quiesce } = resolveTimings(factory);
  const maxElements = factory.maxElements ?? DEFAULT_MAX_ELEMENTS;
  return PUBLISHER_RULES.map((spec) => {
    const typed = spec as unknown as RuleSpec<T>;
    const skipped =
      factory.skip?.[spec.rule] ??
      (spec.needsFailedPublisher && factory.createFailedPublisher === undefined
        ? 'the factory has no createFailedPublisher'
        : undefined) ??
      ((spec.minElements ?? 0) > maxElements ? `needs ${spec.minElements} elements` : undefined);
    return {
      rule: spec.rule,
      title: spec.title,
      name: `${spec.rule} ${spec.title}`,
      skipped,
      run: async () => {
        if (skipped !== undefined) return;
        const probes: ProbeSubscriber<T>[] = [];
        const context: Context<T> = {
          timeoutMs,
          quiesce,
          maxElements,
          hasFailedPublisher: factory.createFailedPublisher !== undefined,
          publisher: async (elements) => factory.createPublisher(elements),
          failedPublisher: async () => {
            if (factory.createFailedPublisher === undefined) throw new Error('no createFailedPublisher');
            return factory.createFailedPublisher();
          },
          subscribe: (publisher, behaviour) => {
            const probe = new ProbeSubscriber<T>(timeoutMs, behaviour);
            probes.push(probe);
            publisher.subscribe(probe);
            return probe;
          },
        };
        try {
          await typed.run(context);
          for (const probe of probes) probe.assertClean();
        } finally {
          for (const probe of probes) if (!probe.terminated) probe.subscription?.cancel();
        }
      },
    };
  });
}

/** The rules never look inside elements: one table serves every element type. */
const PUBLISHER_RULES: readonly RuleSpec<unknown>[] = [
  {
    rule: '§1.1',
    title: 'never signals more onNext than requested',
    minElements: 10,
    async run(c) {
      const probe = c.subscribe(await c.publisher(10));
      (await probe.awaitSubscribed('§1.1')).request(3);
      await probe.awaitElements(3, '§1.1');
      await c.quiesce();
      probe.assertClean();
      const early = probe.elements.length;
      check(early === 3, '§1.1', `${early} onNext for 3 requested`);
      probe.request(8); // one beyond the end, for pull-based sources
      await probe.awaitTerminal('§1.1');
      check(probe.elements.length === 10, '§1.1', `expected 10 elements, got ${probe.elements.length}`);
    },
  },
  {
    rule: '§1.2',
    title: 'may signal fewer onNext than requested, then terminates',
    minElements: 3,
    async run(c) {
      const probe = c.subscribe(await c.publisher(3), { requestOnSubscribe: 10 });
      await probe.awaitTerminal('§1.2');
      check(probe.completed, '§1.2', `expected onComplete, got onError(${probe.error?.message})`);
      check(probe.elements.length === 3, '§1.2', `expected 3 elements, got ${probe.elements.length}`);
    },
  },
  {
    rule: '§1.3',
    title: 'signals are serial, never nested',
    minElements: 20,
    async run(c) {
      const probe = c.subscribe(await c.publisher(20), { requestOnSubscribe: 1, requestOnNext: 1 });
      await probe.awaitTerminal('§1.3');
      check(probe.maxDepth === 1, '§1.3', `signals nested ${probe.maxDepth} deep`);
    },
  },
  {
    rule: '§1.4',
    title: 'a failing publisher signals onError',
    needsFailedPublisher: true,
    async run(c) {
      const probe = c.subscribe(await c.failedPublisher(), { requestOnSubscribe: 1 });
      await probe.awaitTerminal('§1.4');
      check(probe.error instanceof Error, '§1.4', 'expected onError with an Error, got onComplete');
    },
  },
  {
    rule: '§1.5',
    title: 'a finite stream ends with onComplete',
    minElements: 5,
    async run(c) {
      // One more than the length: a pull-based source learns of its end only when asked for more.
      const probe = c.subscribe(await c.publisher(5), { requestOnSubscribe: 6 });
      await probe.awaitTerminal('§1.5');
      check(probe.completed, '§1.5', `expected onComplete, got onError(${probe.error?.message})`);
      const empty = c.subscribe(await c.publisher(0), { requestOnSubscribe: 1 });
      await empty.awaitTerminal('§1.5');
      check(empty.completed, '§1.5', 'an empty stream must complete');
    },
  },
  {
    rule: '§1.6',
    title: 'after a terminal signal the subscription is cancelled: request is a no-op',
    minElements: 2,
    async run(c) {
      const probe = c.subscribe(await c.publisher(2), { requestOnSubscribe: 3 });
      await probe.awaitTerminal('§1.6');
      probe.request(5);
      probe.subscription?.cancel();
      await c.quiesce();
      check(probe.elements.length === 2, '§1.6', 'signals followed a request after the terminal signal');
    },
  },
  {
    rule: '§1.7',
    title: 'no signal after onComplete or onError',
    minElements: 4,
    async run(c) {
      const probe = c.subscribe(await c.publisher(4), { requestOnSubscribe: 100 });
      await probe.awaitTerminal('§1.7');
      await c.quiesce();
      probe.assertClean(); // a late signal is recorded as a §1.7 breach
      if (!c.hasFailedPublisher) return;
      const failed = c.subscribe(await c.failedPublisher(), { requestOnSubscribe: 100 });
      await failed.awaitTerminal('§1.7');
      await c.quiesce();
      failed.assertClean();
    },
  },
  {
    rule: '§1.8',
    title: 'after cancel, signals stop',
    minElements: 20,
    async run(c) {
      const probe = c.subscribe(await c.publisher(20));
      (await probe.awaitSubscribed('§1.8')).request(2);
      await probe.awaitElements(2, '§1.8');
      probe.cancel();
      await c.quiesce();
      const seen = probe.lateSignals.length;
      probe.subscription?.request(10);
      await c.quiesce();
      check(probe.elements.length === 2, '§1.8', `${probe.elements.length - 2} onNext after cancel`);
      check(
        probe.lateSignals.length === seen,
        '§1.8',
        `signals after cancel: ${probe.lateSignals.join(', ')}`,
      );
    },
  },
  {
    rule: '§1.9',
    title: 'subscribe signals onSubscribe first, returns normally, rejects a null subscriber',
    minElements: 1,
    async run(c) {
      const publisher = await c.publisher(1);
      let thrown: unknown;
      try {
        publisher.subscribe(null as never);
      } catch (error) {
        thrown = error;
      }
      check(thrown instanceof TypeError, '§1.9', 'subscribe(null) must throw a TypeError');
      const probe = c.subscribe(publisher, { requestOnSubscribe: 2 });
      await probe.awaitTerminal('§1.9');
      check(probe.subscribeCount === 1, '§1.9', 'onSubscribe must come exactly once');
    },
  },
  {
    rule: '§1.10',
    title: 'subscribe may be called again with another subscriber',
    minElements: 3,
    async run(c) {
      const publisher = await c.publisher(3);
      const first = c.subscribe(publisher, { requestOnSubscribe: 4 });
      const second = c.subscribe(publisher, { requestOnSubscribe: 4 });
      await first.awaitTerminal('§1.10');
      await second.awaitTerminal('§1.10');
      check(first.subscribeCount === 1 && second.subscribeCount === 1, '§1.10', 'each gets one onSubscribe');
      check(first.completed && second.completed, '§1.10', 'both subscriptions must complete');
    },
  },
  {
    rule: '§3.2',
    title: 'request may be called synchronously from onSubscribe and onNext',
    minElements: 10,
    async run(c) {
      const probe = c.subscribe(await c.publisher(10), { requestOnSubscribe: 1, requestOnNext: 1 });
      await probe.awaitTerminal('§3.2');
      check(probe.completed && probe.elements.length === 10, '§3.2', 'all 10 elements, then onComplete');
    },
  },
  {
    rule: '§3.3',
    title: 'request inside onNext does not recurse without bound (trampoline)',
    minElements: 100,
    async run(c) {
      const elements = Math.min(c.maxElements, 10_000);
      const probe = c.subscribe(await c.publisher(elements), { requestOnSubscribe: 1, requestOnNext: 1 });
      await probe.awaitTerminal('§3.3');
      check(probe.maxDepth === 1, '§3.3', `onNext/request recursion ${probe.maxDepth} deep`);
      check(probe.elements.length === elements, '§3.3', `expected ${elements}, got ${probe.elements.length}`);
    },
  },
  {
    rule: '§3.5',
    title: 'cancel returns normally and is idempotent',
    minElements: 5,
    async run(c) {
      const probe = c.subscribe(await c.publisher(5));
      const subscription = await probe.awaitSubscribed('§3.5');
      probe.cancelled = true;
      for (let i = 0; i < 3; i += 1) subscription.cancel();
      await c.quiesce();
      check(probe.lateSignals.length === 0, '§3.5', `signals after cancel: ${probe.lateSignals.join(', ')}`);
    },
  },
  {
    rule: '§3.6',
    title: 'request after cancel is a no-op',
    minElements: 5,
    async run(c) {
      const probe = c.subscribe(await c.publisher(5));
      const subscription = await probe.awaitSubscribed('§3.6');
      probe.cancel();
      subscription.request(5);
      subscription.request(0); // must not even signal the §3.9 error
      await c.quiesce();
      check(probe.elements.length === 0, '§3.6', `${probe.elements.length} onNext after cancel`);
      check(probe.lateSignals.length === 0, '§3.6', `signals after cancel: ${probe.lateSignals.join(', ')}`);
    },
  },
  {
    rule: '§3.7',
    title: 'cancel after cancel is a no-op',
    minElements: 5,
    async run(c) {
      const probe = c.subscribe(await c.publisher(5));
      const subscription = await probe.awaitSubscribed('§3.7');
      subscription.request(1);
      await probe.awaitElements(1, '§3.7');
      probe.cancel();
      probe.cancel();
      await c.quiesce();
      probe.cancel();
      await c.quiesce();
      check(probe.lateSignals.length === 0, '§3.7', `signals after cancel: ${probe.lateSignals.join(', ')}`);
    },
  },
  {
    rule: '§3.9',
    title: 'request(n <= 0) signals onError with a RangeError',
    minElements: 5,
    async run(c) {
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        const probe = c.subscribe(await c.publisher(5));
        (await probe.awaitSubscribed('§3.9')).request(bad);
        await probe.awaitTerminal('§3.9');
        check(probe.error instanceof RangeError, '§3.9', `request(${bad}) must signal onError(RangeError)`);
      }
    },
  },
  {
    rule: '§3.17',
    title: 'demand up to Number.MAX_SAFE_INTEGER, accumulating without overflow, means unbounded',
    minElements: 20,
    async run(c) {
      const probe = c.subscribe(await c.publisher(20));
      const subscription = await probe.awaitSubscribed('§3.17');
      probe.request(Number.MAX_SAFE_INTEGER - 1);
      probe.request(Number.MAX_SAFE_INTEGER - 1);
      subscription.request(Number.MAX_SAFE_INTEGER);
      await probe.awaitTerminal('§3.17');
      check(probe.completed, '§3.17', `expected onComplete, got onError(${probe.error?.message})`);
      check(probe.elements.length === 20, '§3.17', `expected 20 elements, got ${probe.elements.length}`);
    },
  },
];

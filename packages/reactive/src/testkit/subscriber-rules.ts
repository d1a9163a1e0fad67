import type { Subscriber } from '../types';
import { ProbePublisher, type ProbeSubscription } from './probe-publisher';
import { check } from './rule-violation';
import { resolveTimings } from './timing';
import type { RuleCheck, SubscriberFactory } from './types';

interface Context<T> {
  readonly quiesce: () => Promise<void>;
  /** A fresh probe publisher with a fresh subscriber under test attached. */
  attach(): Promise<ProbePublisher<T>>;
  element(index: number): T;
}

interface RuleSpec<T> {
  readonly rule: string;
  readonly title: string;
  run(context: Context<T>): Promise<void>;
}

/**
 * The Subscriber rules (§2) a subscriber can be checked for from outside (the TCK's blackbox verification),
 * as checks to run under any test runner. The kit plays the publisher.
 */
export function subscriberRules<T>(factory: SubscriberFactory<T>): RuleCheck[] {
  const { timeoutMs, quiesce } = resolveTimings(factory);
  return SUBSCRIBER_RULES.map((spec) => {
    const typed = spec as unknown as RuleSpec<T>;
    const skipped = factory.skip?.[spec.rule];
    return {
      rule: spec.rule,
      title: spec.title,
      name: `${spec.rule} ${spec.title}`,
      skipped,
      run: async () => {
        if (skipped !== undefined) return;
        const probes: ProbePublisher<T>[] = [];
        await typed.run({
          quiesce,
          element: (index) => factory.createElement(index),
          attach: async () => {
            const probe = new ProbePublisher<T>(timeoutMs);
            probes.push(probe);
            await factory.attach(probe);
            return probe;
          },
        });
        for (const probe of probes) probe.assertClean();
      },
    };
  });
}

/** Feeds `count` elements, each only against demand the subscriber signalled. */
async function feed<T>(
  c: Context<T>,
  probe: ProbePublisher<T>,
  subscription: ProbeSubscription,
  count: number,
  rule: string,
): Promise<void> {
  const subscriber = probe.subscriber as Subscriber<T>;
  for (let sent = 0; sent < count; sent += 1) {
    await probe.awaitDemand(subscription, sent + 1, rule);
    subscriber.onNext(c.element(sent));
  }
}

function throwsTypeError(run: () => unknown): boolean {
  try {
    run();
    return false;
  } catch (error) {
    return error instanceof TypeError;
  }
}

/** The rules never look inside elements: one table serves every element type. */
const SUBSCRIBER_RULES: readonly RuleSpec<unknown>[] = [
  {
    rule: '§2.1',
    title: 'signals demand with request(n) and keeps consuming',
    async run(c) {
      const probe = await c.attach();
      const subscription = await probe.start('§2.1');
      await feed(c, probe, subscription, 10, '§2.1');
      await probe.awaitDemand(subscription, 11, '§2.1');
      probe.complete(subscription);
    },
  },
  {
    rule: '§2.3',
    title: 'calls no Subscription method from onComplete or onError',
    async run(c) {
      const completing = await c.attach();
      const first = await completing.start('§2.3');
      await feed(c, completing, first, 2, '§2.3');
      completing.complete(first);
      const failing = await c.attach();
      const second = await failing.start('§2.3');
      await feed(c, failing, second, 2, '§2.3');
      failing.error(second, new Error('probe failure'));
      await c.quiesce();
    },
  },
  {
    rule: '§2.4',
    title: 'considers the subscription cancelled after onComplete or onError',
    async run(c) {
      const probe = await c.attach();
      const subscription = await probe.start('§2.4');
      await feed(c, probe, subscription, 3, '§2.4');
      probe.complete(subscription);
      await c.quiesce(); // any request from here on is a §2.4 breach, recorded by the probe
      const failing = await c.attach();
      const second = await failing.start('§2.4');
      failing.error(second, new Error('probe failure'));
      await c.quiesce();
    },
  },
  {
    rule: '§2.5',
    title: 'cancels a second subscription while it has an active one',
    async run(c) {
      const probe = await c.attach();
      const active = await probe.start('§2.5');
      const extra = await probe.start('§2.5');
      await probe.awaitCancel(extra, '§2.5');
      await c.quiesce();
      check(!active.cancelled, '§2.5', 'the active subscription was cancelled instead of the new one');
      await feed(c, probe, active, 2, '§2.5');
      probe.complete(active);
    },
  },
  {
    rule: '§2.7',
    title: 'calls request and cancel serially',
    async run(c) {
      const probe = await c.attach();
      const subscription = await probe.start('§2.7');
      await feed(c, probe, subscription, 20, '§2.7');
      probe.complete(subscription);
      await c.quiesce(); // overlapping calls are recorded by the probe subscription
    },
  },
  {
    rule: '§2.9',
    title: 'accepts onComplete without a preceding request',
    async run(c) {
      const probe = await c.attach();
      const subscription = await probe.start('§2.9');
      probe.complete(subscription); // throws out of here if the subscriber does not return normally
      await c.quiesce();
    },
  },
  {
    rule: '§2.10',
    title: 'accepts onError without a preceding request',
    async run(c) {
      const probe = await c.attach();
      const subscription = await probe.start('§2.10');
      probe.error(subscription, new Error('probe failure'));
      await c.quiesce();
    },
  },
  {
    rule: '§2.13',
    title: 'signal methods return normally, and throw a TypeError for a null argument',
    async run(c) {
      const forSubscribe = await c.attach();
      const subscriber = await forSubscribe.awaitSubscriber('§2.13');
      check(
        throwsTypeError(() => subscriber.onSubscribe(null as never)),
        '§2.13',
        'onSubscribe(null) must throw a TypeError',
      );
      const forNext = await c.attach();
      const subscription = await forNext.start('§2.13');
      await forNext.awaitDemand(subscription, 1, '§2.13');
      const next = forNext.subscriber as Subscriber<unknown>;
      check(
        throwsTypeError(() => next.onNext(null)),
        '§2.13',
        'onNext(null) must throw a TypeError',
      );
      check(
        throwsTypeError(() => next.onError(null as never)),
        '§2.13',
        'onError(null) must throw a TypeError',
      );
      forNext.complete(subscription);
    },
  },
];

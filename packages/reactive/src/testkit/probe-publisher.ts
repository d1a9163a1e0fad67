import type { Publisher, Subscriber, Subscription } from '../types';
import { RuleViolation } from './rule-violation';
import { Waiters } from './timing';

/**
 * One subscription handed out by the probe publisher. It records the subscriber's calls and notices
 * breaches as they happen: overlapping calls (§2.7), calls from inside onComplete / onError (§2.3), calls
 * after a terminal signal (§2.4).
 */
export class ProbeSubscription implements Subscription {
  requested = 0;
  cancelled = false;
  readonly calls: string[] = [];
  private depth = 0;

  constructor(private readonly owner: ProbePublisher<unknown>) {}

  request(n: number): void {
    this.enter(`request(${n})`);
    try {
      if (Number.isInteger(n) && n > 0)
        this.requested = Math.min(this.requested + n, Number.MAX_SAFE_INTEGER);
      else this.owner.breach('§2.1', `request(${n}): demand must be a positive integer`);
    } finally {
      this.exit();
    }
  }

  cancel(): void {
    this.enter('cancel()');
    try {
      this.cancelled = true;
    } finally {
      this.exit();
    }
  }

  private enter(call: string): void {
    this.calls.push(call);
    this.depth += 1;
    if (this.depth > 1) this.owner.breach('§2.7', `${call} made while another Subscription call was running`);
    if (this.owner.inTerminalSignal) this.owner.breach('§2.3', `${call} made from inside onComplete/onError`);
    else if (this.owner.terminatedSubscription === this && call !== 'cancel()') {
      this.owner.breach('§2.4', `${call} made after onComplete/onError`);
    }
  }

  private exit(): void {
    this.depth -= 1;
    this.owner.waiters.notify();
  }
}

/** The kit's publisher: captures the subscriber under test and lets a check drive it signal by signal. */
export class ProbePublisher<T> implements Publisher<T> {
  subscriber: Subscriber<T> | undefined;
  inTerminalSignal = false;
  terminatedSubscription: ProbeSubscription | undefined;
  violation: RuleViolation | undefined;
  readonly waiters = new Waiters();

  constructor(private readonly timeoutMs: number) {}

  subscribe(subscriber: Subscriber<T>): void {
    if (this.subscriber !== undefined) this.breach('§2.12', 'the subscriber was subscribed twice');
    this.subscriber = subscriber;
    this.waiters.notify();
  }

  async awaitSubscriber(rule: string): Promise<Subscriber<T>> {
    await this.waiters.until(() => this.subscriber !== undefined, rule, 'subscribe()', this.timeoutMs);
    return this.subscriber as Subscriber<T>;
  }

  /** Signals onSubscribe with a fresh probe subscription. */
  async start(rule: string): Promise<ProbeSubscription> {
    const subscriber = await this.awaitSubscriber(rule);
    const subscription = new ProbeSubscription(this as ProbePublisher<unknown>);
    subscriber.onSubscribe(subscription);
    return subscription;
  }

  awaitDemand(subscription: ProbeSubscription, total: number, rule: string): Promise<void> {
    return this.waiters.until(
      () => subscription.requested >= total,
      rule,
      `demand for ${total} elements (have ${subscription.requested})`,
      this.timeoutMs,
    );
  }

  awaitCancel(subscription: ProbeSubscription, rule: string): Promise<void> {
    return this.waiters.until(() => subscription.cancelled, rule, 'cancel()', this.timeoutMs);
  }

  complete(subscription: ProbeSubscription): void {
    this.terminal(subscription, () => this.subscriber?.onComplete());
  }

  error(subscription: ProbeSubscription, error: Error): void {
    this.terminal(subscription, () => this.subscriber?.onError(error));
  }

  breach(rule: string, message: string): void {
    const violation = new RuleViolation(rule, message);
    this.violation ??= violation;
    this.waiters.abort(violation);
  }

  assertClean(): void {
    if (this.violation !== undefined) throw this.violation;
  }

  private terminal(subscription: ProbeSubscription, signal: () => void): void {
    this.inTerminalSignal = true;
    try {
      signal();
    } finally {
      this.inTerminalSignal = false;
      this.terminatedSubscription = subscription;
    }
  }
}

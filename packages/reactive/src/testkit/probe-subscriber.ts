import type { Subscriber, Subscription } from '../types';
import { RuleViolation } from './rule-violation';
import { Waiters } from './timing';

export interface ProbeBehaviour {
  /** Requested from inside onSubscribe (0: nothing). */
  readonly requestOnSubscribe?: number;
  /** Requested from inside each onNext (0: nothing). */
  readonly requestOnNext?: number;
}

/**
 * A subscriber that records every signal and notices rule breaches the moment they happen: more onNext
 * than requested (§1.1), overlapping signals (§1.3), signals after a terminal one (§1.7), a first signal
 * other than onSubscribe or a second onSubscribe (§1.9). The first breach fails every later wait.
 */
export class ProbeSubscriber<T> implements Subscriber<T> {
  readonly elements: T[] = [];
  /** The subscription, as a view that keeps `requested` up to date. */
  subscription: Subscription | undefined;
  private raw: Subscription | undefined;
  subscribeCount = 0;
  requested = 0;
  completed = false;
  error: Error | undefined;
  /** Signals seen after the terminal one (or after cancel, for §1.8 checks). */
  readonly lateSignals: string[] = [];
  /** Deepest nesting of signal methods seen: 1 means never re-entered (§1.3, §3.3). */
  maxDepth = 0;
  violation: RuleViolation | undefined;
  cancelled = false;
  private depth = 0;
  private readonly waiters = new Waiters();

  constructor(
    private readonly timeoutMs: number,
    private readonly behaviour: ProbeBehaviour = {},
  ) {}

  get terminated(): boolean {
    return this.completed || this.error !== undefined;
  }

  onSubscribe(subscription: Subscription): void {
    this.enter('onSubscribe');
    try {
      this.subscribeCount += 1;
      if (this.subscribeCount > 1) this.breach('§1.9', 'onSubscribe was signalled more than once');
      else if (this.elements.length > 0 || this.terminated) this.breach('§1.9', 'onSubscribe was not first');
      // Hand checks a counting view, so every request made through the probe is known to §1.1.
      this.raw = subscription;
      this.subscription = {
        request: (n) => this.request(n),
        cancel: () => this.cancel(),
      };
      if (this.behaviour.requestOnSubscribe) this.request(this.behaviour.requestOnSubscribe);
    } finally {
      this.exit();
    }
  }

  onNext(element: T): void {
    this.enter('onNext');
    try {
      if (this.subscribeCount === 0) this.breach('§1.9', 'onNext before onSubscribe');
      if (this.terminated) this.breach('§1.7', 'onNext after a terminal signal');
      if (this.cancelled) this.lateSignals.push('onNext');
      this.elements.push(element);
      if (this.elements.length > this.requested) {
        this.breach('§1.1', `onNext #${this.elements.length} with only ${this.requested} requested`);
      }
      if (this.behaviour.requestOnNext) this.request(this.behaviour.requestOnNext);
    } finally {
      this.exit();
    }
  }

  onError(error: Error): void {
    this.enter('onError');
    try {
      if (this.subscribeCount === 0) this.breach('§1.9', 'onError before onSubscribe');
      if (this.terminated) this.breach('§1.7', 'onError after a terminal signal');
      if (this.cancelled) this.lateSignals.push('onError');
      this.error = error;
    } finally {
      this.exit();
    }
  }

  onComplete(): void {
    this.enter('onComplete');
    try {
      if (this.subscribeCount === 0) this.breach('§1.9', 'onComplete before onSubscribe');
      if (this.terminated) this.breach('§1.7', 'onComplete after a terminal signal');
      if (this.cancelled) this.lateSignals.push('onComplete');
      this.completed = true;
    } finally {
      this.exit();
    }
  }

  request(n: number): void {
    if (Number.isInteger(n) && n > 0) this.requested = Math.min(this.requested + n, Number.MAX_SAFE_INTEGER);
    if (n === Number.POSITIVE_INFINITY) this.requested = Number.MAX_SAFE_INTEGER;
    this.raw?.request(n);
  }

  cancel(): void {
    this.cancelled = true;
    this.raw?.cancel();
  }

  async awaitSubscribed(rule: string): Promise<Subscription> {
    await this.waiters.until(() => this.subscription !== undefined, rule, 'onSubscribe', this.timeoutMs);
    return this.subscription as Subscription;
  }

  awaitElements(count: number, rule: string): Promise<void> {
    return this.waiters.until(
      () => this.elements.length >= count || this.terminated,
      rule,
      `${count} elements (have ${this.elements.length})`,
      this.timeoutMs,
    );
  }

  awaitTerminal(rule: string): Promise<void> {
    return this.waiters.until(() => this.terminated, rule, 'onComplete or onError', this.timeoutMs);
  }

  /** Throws the first breach seen, if any. */
  assertClean(): void {
    if (this.violation !== undefined) throw this.violation;
  }

  private breach(rule: string, message: string): void {
    const violation = new RuleViolation(rule, message);
    this.violation ??= violation;
    this.waiters.abort(violation);
  }

  private enter(signal: string): void {
    this.depth += 1;
    this.maxDepth = Math.max(this.maxDepth, this.depth);
    if (this.depth > 1) this.breach('§1.3', `${signal} signalled while another signal was being processed`);
  }

  private exit(): void {
    this.depth -= 1;
    this.waiters.notify();
  }
}

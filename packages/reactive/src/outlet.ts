import { addDemand, checkRequest, takeDemand, warnSubscriberError } from './demand';
import { IllegalDemandError, NotProcessedError, SubscriberViolationError } from './errors';
import { Queue } from './queue';
import type { Subscriber, SubscriberErrorHandler, Subscription } from './types';

/** What a publisher implementation learns from its outlet. */
export interface OutletHooks<T> {
  /** Called after each delivery pass while the subscription is live: pull more or grant credit now. */
  onDemand(): void;
  /** Called once when the subscriber cancels, breaks §2.13, or asks for illegal demand (§3.9). */
  onCancel(): void;
  /**
   * Called after `onNext(element)`: with what it returned, or with `threw` set when it threw (a §2.13
   * breach; the subscription is already cancelled then). Returns true when it took charge of a returned
   * promise; otherwise a rejection of that promise is reported to `onSubscriberError`.
   */
  afterNext?(element: T, returned: unknown, threw: boolean): boolean;
}

type State = 'active' | 'cancelled' | 'terminated';

/**
 * The subscriber-facing half of one subscription, shared by every publisher in this package.
 *
 * It keeps the rules in one place: elements wait in a queue and go out only against demand (§1.1); every
 * signal goes through one drain loop, so signals are serial (§1.3) and a `request` made inside `onNext`
 * re-runs the loop instead of recursing (§3.3); nothing follows a terminal signal (§1.7); `cancel` is
 * idempotent (§3.5, §3.7); bad demand becomes `onError(RangeError)` (§3.9); demand saturates (§3.17).
 *
 * The queue is unbounded here: each publisher bounds what it pushes (by credit, by its buffer size, or by
 * pulling only against demand).
 */
export class Outlet<T> implements Subscription {
  private state: State = 'active';
  private demand = 0;
  private readonly queue = new Queue<T>();
  /** Work-in-progress counter of the trampoline: > 0 while a pass runs, counts passes still owed. */
  private wip = 0;
  private pendingError: Error | undefined;
  private finishing = false;
  private started = false;

  constructor(
    private readonly subscriber: Subscriber<T>,
    private readonly hooks: OutletHooks<T>,
    private readonly onViolation: SubscriberErrorHandler = warnSubscriberError,
  ) {}

  /** Outstanding demand: requested and not yet delivered (UNBOUNDED once saturated). */
  get outstanding(): number {
    return this.demand;
  }

  /** Elements received from the source and not yet delivered. */
  get queued(): number {
    return this.queue.length;
  }

  /** True until cancelled or terminated. */
  get active(): boolean {
    return this.state === 'active';
  }

  /** Signals `onSubscribe` (§1.9), then flushes whatever was requested or pushed meanwhile. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.wip = 1;
    this.call('onSubscribe', () => this.subscriber.onSubscribe(this));
    this.loop();
  }

  request(n: number): void {
    if (this.state !== 'active') return; // §3.6
    const added = checkRequest(n);
    if (added instanceof IllegalDemandError) this.pendingError ??= added;
    else this.demand = addDemand(this.demand, added);
    this.schedule();
  }

  cancel(): void {
    if (this.state !== 'active') return; // §3.5, §3.7
    this.state = 'cancelled';
    this.hooks.onCancel();
  }

  /** Offers one element from the source; it is delivered when there is demand. */
  push(element: T): void {
    if (this.state !== 'active') return;
    this.queue.push(element);
    this.schedule();
  }

  /** Completes once every queued element has been delivered. */
  finish(): void {
    if (this.state !== 'active') return;
    this.finishing = true;
    this.schedule();
  }

  /** Signals `onError` at the next turn of the loop, ahead of queued elements. */
  fail(error: Error): void {
    if (this.state !== 'active') return;
    this.pendingError ??= error;
    this.schedule();
  }

  /** Removes the oldest undelivered element (for a drop-oldest overflow policy). */
  dropOldest(): T | undefined {
    return this.queue.shift();
  }

  /** Removes the elements that were never delivered (after the end, for the source to release them). */
  takeUndelivered(): T[] {
    return this.queue.drainAll();
  }

  private schedule(): void {
    if (!this.started) return; // start() runs the first pass
    if (this.wip++ > 0) return; // a pass is running: it will loop once more instead of recursing (§3.3)
    this.loop();
  }

  private loop(): void {
    do {
      this.pass();
      this.wip -= 1;
    } while (this.wip > 0);
  }

  private pass(): void {
    if (this.state !== 'active') return;
    if (this.pendingError !== undefined) {
      const error = this.pendingError;
      this.state = 'terminated';
      // §3.9: the subscription is over because of the subscriber: release the source as on cancel.
      if (error instanceof IllegalDemandError) this.hooks.onCancel();
      this.call('onError', () => this.subscriber.onError(error));
      return;
    }
    while (this.demand > 0 && this.queue.length > 0 && this.state === 'active') {
      const element = this.queue.shift() as T;
      this.demand = takeDemand(this.demand);
      this.deliver(element);
    }
    if (this.state !== 'active') return;
    if (this.finishing && this.queue.length === 0) {
      this.state = 'terminated';
      this.call('onComplete', () => this.subscriber.onComplete());
      return;
    }
    this.hooks.onDemand();
  }

  private deliver(element: T): void {
    let returned: unknown;
    let threw = false;
    this.call('onNext', () => {
      try {
        returned = this.subscriber.onNext(element);
      } catch (error) {
        threw = true;
        throw error;
      }
    });
    const handled = this.hooks.afterNext?.(element, returned, threw) === true;
    if (handled || threw || !isThenable(returned)) return;
    returned.then(undefined, (error: unknown) => {
      // An adapter's "never handed out" is not a failure.
      if (!(error instanceof NotProcessedError)) {
        this.onViolation(new SubscriberViolationError('onNext', error, 'rejected'));
      }
    });
  }

  /** Runs a signal method; a throw breaks §2.13: cancel and report it, never rethrow into the source. */
  private call(signal: SubscriberViolationError['signal'], run: () => void): void {
    try {
      run();
    } catch (error) {
      if (this.state === 'active') {
        this.state = 'cancelled';
        this.hooks.onCancel();
      }
      this.onViolation(new SubscriberViolationError(signal, error));
    }
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

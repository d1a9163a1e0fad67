import {
  type AmqpConnection,
  type AmqpMessage,
  LinkClosedError,
  type Sender,
  type SendResult,
} from '@dragoman/amqp';
import { NoCreditError, PublishTimeoutError } from './errors';
import type { PublishResult, Qos } from './types';

const SENT: PublishResult = Object.freeze({ state: 'sent' });

interface PublishRequest {
  readonly message: AmqpMessage;
  readonly creditTimeoutMs: number;
  readonly outcomeTimeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

/** One publish from the moment it is asked for until it resolves or rejects. */
class PendingPublish {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onAbort: (() => void) | undefined;
  #done = false;

  constructor(
    readonly request: PublishRequest,
    private readonly resolveFn: (result: PublishResult) => void,
    private readonly rejectFn: (error: unknown) => void,
  ) {}

  get done(): boolean {
    return this.#done;
  }

  /** Arms the credit wait: `onExpire` runs if the message is still unwritten when it ends. */
  waitForCredit(onExpire: () => void, onAbort: () => void): void {
    this.#timer = setTimeout(onExpire, this.request.creditTimeoutMs);
    const signal = this.request.signal;
    if (signal !== undefined) {
      this.#onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
  }

  /** When a written QoS 1 publish stops waiting for its outcome (a `Date.now()` timestamp). */
  deadline = 0;

  /** Written: the credit wait ends; QoS 1 waits for the outcome until `deadline` instead. */
  written(): void {
    this.#clear();
    this.deadline = Date.now() + this.request.outcomeTimeoutMs;
  }

  resolve(result: PublishResult): void {
    if (this.#done) return;
    this.#done = true;
    this.#clear();
    this.resolveFn(result);
  }

  reject(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#clear();
    this.rejectFn(error);
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort !== undefined) this.request.signal?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
  }
}

/**
 * A sender link to one address at one QoS, with its own bounded FIFO of publishes waiting for credit: each
 * waits at most its credit time-out (then `NoCreditError`, nothing sent), and a QoS 1 publish once written
 * waits at most its outcome time-out (then `PublishTimeoutError`, outcome unknown).
 */
export class PublishLink {
  readonly address: string;
  readonly qos: Qos;
  readonly #maxQueued: number;
  readonly #queue: PendingPublish[] = [];
  readonly #unsettled = new Set<PendingPublish>();
  readonly #onClosed: (link: PublishLink) => void;
  #sender: Sender | undefined;
  #closed = false;
  #closeError: Error | undefined;
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepAt = Number.POSITIVE_INFINITY;

  constructor(
    connection: AmqpConnection,
    address: string,
    qos: Qos,
    options: { maxQueued: number; onClosed: (link: PublishLink) => void },
  ) {
    this.address = address;
    this.qos = qos;
    this.#maxQueued = options.maxQueued;
    this.#onClosed = options.onClosed;
    connection
      .openSender({
        target: address,
        guarantee: qos === 0 ? 'at-most-once' : 'at-least-once',
        maxQueued: 0,
      })
      .then(
        (sender) => this.#attached(sender),
        // A refused or failed attach fails the waiting publishes with its own error (condition and all).
        (error: unknown) => this.#finish(error instanceof Error ? error : new Error(String(error))),
      );
  }

  /** Publishes waiting for credit. */
  get queued(): number {
    return this.#queue.length;
  }

  /** QoS 1 publishes written and waiting for their outcome. */
  get unsettled(): number {
    return this.#unsettled.size;
  }

  get idle(): boolean {
    return this.#queue.length === 0 && this.#unsettled.size === 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  publish(request: PublishRequest): Promise<PublishResult> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (request.signal?.aborted) return Promise.reject(request.signal.reason);
    if (this.#queue.length >= this.#maxQueued) {
      return Promise.reject(
        new NoCreditError(this.address, 'queue-full', `${this.#maxQueued} publishes already wait for credit`),
      );
    }
    return new Promise<PublishResult>((resolve, reject) => {
      const pending = new PendingPublish(request, resolve, reject);
      // Fast path: nothing waiting and credit at hand, so no credit timer is needed.
      if (this.#queue.length === 0 && this.#write(pending)) return;
      const withdraw = (error: unknown): void => {
        const at = this.#queue.indexOf(pending);
        if (at >= 0) this.#queue.splice(at, 1);
        pending.reject(error);
      };
      pending.waitForCredit(
        () =>
          withdraw(
            new NoCreditError(this.address, 'timeout', `none granted within ${request.creditTimeoutMs} ms`),
          ),
        () => withdraw(request.signal?.reason),
      );
      this.#queue.push(pending);
    });
  }

  /** Detaches; publishes waiting for credit or for their outcome fail with `LinkClosedError`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const sender = this.#sender;
    this.#finish(this.#linkClosed(undefined));
    await sender?.close();
  }

  #attached(sender: Sender): void {
    if (this.#closed) {
      void sender.close();
      return;
    }
    this.#sender = sender;
    sender.on('sendable', () => this.#pump());
    sender.on('close', (info) => this.#finish(this.#linkClosed(info.error)));
    if (sender.isClosed) this.#finish(this.#linkClosed(sender.closeInfo?.error));
    else this.#pump();
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#write(this.#queue[0] as PendingPublish)) this.#queue.shift();
  }

  /**
   * Writes `pending` if the link can take it now. True when it is dealt with: written, or failed because
   * the message cannot be encoded (only that publish fails); false when it has to wait for credit.
   */
  #write(pending: PendingPublish): boolean {
    const sender = this.#sender;
    if (sender === undefined || !sender.isOpen) return false;
    let written: boolean;
    try {
      written =
        this.qos === 0
          ? sender.trySend(pending.request.message)
          : sender.trySend(pending.request.message, (error, result) => this.#outcome(pending, error, result));
    } catch (error) {
      pending.reject(error);
      return true;
    }
    if (!written) return false;
    if (this.qos === 0) {
      pending.resolve(SENT);
    } else {
      pending.written();
      this.#unsettled.add(pending);
      // A publish with a shorter time-out than the one armed for moves the sweep earlier.
      if (pending.deadline < this.#sweepAt) this.#armSweep(pending.deadline);
    }
    return true;
  }

  /**
   * One timer per link for the outcome time-outs (not one per message): it fires at the earliest deadline
   * of the publishes then unsettled, fails the expired ones and re-arms for the earliest of the rest.
   */
  #armSweep(deadline: number): void {
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepAt = deadline;
    this.#sweepTimer = setTimeout(() => this.#sweep(), Math.max(0, deadline - Date.now()));
    this.#sweepTimer.unref?.();
  }

  #sweep(): void {
    this.#sweepTimer = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const pending of this.#unsettled) {
      if (pending.deadline <= now) {
        this.#unsettled.delete(pending);
        pending.reject(new PublishTimeoutError(this.address, pending.request.outcomeTimeoutMs));
      } else if (pending.deadline < next) {
        next = pending.deadline;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#armSweep(next);
  }

  #outcome(pending: PendingPublish, error: Error | undefined, result: SendResult | undefined): void {
    this.#unsettled.delete(pending);
    if (error !== undefined) pending.reject(error);
    else pending.resolve(result ?? SENT);
  }

  #linkClosed(cause: Error | undefined): LinkClosedError {
    return new LinkClosedError(this.#sender?.name ?? this.address, undefined, { cause });
  }

  #finish(failure: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = failure;
    for (const pending of this.#queue.splice(0)) pending.reject(failure);
    for (const pending of this.#unsettled) pending.reject(failure);
    this.#unsettled.clear();
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    this.#onClosed(this);
  }

  #closedError(): Error {
    return this.#closeError ?? this.#linkClosed(undefined);
  }
}

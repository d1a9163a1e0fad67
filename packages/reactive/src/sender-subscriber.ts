import {
  type AmqpConnection,
  type AmqpMessage,
  type CloseInfo,
  LinkClosedError,
  type Sender,
  type SendResult,
} from '@dragoman/amqp';
import { requireArgument, toError } from './to-error';
import type { SendCounts, SenderSubscriberOptions, SenderSummary, Subscriber, Subscription } from './types';

type State = 'idle' | 'attaching' | 'open' | 'completing' | 'closing' | 'closed';

/**
 * An AMQP sender link as a Subscriber of messages (spec/reactive-amqp.md): it attaches on `onSubscribe`,
 * requests from upstream exactly the credit the peer grants (never more: what it requested and has not
 * received never exceeds the peer's credit), sends each `onNext` as one transfer, closes the link cleanly
 * on `onComplete` once every outstanding delivery has its outcome, closes it with an error condition on
 * `onError`, and cancels upstream when the peer detaches.
 */
export class SenderSubscriber implements Subscriber<AmqpMessage> {
  /** Fulfils once the link is closed, with how the stream ended. Never rejects. */
  readonly done: Promise<SenderSummary>;
  readonly #connection: AmqpConnection;
  readonly #address: string;
  readonly #options: SenderSubscriberOptions;
  readonly #counts = {
    sent: 0,
    accepted: 0,
    rejected: 0,
    released: 0,
    modified: 0,
    settled: 0,
    failed: 0,
    dropped: 0,
  };
  #state: State = 'idle';
  #upstream: Subscription | undefined;
  #sender: Sender | undefined;
  /** Requested from upstream and not received yet. */
  #pending = 0;
  /** Transfers whose outcome has not come back. */
  #inflight = 0;
  /** Set once upstream signalled its end (§2.4: no Subscription call after it). */
  #upstreamEnd: { readonly error: Error | undefined } | undefined;
  #resolveDone: (summary: SenderSummary) => void = () => undefined;

  constructor(connection: AmqpConnection, address: string, options: SenderSubscriberOptions = {}) {
    this.#connection = connection;
    this.#address = address;
    this.#options = options;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** Totals so far. */
  get counts(): SendCounts {
    return { ...this.#counts };
  }

  /** The link, once attached. */
  get sender(): Sender | undefined {
    return this.#sender;
  }

  onSubscribe(subscription: Subscription): void {
    requireArgument(subscription, '§2.13', 'subscription');
    if (this.#upstream !== undefined || this.#state !== 'idle') {
      subscription.cancel(); // §2.5
      return;
    }
    this.#upstream = subscription;
    this.#state = 'attaching';
    void this.#attach();
  }

  onNext(message: AmqpMessage): void {
    requireArgument(message, '§2.13', 'message');
    if (this.#pending > 0) this.#pending -= 1;
    const sender = this.#sender;
    if (sender === undefined || (this.#state !== 'open' && this.#state !== 'completing')) {
      // §2.8: after we cancelled, stragglers are expected. Report them, so nobody waits for an outcome.
      this.#counts.dropped += 1;
      const error = new LinkClosedError(sender?.name ?? this.#address, 'not sent: the link is closed');
      this.#options.onOutcome?.({ message, error });
      return;
    }
    this.#counts.sent += 1;
    this.#inflight += 1;
    const report = (error: Error | undefined, result: SendResult | undefined): void =>
      this.#onOutcome(message, error, result);
    try {
      if (!sender.trySend(message, report)) {
        // No credit right now (the peer took it back, e.g. by a drain): the sender queues it, bounded by
        // what we requested, which never exceeded the credit it had granted.
        sender.send(message).then(
          (result) => report(undefined, result),
          (error: unknown) => report(toError(error), undefined),
        );
      }
    } catch (error) {
      report(toError(error), undefined); // unencodable: §2.13 wants onNext to return normally
    }
  }

  onError(error: Error): void {
    requireArgument(error, '§2.13', 'error');
    if (this.#upstreamEnd !== undefined) return;
    this.#upstreamEnd = { error };
    if (this.#state === 'open' || this.#state === 'completing') void this.#closeLink();
  }

  onComplete(): void {
    if (this.#upstreamEnd !== undefined) return;
    this.#upstreamEnd = { error: undefined };
    if (this.#state === 'open') {
      this.#state = 'completing';
      this.#closeWhenSettled();
    }
  }

  async #attach(): Promise<void> {
    let sender: Sender;
    try {
      sender = await this.#connection.openSender({
        ...this.#options.link,
        target: { ...this.#options.link?.target, address: this.#address },
      });
    } catch (error) {
      this.#state = 'closed';
      this.#cancelUpstream();
      this.#resolveDone({ end: 'attach-failed', error: toError(error), counts: this.counts });
      return;
    }
    this.#sender = sender;
    sender.on('sendable', () => this.#requestCredit());
    sender.on('close', (info) => this.#onClose(info));
    this.#state = 'open';
    if (sender.isClosed) {
      // The peer detached in the same breath as it attached, before the listener above existed.
      this.#onClose(sender.closeInfo ?? { remote: true, error: undefined });
      return;
    }
    const end = this.#upstreamEnd;
    if (end === undefined) this.#requestCredit();
    else if (end.error !== undefined) void this.#closeLink();
    else {
      this.#state = 'completing';
      this.#closeWhenSettled();
    }
  }

  /** Requests what the peer's credit allows beyond what is already requested or queued. */
  #requestCredit(): void {
    const sender = this.#sender;
    if (sender === undefined || this.#state !== 'open' || this.#upstreamEnd !== undefined) return;
    const want = sender.credit - sender.queued - this.#pending;
    if (want <= 0) return;
    this.#pending += want;
    this.#upstream?.request(want);
  }

  #onOutcome(message: AmqpMessage, error: Error | undefined, result: SendResult | undefined): void {
    this.#inflight -= 1;
    if (result !== undefined) {
      const state = result.state === 'sent' ? 'settled' : result.state;
      this.#counts[state] += 1;
      this.#options.onOutcome?.({ message, result });
    } else {
      this.#counts.failed += 1;
      this.#options.onOutcome?.({ message, error: error ?? new Error('no outcome') });
    }
    if (this.#state === 'completing') this.#closeWhenSettled();
  }

  #closeWhenSettled(): void {
    if (this.#inflight === 0 && (this.#sender?.queued ?? 0) === 0) void this.#closeLink();
  }

  async #closeLink(): Promise<void> {
    const sender = this.#sender;
    if (sender === undefined || this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    const error = this.#upstreamEnd?.error;
    if (error === undefined) {
      await sender.close();
    } else {
      const own = (error as { condition?: unknown }).condition;
      const condition =
        typeof own === 'string' ? own : (this.#options.errorCondition ?? 'amqp:internal-error');
      await sender.close({ condition, description: error.message });
    }
    this.#finish();
  }

  #onClose(info: CloseInfo): void {
    if (this.#state === 'closing' || this.#state === 'closed') return; // our own close: #closeLink finishes
    this.#state = 'closed';
    this.#cancelUpstream();
    this.#resolveDone({ end: 'detached', error: info.error, counts: this.counts });
  }

  #finish(): void {
    this.#state = 'closed';
    const error = this.#upstreamEnd?.error;
    this.#resolveDone({ end: error === undefined ? 'completed' : 'errored', error, counts: this.counts });
  }

  #cancelUpstream(): void {
    if (this.#upstreamEnd === undefined) this.#upstream?.cancel();
  }
}

/** An AMQP sender link to `address` as a Subscriber of messages. */
export function senderSubscriber(
  connection: AmqpConnection,
  address: string,
  options: SenderSubscriberOptions = {},
): SenderSubscriber {
  return new SenderSubscriber(connection, address, options);
}

import { type AmqpConnection, ConnectionClosedError, type Delivery, type Receiver } from '@dragoman/amqp';
import { watchDisconnects } from './disconnect-watch';
import { CreditExceededError, NotProcessedError } from './errors';
import { isThenable, Outlet } from './outlet';
import { ReceivedMessage } from './received-message';
import { requireArgument, toError } from './to-error';
import { type Publisher, type ReceiverPublisherOptions, type Subscriber, UNBOUNDED } from './types';

export const DEFAULT_UNBOUNDED_CREDIT_WINDOW = 100;

/** AMQP link credit is a uint: larger bounded demand is granted in instalments of at most this. */
export const MAX_LINK_CREDIT = 0xffff_ffff;

/**
 * An AMQP receiver link as a Publisher of received messages (spec/reactive-amqp.md). Every `subscribe`
 * attaches its own receiver link to `address`: `onSubscribe` once the peer's attach arrives, `request(n)`
 * adds n link credit, each transfer is one `onNext`, `cancel` detaches; the peer detaching is `onComplete`,
 * or `onError` when it detaches with an error condition, when the connection fails, or when the attach is
 * refused (then `onSubscribe` comes first, as §1.9 requires).
 */
export function receiverPublisher(
  connection: AmqpConnection,
  address: string,
  options: ReceiverPublisherOptions = {},
): Publisher<ReceivedMessage> {
  const window = options.creditWindow ?? DEFAULT_UNBOUNDED_CREDIT_WINDOW;
  if (!Number.isInteger(window) || window <= 0) {
    throw new RangeError(`creditWindow must be a positive integer, got ${String(window)}`);
  }
  return {
    subscribe(subscriber: Subscriber<ReceivedMessage>): void {
      requireArgument(subscriber, '§1.9', 'subscriber');
      void new ReceiverSubscription(connection, address, options, window, subscriber).open();
    },
  };
}

class ReceiverSubscription {
  private readonly outlet: Outlet<ReceivedMessage>;
  private receiver: Receiver | undefined;
  /** Messages received and not settled yet (counted against the unbounded window). */
  private readonly unsettled = new Set<ReceivedMessage>();
  private stopWatching: () => void = () => undefined;
  private readonly auto: boolean;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly address: string,
    private readonly options: ReceiverPublisherOptions,
    private readonly window: number,
    subscriber: Subscriber<ReceivedMessage>,
  ) {
    this.auto = (options.settlement ?? 'auto') === 'auto';
    this.outlet = new Outlet(
      subscriber,
      {
        onDemand: () => this.grantCredit(),
        onCancel: () => this.detach(),
        afterNext: (received, returned, threw) => this.afterNext(received, returned, threw),
      },
      options.onSubscriberError,
    );
  }

  async open(): Promise<void> {
    let receiver: Receiver;
    try {
      receiver = await this.connection.openReceiver({
        ...this.options.link,
        source: { ...this.options.link?.source, address: this.address },
        creditWindow: 0,
      });
    } catch (error) {
      // §1.9: onSubscribe comes before any other signal, even for a refused attach.
      this.outlet.start();
      this.outlet.fail(toError(error));
      return;
    }
    this.receiver = receiver;
    receiver.on('delivery', (delivery) => this.onDelivery(delivery));
    receiver.on('close', (info) => this.onClose(info.error));
    // A reconnect loses the link instance: what it delivered can no longer be settled (the peer redelivers).
    this.stopWatching = watchDisconnects(this.connection, () => this.loseUnsettled());
    this.outlet.start();
    // The peer may have detached in the same breath as it attached, before the listeners above existed.
    if (receiver.isClosed) this.onClose(receiver.closeInfo?.error);
  }

  private onDelivery(delivery: Delivery): void {
    if (!this.outlet.active) return; // arrived after cancel: the detach settles it for the peer
    const received = new ReceivedMessage(delivery, (settled) => this.onSettled(settled));
    if (received.outcome === undefined) this.unsettled.add(received);
    if (this.outlet.outstanding < UNBOUNDED && this.outlet.queued >= this.outlet.outstanding) {
      // More transfers than credit: the peer broke the flow-control contract (§1.1 must hold anyway).
      this.outlet.fail(new CreditExceededError(this.address));
      void this.receiver?.close({
        condition: 'amqp:link:transfer-limit-exceeded',
        description: 'transfer without link credit',
      });
      return;
    }
    this.outlet.push(received);
  }

  /** Tops the peer's credit up to what the subscriber asked for, and never beyond. */
  private grantCredit(): void {
    const receiver = this.receiver;
    if (receiver === undefined || !receiver.isOpen || !this.outlet.active) return;
    const credit = receiver.credit;
    let add: number;
    if (this.outlet.outstanding >= UNBOUNDED) {
      // Unbounded demand: a window of credit plus unsettled messages, refilled once half is used.
      const room = this.window - credit - this.outlet.queued - this.unsettled.size;
      add = room >= Math.ceil(this.window / 2) || (credit === 0 && room > 0) ? room : 0;
    } else {
      add = Math.min(this.outlet.outstanding - this.outlet.queued, MAX_LINK_CREDIT) - credit;
    }
    if (add > 0) receiver.addCredit(add);
  }

  /** Automatic settlement; returns true when it took charge of the promise `onNext` returned. */
  private afterNext(received: ReceivedMessage, returned: unknown, threw: boolean): boolean {
    if (!this.auto) return false;
    if (threw) {
      this.settleFailed(received, undefined);
      return true;
    }
    if (isThenable(returned)) {
      returned.then(
        () => this.settle(received, () => received.accept()),
        (error: unknown) =>
          error instanceof NotProcessedError
            ? this.settle(received, () => received.release())
            : this.settleFailed(received, error),
      );
    } else {
      this.settle(received, () => received.accept());
    }
    return true;
  }

  private settleFailed(received: ReceivedMessage, error: unknown): void {
    const outcome = this.options.failureOutcome ?? 'reject';
    this.settle(received, () => {
      if (outcome === 'release') received.release();
      else if (outcome === 'modify') received.modify({ deliveryFailed: true });
      else {
        const description = error === undefined ? 'processing failed' : toError(error).message;
        received.reject({ condition: 'amqp:internal-error', description });
      }
    });
  }

  /** Automatic settlement: skips messages already settled by hand or whose link is gone. */
  private settle(received: ReceivedMessage, outcome: () => void): void {
    if (received.outcome !== undefined) return;
    if (!received.settleable) {
      received.lose();
      return;
    }
    outcome();
  }

  private onSettled(received: ReceivedMessage): void {
    this.unsettled.delete(received);
    if (this.outlet.outstanding >= UNBOUNDED) this.grantCredit();
  }

  private onClose(error: Error | undefined): void {
    this.stopWatching();
    // Messages not yet settled cannot be settled any more: the peer redelivers them.
    for (const received of this.outlet.takeUndelivered()) received.lose();
    this.loseUnsettled();
    if (error !== undefined) this.outlet.fail(error);
    else if (!this.connection.isOpen) this.outlet.fail(new ConnectionClosedError('connection closed'));
    else this.outlet.finish();
  }

  /** Marks messages whose link instance is gone as lost, so that credit accounting moves on. */
  private loseUnsettled(): void {
    for (const received of [...this.unsettled]) if (!received.delivery.settleable) received.lose();
  }

  private detach(): void {
    const receiver = this.receiver;
    if (receiver === undefined) return;
    this.stopWatching();
    // Undelivered messages are left unsettled: the detach hands them back to the peer.
    for (const received of this.outlet.takeUndelivered()) received.lose();
    // Detach on the next turn, so that settlements made in the same turn as the cancel (a loop body that
    // finished, then `break`) still reach the peer first.
    setImmediate(() => {
      void receiver.close().catch(() => undefined);
    });
  }
}

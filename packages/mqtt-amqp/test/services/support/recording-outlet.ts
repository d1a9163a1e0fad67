import type { AmqpMessage } from '@dragoman/amqp';
import type { Outlet, OutletOutcome, PendingDelivery } from '../../../src/index';

/**
 * An outlet with settable credit that records what was sent; the test gives the outcomes. A delivery is
 * read back from the "message" `encode` makes; a PUBREL request (built by the service) is kept as it is.
 */
export class RecordingOutlet implements Outlet {
  credit = 0;
  readonly sent: Array<{
    delivery: PendingDelivery;
    /** A PUBREL request, as the service built it. */
    request?: AmqpMessage;
    /** The message as handed to the link (message-id set by the service). */
    message: AmqpMessage;
    settle: OutletOutcome;
  }> = [];
  readonly #waiters: Array<() => void> = [];

  send(message: AmqpMessage, onOutcome: OutletOutcome): void {
    this.credit -= 1;
    const delivery = (message as unknown as { delivery?: PendingDelivery }).delivery;
    this.sent.push(
      delivery !== undefined
        ? { delivery, message, settle: onOutcome }
        : { delivery: undefined as unknown as PendingDelivery, request: message, message, settle: onOutcome },
    );
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves once `n` sends happened in total. */
  async until(n: number): Promise<void> {
    while (this.sent.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

import type { AmqpError, AmqpErrorInit, AmqpMessage, Delivery, ModifyFlags } from '@dragoman/amqp';
import type { Settleable, Settlement } from './types';

/**
 * One element of a receiverPublisher: an AMQP message with its settlement. Settle it exactly once (in
 * manual settlement; the publisher does it in automatic settlement). A second settlement, or settling after
 * the link is gone, throws the `DeliveryStateError` of `@dragoman/amqp`.
 */
export class ReceivedMessage implements Settleable {
  readonly message: AmqpMessage;
  /** The underlying delivery (tag, format, pre-settled flag). */
  readonly delivery: Delivery;
  #outcome: Settlement | undefined;
  /** Made on first use only: a relay never asks, and a promise per message is not free. */
  #settled: Promise<Settlement> | undefined;
  #resolve: ((settlement: Settlement) => void) | undefined;
  readonly #onSettled: (received: ReceivedMessage) => void;

  /** @internal Built by receiverPublisher. */
  constructor(delivery: Delivery, onSettled: (received: ReceivedMessage) => void) {
    this.delivery = delivery;
    this.message = delivery.message;
    this.#onSettled = onSettled;
    // A delivery the sender pre-settled (at-most-once) needs no outcome.
    if (delivery.presettled) this.#done('accepted');
  }

  /** Fulfils with how the message was settled; never rejects. Adapters return credit when it fulfils. */
  get settled(): Promise<Settlement> {
    if (this.#settled === undefined) {
      const outcome = this.#outcome;
      this.#settled =
        outcome !== undefined
          ? Promise.resolve(outcome)
          : new Promise((resolve) => {
              this.#resolve = resolve;
            });
    }
    return this.#settled;
  }

  /** The settlement given so far, if any. */
  get outcome(): Settlement | undefined {
    return this.#outcome;
  }

  /** True while an outcome can still be given. */
  get settleable(): boolean {
    return this.#outcome === undefined && this.delivery.settleable;
  }

  accept(): void {
    this.delivery.accept();
    this.#done('accepted');
  }

  reject(error?: AmqpErrorInit | AmqpError): void {
    this.delivery.reject(error);
    this.#done('rejected');
  }

  release(): void {
    this.delivery.release();
    this.#done('released');
  }

  modify(flags?: ModifyFlags): void {
    this.delivery.modify(flags);
    this.#done('modified');
  }

  /** @internal The link went away before the application settled: the peer redelivers the message. */
  lose(): void {
    this.#done('lost');
  }

  #done(settlement: Settlement): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = settlement;
    this.#resolve?.(settlement);
    this.#onSettled(this);
  }
}

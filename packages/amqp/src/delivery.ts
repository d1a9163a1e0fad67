import type { AmqpError } from './errors';
import { DeliveryStateError } from './errors';
import { toRheaError } from './internal/convert';
import type { RheaDelivery } from './internal/rhea-types';
import type { AmqpMessage } from './message';
import type { AmqpErrorInit, ModifyFlags } from './types';

/** @internal What a Delivery asks of the receiver it came from. */
export interface DeliveryOwner {
  /** The receiver's link generation now; a delivery from an older generation can no longer be settled. */
  readonly generation: number;
  readonly linkName: string;
  /** Called once the delivery is settled locally (credit accounting). */
  onSettled(delivery: Delivery): void;
  /** Called just before an outcome is handed to rhea. */
  beforeOutcome(accepted: boolean): void;
}

type DeliveryState = 'unsettled' | 'awaiting-settlement' | 'settled';

/**
 * A message received on a Receiver, with its settlement. Settle it exactly once with `accept()`,
 * `reject(error)`, `release()` or `modify(flags)`. With receiver settle mode `second` (exactly-once) the
 * outcome is sent unsettled and the delivery settles when the sender settles (`whenSettled()`).
 *
 * Deliveries the sender pre-settled (at-most-once) are already settled: the settlement methods do nothing.
 * Settling twice, or settling a delivery whose link has since been lost (closed, or re-attached after a
 * reconnect: the peer redelivers it), throws `DeliveryStateError`; `settleable` tells beforehand.
 */
export class Delivery {
  readonly message: AmqpMessage;
  /** The sender's delivery tag. */
  readonly tag: Buffer;
  /** The message format (0 for a standard AMQP message). */
  readonly format: number;
  /** True when the sender sent it pre-settled (at-most-once). */
  readonly presettled: boolean;
  readonly #rhea: RheaDelivery;
  readonly #owner: DeliveryOwner;
  readonly #generation: number;
  readonly #secondStep: boolean;
  #state: DeliveryState;
  #settledWaiters: Array<() => void> | undefined;

  /** @internal */
  constructor(message: AmqpMessage, rheaDelivery: RheaDelivery, owner: DeliveryOwner, secondStep: boolean) {
    this.message = message;
    const tag = rheaDelivery.tag;
    this.tag = typeof tag === 'string' ? Buffer.from(tag) : tag;
    this.format = rheaDelivery.format;
    this.presettled = rheaDelivery.remote_settled === true;
    this.#rhea = rheaDelivery;
    this.#owner = owner;
    this.#generation = owner.generation;
    this.#secondStep = secondStep && !this.presettled;
    this.#state = this.presettled ? 'settled' : 'unsettled';
  }

  /** True once settled (for exactly-once: once the sender has settled too). */
  get settled(): boolean {
    return this.#state === 'settled';
  }

  /** True when an outcome can still be given. */
  get settleable(): boolean {
    return this.#state === 'unsettled' && this.#owner.generation === this.#generation;
  }

  accept(): void {
    if (this.#begin()) {
      this.#owner.beforeOutcome(true);
      this.#rhea.accept();
    }
    this.#afterOutcome();
  }

  reject(error?: AmqpErrorInit | AmqpError): void {
    if (this.#begin()) {
      this.#owner.beforeOutcome(false);
      this.#rhea.reject(toRheaError(error) as Parameters<RheaDelivery['reject']>[0]);
    }
    this.#afterOutcome();
  }

  release(): void {
    if (this.#begin()) {
      this.#owner.beforeOutcome(false);
      this.#rhea.release();
    }
    this.#afterOutcome();
  }

  modify(flags: ModifyFlags = {}): void {
    if (this.#begin()) {
      this.#owner.beforeOutcome(false);
      this.#rhea.modified({
        delivery_failed: flags.deliveryFailed === true,
        undeliverable_here: flags.undeliverableHere === true,
        ...(flags.messageAnnotations !== undefined ? { message_annotations: flags.messageAnnotations } : {}),
      } as Parameters<RheaDelivery['modified']>[0]);
    }
    this.#afterOutcome();
  }

  /** Resolves when the delivery is settled; for exactly-once that is when the sender settled after our outcome. */
  whenSettled(): Promise<void> {
    if (this.#state === 'settled') return Promise.resolve();
    return new Promise((resolve) => {
      this.#settledWaiters ??= [];
      this.#settledWaiters.push(resolve);
    });
  }

  /** @internal The sender settled (second step of exactly-once). */
  onRemoteSettled(): void {
    if (this.#state === 'awaiting-settlement') this.#markSettled();
  }

  #begin(): boolean {
    if (this.presettled) return false;
    if (this.#state !== 'unsettled') {
      throw new DeliveryStateError(`delivery on link '${this.#owner.linkName}' is already settled`);
    }
    if (this.#owner.generation !== this.#generation) {
      throw new DeliveryStateError(
        `delivery on link '${this.#owner.linkName}' arrived on a link instance that is gone (closed or re-attached); the peer redelivers it`,
      );
    }
    return true;
  }

  #afterOutcome(): void {
    if (this.presettled) return;
    if (this.#secondStep && !this.#rhea.remote_settled) {
      this.#state = 'awaiting-settlement';
    } else {
      this.#markSettled();
    }
    this.#owner.onSettled(this);
  }

  #markSettled(): void {
    this.#state = 'settled';
    const waiters = this.#settledWaiters;
    this.#settledWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w();
  }
}

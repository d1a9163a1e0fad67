import type { AmqpError } from './errors';
import { DeliveryStateError } from './errors';
import { toRheaError } from './internal/convert';
import { rhea } from './internal/rhea';
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
 * The accepted outcome as rhea writes it in a disposition, built once: rhea's `delivery.accept()` builds a new
 * one for every delivery, and rhea only reads it (to write it, and to batch consecutive dispositions).
 */
const ACCEPTED_STATE: unknown = (rhea.message as unknown as { accepted(): { described(): unknown } })
  .accepted()
  .described();

interface RheaDeliveryUpdate {
  /** `settled` undefined: as the link's receiver settle mode says (what rhea's accept() passes). */
  update(settled: boolean | undefined, state: unknown): void;
}

/**
 * A message received on a Receiver, with its settlement. Settle it exactly once with `accept()`,
 * `reject(error)`, `release()` or `modify(flags)`. With receiver settle mode `second` (exactly-once) the
 * outcome is sent unsettled and the delivery settles when the sender settles (`whenSettled()`).
 *
 * Deliveries the sender pre-settled (at-most-once) are already settled, and a delivery whose link has since
 * gone (closed, or re-attached after a reconnect: the peer redelivers it) can no longer be settled: for both
 * the settlement methods do nothing and return false (`settleable` tells beforehand). Settling twice is a
 * programming error and throws `DeliveryStateError`.
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
  #settledWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> | undefined;

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

  /** Accepts. Returns false (and does nothing) when pre-settled or when its link is gone. */
  accept(): boolean {
    if (!this.#begin()) return false;
    this.#owner.beforeOutcome(true);
    (this.#rhea as unknown as RheaDeliveryUpdate).update(undefined, ACCEPTED_STATE);
    this.#afterOutcome();
    return true;
  }

  /** Rejects, with an error for the sender. Returns false (and does nothing) when pre-settled or its link is gone. */
  reject(error?: AmqpErrorInit | AmqpError): boolean {
    if (!this.#begin()) return false;
    this.#owner.beforeOutcome(false);
    this.#rhea.reject(toRheaError(error) as Parameters<RheaDelivery['reject']>[0]);
    this.#afterOutcome();
    return true;
  }

  /** Releases (the sender may deliver it again). Returns false when pre-settled or its link is gone. */
  release(): boolean {
    if (!this.#begin()) return false;
    this.#owner.beforeOutcome(false);
    this.#rhea.release();
    this.#afterOutcome();
    return true;
  }

  /** Settles as modified, with its flags. Returns false when pre-settled or its link is gone. */
  modify(flags: ModifyFlags = {}): boolean {
    if (!this.#begin()) return false;
    this.#owner.beforeOutcome(false);
    this.#rhea.modified({
      delivery_failed: flags.deliveryFailed === true,
      undeliverable_here: flags.undeliverableHere === true,
      ...(flags.messageAnnotations !== undefined ? { message_annotations: flags.messageAnnotations } : {}),
    } as Parameters<RheaDelivery['modified']>[0]);
    this.#afterOutcome();
    return true;
  }

  /**
   * Resolves when the delivery is settled; for exactly-once that is when the sender settled after our outcome.
   * Rejects with `DeliveryStateError` if its link goes away first.
   */
  whenSettled(): Promise<void> {
    if (this.#state === 'settled') return Promise.resolve();
    if (this.#owner.generation !== this.#generation) {
      return Promise.reject(
        new DeliveryStateError(`delivery on link '${this.#owner.linkName}' can no longer settle`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#settledWaiters ??= [];
      this.#settledWaiters.push({ resolve, reject });
    });
  }

  /** @internal Its link instance is gone (closed, or re-attached after a reconnect). */
  onLinkLost(): void {
    const waiters = this.#settledWaiters;
    this.#settledWaiters = undefined;
    if (waiters === undefined) return;
    const error = new DeliveryStateError(`delivery on link '${this.#owner.linkName}' can no longer settle`);
    for (const w of waiters) w.reject(error);
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
    // Its link instance is gone (closed, or re-attached after a reconnect): the peer redelivers it.
    return this.#owner.generation === this.#generation;
  }

  #afterOutcome(): void {
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
    if (waiters !== undefined) for (const w of waiters) w.resolve();
  }
}

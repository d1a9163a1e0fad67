import { EventEmitter } from 'node:events';
import { CreditWindow } from './credit-window';
import { Delivery, type DeliveryOwner } from './delivery';
import type { AmqpError, SessionError } from './errors';
import {
  ConnectionClosedError,
  InvalidArgumentError,
  LinkClosedError,
  LinkError,
  TimeoutError,
} from './errors';
import { linkErrorFrom, toRheaError } from './internal/convert';
import { Deque } from './internal/deque';
import { MESSAGE_SIZE_EXCEEDED_EVENT } from './internal/lean-deliveries';
import {
  DEFAULT_ATTACH_TIMEOUT_MS,
  DEFAULT_CLOSE_TIMEOUT_MS,
  type LinkHost,
  type ManagedLink,
  REFUSAL_GRACE_MS,
} from './internal/link-host';
import { isAbsent, linkInfoFromAttach } from './internal/link-options';
import { useFastListenerTable } from './internal/listener-tables';
import { HAND_OFF_FORMAT } from './internal/message-hand-off';
import { RAW_STANDARD_FORMAT } from './internal/raw-transfers';
import { ignoreRheaEvent } from './internal/rhea-logging';
import type { RheaConnection, RheaDelivery, RheaEventContext, RheaReceiver } from './internal/rhea-types';
import { type AmqpMessage, decodeMessage, fromRhea, type RheaMessage } from './message';
import { hasCapability, withCapability } from './sender';
import {
  type AmqpErrorInit,
  type CloseInfo,
  type LinkInfo,
  type ReceiverEvents,
  SETTLEMENT_CONFIRMATION_CAPABILITY,
  type SettleModes,
} from './types';

export const DEFAULT_CREDIT_WINDOW = 100;
export { DEFAULT_MAX_MESSAGE_SIZE } from './internal/link-options';

const ACCEPTED_DESCRIPTOR = 0x24;

const OURS = Symbol('dragoman.delivery');
type TrackedDelivery = RheaDelivery & { [OURS]?: Delivery | undefined };
/** On a rhea link while a Receiver is bound to it: its listeners are shared by every receiver and find it here. */
const BOUND = Symbol('dragoman.receiver');
type BoundLink = RheaReceiver & { [BOUND]?: Receiver | undefined };

/** The Receiver bound to a rhea link, if any. */
function boundTo(link: RheaReceiver | undefined): Receiver | undefined {
  return (link as BoundLink | undefined)?.[BOUND];
}

/** For the events a link must not pass on to its connection (rhea would treat them there). */
type ReceiverState = 'attaching' | 'open' | 'detached' | 'closing' | 'closed';

/** @internal How a Receiver comes to be: opened by us (re-attachable) or accepted from a peer's attach. */
export type ReceiverOrigin =
  | {
      readonly kind: 'local';
      readonly rheaOptions: Record<string, unknown>;
      readonly attachTimeoutMs: number | undefined;
    }
  | { readonly kind: 'remote'; readonly link: RheaReceiver };

interface Waiter {
  resolve(delivery: Delivery | undefined): void;
  reject(error: Error): void;
}

/**
 * A receiving link. With a managed credit window (default 100) the receiver keeps the peer's credit topped up
 * so that credit + deliveries waiting to be taken + deliveries taken but unsettled stay within the window: an
 * application that stops settling stops the flow. With `creditWindow: 0` credit is manual (`addCredit`,
 * `drain`). Deliveries go to 'delivery' listeners when there are any, and otherwise wait for `receive()` or
 * `for await` (never more than the credit granted).
 */
export class Receiver extends EventEmitter<ReceiverEvents> implements AsyncIterable<Delivery> {
  readonly name: string;
  readonly #host: LinkHost;
  readonly #origin: ReceiverOrigin;
  readonly #window: CreditWindow;
  #settleModes: SettleModes;
  #link: RheaReceiver | undefined;
  #state: ReceiverState = 'attaching';
  #generation = 0;
  readonly #buffer = new Deque<Delivery>();
  /** Exactly-once deliveries we gave an outcome, waiting for the sender to settle (bounded by the credit). */
  #awaitingSecondStep: Set<Delivery> | undefined;
  readonly #waiters = new Deque<Waiter>();
  #drainWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  #info: LinkInfo;
  #closeInfo: CloseInfo | undefined;
  #attachWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #closeWaiter: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #refusalGrace: ReturnType<typeof setTimeout> | undefined;
  readonly #hooks: InstanceType<typeof Receiver.Hooks>;
  /** The sender desired SETTLEMENT_CONFIRMATION_CAPABILITY: we answer its settlements with ours. */
  #confirmSettlement = false;
  /** Why this end detached the link on its own (a message above max-message-size): what `receive()` then throws. */
  #failure: LinkError | undefined;

  /** @internal Created by AmqpConnection.openReceiver or IncomingLink.accept. */
  constructor(
    host: LinkHost,
    name: string,
    settleModes: SettleModes,
    origin: ReceiverOrigin,
    options: { creditWindow?: number | undefined } = {},
  ) {
    super();
    useFastListenerTable(this); // an idle client's links are many: see listener-tables.ts
    this.name = name;
    this.#host = host;
    this.#origin = origin;
    this.#window = new CreditWindow(options.creditWindow ?? DEFAULT_CREDIT_WINDOW);
    this.#settleModes = settleModes;
    this.#info = {
      name,
      role: 'receiver',
      source: undefined,
      target: undefined,
      settleModes,
      properties: undefined,
    };
    this.#hooks = new Receiver.Hooks(this);
    this.managed = this.#hooks;
    if (origin.kind === 'remote') {
      this.#bind(origin.link);
      this.#onOpen(origin.link);
    }
  }

  get info(): LinkInfo {
    return this.#info;
  }

  /**
   * The address of the node this link serves: the source for receivers we opened, the target for receivers
   * a peer's sender attached to us.
   */
  get address(): string | undefined {
    return this.#origin.kind === 'local' ? this.#info.source?.address : this.#info.target?.address;
  }

  get settleModes(): SettleModes {
    return this.#settleModes;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Credit the peer currently holds. */
  get credit(): number {
    return this.#link?.credit ?? 0;
  }

  /** The managed credit window; 0 for manual credit. */
  get creditWindow(): number {
    return this.#window.size;
  }

  /** Deliveries received and waiting to be taken by `receive()` / `for await`. */
  get buffered(): number {
    return this.#buffer.length;
  }

  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** Manual credit only: lets the peer send `n` more deliveries. Credit given while reconnecting is granted on re-attach. */
  addCredit(n: number): void {
    if (!this.#window.manual)
      throw new InvalidArgumentError('addCredit needs manual credit (creditWindow: 0)');
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('credit must be a positive integer');
    if (this.#state === 'closed' || this.#state === 'closing') throw new LinkClosedError(this.name);
    if (this.#link !== undefined && this.#state === 'open') this.#link.add_credit(n);
    else this.#window.addPending(n);
  }

  /**
   * Manual credit only: asks the peer to use up or give back its credit. Resolves when the credit is gone
   * (all used, or the peer answered the drain).
   */
  drain(): Promise<void> {
    if (!this.#window.manual)
      return Promise.reject(new InvalidArgumentError('drain needs manual credit (creditWindow: 0)'));
    if (this.#state === 'closed' || this.#state === 'closing')
      return Promise.reject(new LinkClosedError(this.name));
    const link = this.#link;
    if (link === undefined || link.credit === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#drainWaiters.push({ resolve, reject });
      link.drain_credit();
    });
  }

  /**
   * Takes the next delivery, waiting for one if needed. Resolves `undefined` once the link is closed cleanly;
   * rejects with the `LinkError` the peer detached with.
   */
  receive(options: { signal?: AbortSignal } = {}): Promise<Delivery | undefined> {
    const next = this.#buffer.shift();
    if (next !== undefined) {
      this.#handedOut(next);
      return Promise.resolve(next);
    }
    if (this.#state === 'closed' || this.#state === 'closing') {
      // Only a peer's error ends iteration with a throw; our own close (with or without error) ends it quietly.
      const error = this.#closeInfo?.remote ? this.#closeInfo.error : this.#failure;
      return error !== undefined ? Promise.reject(error) : Promise.resolve(undefined);
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (d) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(d);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = (): void => {
        if (this.#waiters.remove(waiter)) reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Iterates deliveries as they come, pulling with credit. Ends when the link closes; throws its error if any. Breaking out leaves the link open. */
  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return {
      next: async () => {
        const delivery = await this.receive();
        return delivery === undefined ? { done: true, value: undefined } : { done: false, value: delivery };
      },
      return: async () => ({ done: true, value: undefined }),
    };
  }

  /** Detaches (closed=true), with an error condition if given; resolves when the peer has detached too (or after a time-out). */
  close(error?: AmqpErrorInit): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    this.#closing ??= this.#close(error);
    return this.#closing;
  }

  async #close(error: AmqpErrorInit | undefined): Promise<void> {
    const link = this.#link;
    const local =
      error === undefined
        ? undefined
        : new LinkError(this.name, error.condition, error.description, { info: error.info });
    if (this.#state === 'closing' || link === undefined || !link.is_open()) {
      this.#finish({ remote: false, error: local });
      return;
    }
    this.#state = 'closing';
    this.#newGeneration();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DEFAULT_CLOSE_TIMEOUT_MS);
      timer.unref?.();
      this.#closeWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      link.close(toRheaError(error) as Parameters<RheaReceiver['close']>[0]);
    });
    this.#finish({ remote: false, error: local });
  }

  // -------------------------------------------------------------------------
  // Internal
  // -------------------------------------------------------------------------

  /** @internal */
  attach(connection: RheaConnection | undefined): Promise<void> {
    if (this.#origin.kind !== 'local') return Promise.resolve();
    const origin = this.#origin;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#attachWaiter = undefined;
        const error = new TimeoutError(`attach of receiver '${this.name}' timed out`);
        this.#link?.close();
        this.#finish({ remote: false, error: undefined });
        reject(error);
      }, origin.attachTimeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS);

      this.#attachWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      // Not connected right now (reconnecting): the link attaches when the connection is back.
      if (connection === undefined) this.#state = 'detached';
      else this.#openRheaLink(connection);
    });
  }

  /** @internal */
  abortAttach(reason: unknown): void {
    const waiter = this.#attachWaiter;
    if (waiter === undefined) return;
    this.#attachWaiter = undefined;
    this.#link?.close();
    this.#finish({ remote: false, error: undefined });
    waiter.reject(reason instanceof Error ? reason : new Error(String(reason)));
  }

  /** @internal What the connection calls on its links. */
  readonly managed: ManagedLink;

  #onDisconnect(): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'closing') {
      this.#closeWaiter?.();
      return;
    }
    this.#window.disconnected(this.#link?.credit ?? 0);
    this.#unbind();
    this.#state = 'detached';
    this.#newGeneration();
    // Unsettled deliveries not yet taken cannot be settled any more; the peer redelivers them.
    for (const d of this.#buffer.drain()) if (d.presettled) this.#buffer.push(d);
    this.#resolveDrains();
  }

  #reattach(connection: RheaConnection): void {
    if (this.#state !== 'detached' && this.#state !== 'attaching') return;
    this.#state = 'attaching';
    this.#openRheaLink(connection);
  }

  #onConnectionClosed(error: Error): void {
    if (this.#state === 'closed') return;
    this.#unbind();
    const closed = new ConnectionClosedError(undefined, { cause: error });
    this.#attachWaiter?.reject(closed);
    this.#attachWaiter = undefined;
    const condition = (error as Partial<AmqpError>).condition;
    this.#finish(
      { remote: true, error: typeof condition === 'string' ? (error as AmqpError) : undefined },
      closed,
    );
  }

  #onSessionClosed(context: RheaEventContext, error: SessionError | undefined): void {
    if (this.#link === undefined || context.session !== this.#link.session) return;
    this.#remoteClosed(
      error === undefined
        ? undefined
        : new LinkError(this.name, error.condition, error.description, { info: error.info, cause: error }),
    );
  }

  #beforeOutcome(accepted: boolean): void {
    // rhea batches the dispositions of one tick into ranges and, for a range of one, does not check that
    // the next outcome is the same: only consecutive accepts may share a batch, so write out first.
    const link = this.#link;
    if (link === undefined) return;
    const updated = link.session.incoming.updated;
    const last = updated[updated.length - 1];
    if (last === undefined || (accepted && last.state?.descriptor?.value === ACCEPTED_DESCRIPTOR)) return;
    link.connection._process();
  }

  #onSettled(delivery: Delivery): void {
    if (!delivery.settled) {
      // Made at the first such delivery: most receivers never have one (exactly-once only).
      this.#awaitingSecondStep ??= new Set();
      this.#awaitingSecondStep.add(delivery);
    }
    if (!delivery.presettled) this.#window.settled();
    this.#topUp();
  }

  #openRheaLink(connection: RheaConnection): void {
    if (this.#origin.kind !== 'local') return;
    const options = { ...this.#origin.rheaOptions };
    if (options.rcv_settle_mode === 1) {
      options.offered_capabilities = withCapability(
        options.offered_capabilities,
        SETTLEMENT_CONFIRMATION_CAPABILITY,
      );
    }
    const link = connection.open_receiver(options) as RheaReceiver;
    this.#bind(link);
  }

  #bind(link: RheaReceiver): void {
    this.#link = link;
    (link as BoundLink)[BOUND] = this;
    link.on('receiver_open', Receiver.#rheaOpen);
    link.on('message', Receiver.#rheaMessage);
    link.on('settled', Receiver.#rheaSettled);
    link.on('receiver_drained', Receiver.#rheaDrained);
    link.on('receiver_flow', ignoreRheaEvent);
    link.on('receiver_error', ignoreRheaEvent);
    link.on('receiver_close', Receiver.#rheaClose);
    link.on(MESSAGE_SIZE_EXCEEDED_EVENT, Receiver.#rheaSizeExceeded);
  }

  // rhea's events for a bound link: one listener of each for every receiver, finding it from the event's link.

  static #rheaOpen(context: RheaEventContext): void {
    const link = context.receiver;
    const receiver = boundTo(link);
    if (link === undefined || receiver === undefined || link !== receiver.#link) return;
    const remote = link.remote.attach;
    if (remote !== undefined && isAbsent(remote.source)) {
      // A null source announces a refusal whose detach follows (AMQP 2.6.3); peers that answer every
      // attach without termini (rhea used directly) are taken as open after a grace period.
      receiver.#readRemoteAttach(link);
      const timer = setTimeout(() => receiver.#opened(link), REFUSAL_GRACE_MS);
      timer.unref?.();
      receiver.#refusalGrace = timer;
      return;
    }
    receiver.#opened(link);
  }

  static #rheaMessage(context: RheaEventContext): void {
    const receiver = boundTo(context.receiver);
    if (receiver !== undefined) receiver.#onMessage(context);
  }

  static #rheaSettled(context: RheaEventContext): void {
    const link = context.receiver;
    const receiver = boundTo(link);
    const delivery = context.delivery as TrackedDelivery | undefined;
    if (link === undefined || receiver === undefined || delivery === undefined) return;
    // rhea settles these itself only for links it created with receiver settle mode 'second'; a peer's
    // link gets its mode after creation, so do it here or rhea's session window never frees the slot.
    delivery.settled = true;
    const ours = delivery[OURS];
    if (ours !== undefined) {
      receiver.#awaitingSecondStep?.delete(ours);
      ours.onRemoteSettled();
      // Our outcome was given and the sender settled: we settle last. A sender that asked for it is told so
      // with a settled disposition (rhea writes none for a delivery its peer settled, so queue it by hand).
      if (receiver.#confirmSettlement && ours.settled) {
        link.session.incoming.updated.push(
          delivery as unknown as { state?: { descriptor?: { value?: unknown } } },
        );
        (link.connection as unknown as { _register(): void })._register();
      }
    }
    delivery[OURS] = undefined;
  }

  static #rheaDrained(context: RheaEventContext): void {
    const receiver = boundTo(context.receiver);
    if (receiver !== undefined) receiver.#onDrained();
  }

  static #rheaClose(context: RheaEventContext): void {
    const link = context.receiver;
    const receiver = boundTo(link);
    if (link === undefined || receiver === undefined || link !== receiver.#link) return;
    receiver.#remoteClosed(linkErrorFrom(receiver.name, link.remote.detach?.error));
  }

  /** The link detached itself: a message came larger than its max-message-size (lean-deliveries.ts). */
  static #rheaSizeExceeded(context: RheaEventContext & { error?: AmqpErrorInit }): void {
    const link = context.receiver;
    const receiver = boundTo(link);
    const error = context.error;
    if (link === undefined || receiver === undefined || link !== receiver.#link || error === undefined)
      return;
    if (receiver.#state === 'closing' || receiver.#state === 'closed') return;
    // rhea writes the detach and takes the peer's answer; the receiver is done now, failed with the error.
    const failure = new LinkError(receiver.name, error.condition, error.description);
    receiver.#failure = failure;
    receiver.#finish({ remote: false, error: failure }, failure);
  }

  #opened(link: RheaReceiver): void {
    if (link !== this.#link) return;
    if (this.#refusalGrace !== undefined) {
      clearTimeout(this.#refusalGrace);
      this.#refusalGrace = undefined;
    }
    this.#onOpen(link);
    const waiter = this.#attachWaiter;
    this.#attachWaiter = undefined;
    waiter?.resolve();
  }

  #onOpen(link: RheaReceiver): void {
    this.#readRemoteAttach(link);
    this.#state = 'open';
    const grant = this.#window.onAttached(this.#buffer.length);
    if (grant > 0) link.add_credit(grant);
  }

  #unbind(): void {
    if (this.#refusalGrace !== undefined) {
      clearTimeout(this.#refusalGrace);
      this.#refusalGrace = undefined;
    }
    const link = this.#link;
    if (link === undefined) return;
    link.removeAllListeners();
    link.on('receiver_close', ignoreRheaEvent);
    link.on('receiver_error', ignoreRheaEvent);
    link.on('message', ignoreRheaEvent);
    (link as BoundLink)[BOUND] = undefined;
    this.#link = undefined;
  }

  #readRemoteAttach(link: RheaReceiver): void {
    if (link.remote.attach === undefined) return;
    const local = linkInfoFromAttach('receiver', link.local.attach, this.name).settleModes;
    this.#info = { ...linkInfoFromAttach('receiver', link.remote.attach, this.name), settleModes: local };
    this.#settleModes = local;
    this.#confirmSettlement =
      local.receiver === 'second' &&
      hasCapability(link.local.attach.offered_capabilities, SETTLEMENT_CONFIRMATION_CAPABILITY) &&
      hasCapability(link.remote.attach.desired_capabilities, SETTLEMENT_CONFIRMATION_CAPABILITY);
  }

  #onMessage(context: RheaEventContext): void {
    const rheaDelivery = context.delivery as TrackedDelivery;
    const link = this.#link;
    if (link === undefined) return;
    // A pre-settled delivery needs no disposition, but rhea keeps it in the session window until it is marked
    // settled: mark it now, or the window (2048) closes for good.
    if (rheaDelivery.remote_settled) rheaDelivery.settled = true;
    const secondStep = this.#settleModes.receiver === 'second';
    let message: AmqpMessage;
    const format = rheaDelivery.format;
    if (format === RAW_STANDARD_FORMAT) {
      // A standard message whose payload rhea left to us (internal/raw-transfers.ts).
      (rheaDelivery as { format: number }).format = 0;
      message = decodeMessage(context.message as unknown as Buffer);
    } else if (format === HAND_OFF_FORMAT && !(context.message instanceof Uint8Array)) {
      // A message handed over as it is on an in-process pipe (internal/message-hand-off.ts).
      (rheaDelivery as { format: number }).format = 0;
      message = context.message as unknown as AmqpMessage;
    } else {
      message = fromRhea(context.message as unknown as RheaMessage);
    }
    const delivery = new Delivery(message, rheaDelivery, this.#hooks, secondStep);
    if (secondStep && !delivery.presettled) rheaDelivery[OURS] = delivery;
    if (this.#state !== 'open') {
      // Arrived while closing: nobody will take it; the peer learns nothing more from us.
      return;
    }
    if (this.listenerCount('delivery') > 0) {
      this.#handedOut(delivery);
      this.emit('delivery', delivery);
    } else {
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) {
        this.#handedOut(delivery);
        waiter.resolve(delivery);
      } else {
        this.#buffer.push(delivery);
      }
    }
    if (this.#drainWaiters.length > 0 && link.credit === 0) this.#resolveDrains();
  }

  /** The current link instance is gone: its deliveries can no longer settle. */
  #newGeneration(): void {
    this.#generation++;
    const awaiting = this.#awaitingSecondStep;
    if (awaiting === undefined || awaiting.size === 0) return;
    const lost = [...awaiting];
    awaiting.clear();
    for (const d of lost) d.onLinkLost();
  }

  #handedOut(delivery: Delivery): void {
    if (!delivery.presettled && delivery.settleable) this.#window.handedOut();
    this.#topUp();
  }

  #topUp(): void {
    const link = this.#link;
    if (link === undefined || this.#state !== 'open') return;
    const grant = this.#window.topUp(link.credit, this.#buffer.length);
    if (grant > 0) link.add_credit(grant);
  }

  #onDrained(): void {
    const link = this.#link;
    if (link !== undefined) link.drain = false;
    this.#resolveDrains();
    this.emit('drained');
  }

  #resolveDrains(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  #remoteClosed(error: LinkError | undefined): void {
    const waiter = this.#attachWaiter;
    this.#attachWaiter = undefined;
    waiter?.reject(error ?? new LinkClosedError(this.name, `link '${this.name}' was refused`));
    if (this.#closeWaiter !== undefined) {
      this.#closeWaiter();
      return;
    }
    this.#unbind();
    this.#finish({ remote: true, error });
  }

  #finish(info: CloseInfo, failure?: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#newGeneration();
    this.#closeInfo = info;
    this.#unbind();
    // Deliveries not yet taken cannot be settled any more: drop the unsettled ones.
    for (const d of this.#buffer.drain()) if (d.presettled) this.#buffer.push(d);
    const waiters = this.#waiters.drain();
    const error = failure ?? (info.remote ? info.error : undefined);
    for (const w of waiters) {
      if (error !== undefined) w.reject(error);
      else w.resolve(undefined);
    }
    const drains = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const d of drains)
      d.reject(failure ?? new LinkClosedError(this.name, undefined, { cause: info.error }));
    this.#host.forget(this.managed);
    if (info.error !== undefined && this.listenerCount('error') > 0) this.emit('error', info.error);
    this.emit('close', info);
  }

  /**
   * What the receiver's deliveries and its connection call back: one object per receiver with its members on
   * this prototype (an object literal with a getter cost each receiver a property dictionary and a closure per
   * member). Declared here so that it reaches the receiver's private members.
   */
  private static readonly Hooks = class implements DeliveryOwner, ManagedLink {
    readonly #receiver: Receiver;

    constructor(receiver: Receiver) {
      this.#receiver = receiver;
    }

    get generation(): number {
      return this.#receiver.#generation;
    }

    get linkName(): string {
      return this.#receiver.name;
    }

    beforeOutcome(accepted: boolean): void {
      this.#receiver.#beforeOutcome(accepted);
    }

    onSettled(delivery: Delivery): void {
      this.#receiver.#onSettled(delivery);
    }

    onDisconnect(): void {
      this.#receiver.#onDisconnect();
    }

    reattach(connection: RheaConnection): void {
      this.#receiver.#reattach(connection);
    }

    onConnectionClosed(error: Error): void {
      this.#receiver.#onConnectionClosed(error);
    }

    onSessionClosed(context: RheaEventContext, error: SessionError | undefined): void {
      this.#receiver.#onSessionClosed(context, error);
    }
  };
}

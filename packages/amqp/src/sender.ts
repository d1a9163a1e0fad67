import { EventEmitter } from 'node:events';
import type { AmqpError, SessionError } from './errors';
import {
  ConnectionClosedError,
  InvalidArgumentError,
  LinkClosedError,
  LinkError,
  SendQueueFullError,
  TimeoutError,
} from './errors';
import { linkErrorFrom, outcomeFrom, RELEASED, toRheaError } from './internal/convert';
import { Deque } from './internal/deque';
import {
  DEFAULT_ATTACH_TIMEOUT_MS,
  DEFAULT_CLOSE_TIMEOUT_MS,
  type LinkHost,
  type ManagedLink,
  REFUSAL_GRACE_MS,
} from './internal/link-host';
import { isAbsent, linkInfoFromAttach } from './internal/link-options';
import { type Linkable, LinkedSet } from './internal/linked-set';
import { useFastListenerTable } from './internal/listener-tables';
import { HAND_OFF_FORMAT, handsOffMessages } from './internal/message-hand-off';
import { ignoreRheaEvent } from './internal/rhea-logging';
import type { RheaConnection, RheaDelivery, RheaEventContext, RheaSender } from './internal/rhea-types';
import { type AmqpMessage, encodeMessage } from './message';
import {
  type AmqpErrorInit,
  type CloseInfo,
  type HeldDelivery,
  type HeldDeliveryState,
  type LinkInfo,
  type Outcome,
  SETTLEMENT_CONFIRMATION_CAPABILITY,
  type SendCallback,
  type SenderEvents,
  type SendOptions,
  type SendResult,
  type SettleModes,
} from './types';

export const DEFAULT_MAX_QUEUED = 1000;

const SENT: SendResult = Object.freeze({ state: 'sent' });
/** Pre-settled sends all resolve with the same value: one settled promise serves them all. */
const SENT_PROMISE: Promise<SendResult> = Promise.resolve(SENT);
const PENDING = Symbol('dragoman.pendingSend');
const HELD = Symbol('dragoman.heldDelivery');

type TrackedDelivery = RheaDelivery & {
  [PENDING]?: PendingSend | undefined;
  [HELD]?: HeldSend | undefined;
};
/** On a rhea link while a Sender is bound to it: its listeners are shared by every sender and find it here. */
const BOUND = Symbol('dragoman.sender');
type BoundLink = RheaSender & { [BOUND]?: Sender | undefined };

/** The Sender bound to a rhea link, if any. */
function boundTo(link: RheaSender | undefined): Sender | undefined {
  return (link as BoundLink | undefined)?.[BOUND];
}

/** For the events a link must not pass on to its connection (rhea would treat them there). */
type SendableWaiter = { resolve: () => void; reject: (e: Error) => void; signal?: AbortSignal };

/**
 * What a send writes: the encoded message, or the message itself on a link whose connection hands messages off
 * (internal/message-hand-off.ts).
 */
type Outgoing = Buffer | AmqpMessage;

/** One send not yet completed: queued for credit, or written and waiting for its outcome. */
class PendingSend implements Linkable<PendingSend> {
  abortListener: (() => void) | undefined = undefined;
  linkedPrev: PendingSend | undefined = undefined;
  linkedNext: PendingSend | undefined = undefined;
  linkedIn: object | undefined = undefined;
  constructor(
    readonly payload: Outgoing,
    readonly resolve: ((result: SendResult) => void) | undefined,
    readonly reject: ((error: Error) => void) | undefined,
    readonly callback: SendCallback | undefined,
    readonly signal: AbortSignal | undefined,
    /** Set for `sendHeld`: resolved with the held delivery instead of the outcome. */
    readonly resolveHeld: ((held: HeldDelivery) => void) | undefined = undefined,
  ) {}

  completeHeld(held: HeldDelivery): void {
    this.#detachSignal();
    this.resolveHeld?.(held);
  }

  complete(result: SendResult): void {
    this.#detachSignal();
    if (this.resolve !== undefined) this.resolve(result);
    else if (this.callback !== undefined) this.callback(undefined, result);
  }

  fail(error: Error): void {
    this.#detachSignal();
    if (this.reject !== undefined) this.reject(error);
    else if (this.callback !== undefined) this.callback(error, undefined);
  }

  #detachSignal(): void {
    if (this.abortListener !== undefined) {
      this.signal?.removeEventListener('abort', this.abortListener);
      this.abortListener = undefined;
    }
  }
}

/** The `HeldDelivery` of `Sender.sendHeld`. */
class HeldSend implements HeldDelivery {
  readonly outcome: Outcome;
  #state: HeldDeliveryState;
  #error: Error | undefined;
  #waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  /** Writes our settlement; the sender calls `done()` now or once the receiver confirms. */
  readonly #writeSettlement: (held: HeldSend) => void;

  constructor(outcome: Outcome, settled: boolean, writeSettlement: (held: HeldSend) => void) {
    this.outcome = outcome;
    this.#state = settled ? 'settled' : 'held';
    this.#writeSettlement = writeSettlement;
  }

  get state(): HeldDeliveryState {
    return this.#state;
  }

  settle(): boolean {
    if (this.#state !== 'held') return false;
    this.#state = 'settling';
    this.#writeSettlement(this);
    return true;
  }

  whenSettled(): Promise<void> {
    if (this.#state === 'settled') return Promise.resolve();
    if (this.#state === 'lost') return Promise.reject(this.#error);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Settled on both sides. */
  done(): void {
    if (this.#state === 'settled' || this.#state === 'lost') return;
    this.#state = 'settled';
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
  }

  /** Its link went away first. */
  lost(error: Error): void {
    if (this.#state === 'settled' || this.#state === 'lost') return;
    this.#state = 'lost';
    this.#error = error;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
  }
}

type SenderState = 'attaching' | 'open' | 'detached' | 'closing' | 'closed';

/** @internal How a Sender comes to be: opened by us (re-attachable) or accepted from a peer's attach. */
export type SenderOrigin =
  | {
      readonly kind: 'local';
      readonly rheaOptions: Record<string, unknown>;
      readonly attachTimeoutMs: number | undefined;
    }
  | { readonly kind: 'remote'; readonly link: RheaSender };

/**
 * A sending link. `send` resolves with the receiver's outcome (or `{ state: 'sent' }` for pre-settled
 * sends); sends made without credit wait in a queue bounded by `maxQueued`, and fail with
 * `SendQueueFullError` beyond it.
 */
export class Sender extends EventEmitter<SenderEvents> {
  readonly name: string;
  readonly maxQueued: number;
  readonly #host: LinkHost;
  readonly #origin: SenderOrigin;
  #presettled: boolean;
  /** The number in the next delivery's tag (see `#write`). */
  #nextTag = 0;
  #settleModes: SettleModes;
  #link: RheaSender | undefined;
  #state: SenderState = 'attaching';
  /** Ids of deliveries handed to rhea and not yet written (rhea takes credit only when it writes); made at the first. */
  #unwritten: Deque<number> | undefined;
  /** Sends waiting for credit (or for a reconnect); made at the first (most links never queue). */
  #queue: Deque<PendingSend> | undefined;
  /** Unsettled deliveries written and waiting for their outcome; made at the first (idle links never fill it). */
  #inflight: LinkedSet<PendingSend> | undefined;
  /** Held exactly-once deliveries (`sendHeld`) not yet settled on both sides; made at the first. */
  #held: Set<HeldSend> | undefined;
  /** The receiver offered SETTLEMENT_CONFIRMATION_CAPABILITY: it confirms our settlements. */
  #confirmsSettlement = false;
  /** Callers of `whenSendable` waiting; made at the first. */
  #sendableWaiters: SendableWaiter[] | undefined;
  #info: LinkInfo;
  #closeInfo: CloseInfo | undefined;
  #attachWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #closeWaiter: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #drainRequested = false;
  /** The link's connection hands messages off (internal/message-hand-off.ts): sends are not encoded. */
  #handsOff = false;
  #refusalGrace: ReturnType<typeof setTimeout> | undefined;

  #onOutcome(context: RheaEventContext, name: 'accepted' | 'rejected' | 'released' | 'modified'): void {
    const delivery = context.delivery as TrackedDelivery | undefined;
    const pending = delivery?.[PENDING];
    if (delivery === undefined || pending === undefined) return;
    delivery[PENDING] = undefined;
    this.#inflight?.delete(pending);
    if (pending.resolveHeld !== undefined) {
      pending.completeHeld(this.#hold(delivery, outcomeFrom(name, delivery.remote_state)));
      return;
    }
    if (!delivery.remote_settled) {
      // Receiver settles second (exactly-once): our settlement is the second step. rhea would keep the
      // delivery in its session window until the peer settles again, which it never does: mark it done.
      // Settle echoing the outcome: a disposition with no state makes rhea peers log "unrecognised outcome".
      const state = delivery.remote_state as { described?: () => unknown } | undefined;
      delivery.update(true, typeof state?.described === 'function' ? state.described() : undefined);
      // A confirming receiver answers with a settled disposition of its own, and rhea forgets the delivery then
      // (marking it here would let that answer land on a later delivery sharing its slot).
      if (!this.#confirmsSettlement) delivery.remote_settled = true;
    }
    pending.complete(outcomeFrom(name, delivery.remote_state));
  }

  /** @internal Created by AmqpConnection.openSender or IncomingLink.accept. */
  constructor(
    host: LinkHost,
    name: string,
    settleModes: SettleModes,
    origin: SenderOrigin,
    options: { maxQueued?: number | undefined } = {},
  ) {
    super();
    useFastListenerTable(this); // an idle client's links are many: see listener-tables.ts
    this.managed = new Sender.Hooks(this);
    const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    if (!Number.isInteger(maxQueued) || maxQueued < 0) {
      throw new InvalidArgumentError('maxQueued must be a non-negative integer');
    }
    this.name = name;
    this.maxQueued = maxQueued;
    this.#host = host;
    this.#origin = origin;
    this.#settleModes = settleModes;
    this.#presettled = settleModes.sender === 'settled';
    this.#info = {
      name,
      role: 'sender',
      source: undefined,
      target: undefined,
      settleModes,
      properties: undefined,
    };
    if (origin.kind === 'remote') {
      this.#bind(origin.link);
      this.#readRemoteAttach();
      // rhea writes transfers before the link's own attach within one processing round: start sending
      // only once the attach that accepted the link has gone out (rhea's round runs on this tick's queue).
      process.nextTick(() => this.#opened(origin.link));
    }
  }

  /** The link as the peer attached it: termini, settle modes, properties. */
  get info(): LinkInfo {
    return this.#info;
  }

  /**
   * The address of the node this link serves: the target for senders we opened, the source for senders a
   * peer's receiver attached to us.
   */
  get address(): string | undefined {
    return this.#origin.kind === 'local' ? this.#info.target?.address : this.#info.source?.address;
  }

  get settleModes(): SettleModes {
    return this.#settleModes;
  }

  /** True when attached and not closing. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** True once closed for good (locally or by the peer). */
  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Sends that would be written now: the peer's link credit minus sends already handed to the transport, and 0
   * while the session's outgoing window is full (deliveries of every link of the session not yet settled on
   * both sides: a send then waits in the queue whatever the link credit).
   */
  get credit(): number {
    const link = this.#link;
    if (link === undefined || this.#state !== 'open' || link.session.outgoing.available() <= 0) return 0;
    return Math.max(0, link.credit - this.#unwrittenCount(link));
  }

  /** Sends waiting for credit (or for a reconnect). */
  get queued(): number {
    return this.#queuedCount();
  }

  /** Unsettled deliveries written and waiting for their outcome. */
  get unsettled(): number {
    return this.#inflight?.size ?? 0;
  }

  /** Held exactly-once deliveries (`sendHeld`) not yet settled on both sides. */
  get held(): number {
    return this.#held?.size ?? 0;
  }

  /** Why the link closed, once it has. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /**
   * Sends a message. Resolves with the outcome (accepted, rejected, released, modified) for unsettled
   * modes, or `{ state: 'sent' }` once handed to the connection for pre-settled (at-most-once) links.
   * Rejects with `SendQueueFullError` (no credit and `maxQueued` sends already waiting),
   * `LinkClosedError`/`ConnectionClosedError`, `InvalidArgumentError` (unencodable message) or the
   * signal's reason when aborted while queued.
   */
  send(message: AmqpMessage, options: SendOptions = {}): Promise<SendResult> {
    const signal = options.signal;
    let payload: Outgoing;
    try {
      payload = this.#payloadFor(message, signal);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#queuedCount() === 0 && this.#canWrite()) {
      if (this.#presettled) {
        this.#write(payload, undefined);
        return SENT_PROMISE;
      }
      return new Promise((resolve, reject) => {
        this.#write(payload, new PendingSend(payload, resolve, reject, undefined, undefined));
      });
    }
    if (this.#queuedCount() >= this.maxQueued) {
      return Promise.reject(new SendQueueFullError(this.name, this.maxQueued));
    }
    return new Promise((resolve, reject) => {
      this.#enqueue(new PendingSend(payload, resolve, reject, undefined, signal));
    });
  }

  /** What to write, or throws what a send must reject with: the link closed, the signal aborted, bad input. */
  #payloadFor(message: AmqpMessage, signal: AbortSignal | undefined): Outgoing {
    const closed = this.#closedError();
    if (closed !== undefined) throw closed;
    if (signal?.aborted) throw signal.reason;
    return this.#outgoing(message);
  }

  /** The message encoded, or as it is when the connection hands messages off. */
  #outgoing(message: AmqpMessage): Outgoing {
    if (message === null || typeof message !== 'object')
      throw new InvalidArgumentError('message must be an object');
    return this.#handsOff ? message : encodeMessage(message);
  }

  /**
   * Exactly-once send that leaves the settlement to the caller: for a link with receiver settle mode `second`.
   * Resolves once the receiver's outcome arrives, with a `HeldDelivery` still unsettled on both sides: call
   * `settle()` when the second step is due (e.g. on the MQTT PUBREL) and `whenSettled()` to learn when the
   * receiver has settled too. A receiver that settles together with its outcome gives one already settled.
   *
   * Queued like `send` while there is no credit (bounded by `maxQueued`). Unlike `send`, a held send written
   * and still waiting for its outcome when the connection drops is not sent again after the reconnect (the
   * receiver may have taken it; only the caller knows how to mark a retry, e.g. a higher header
   * `deliveryCount`): it rejects with `LinkClosedError`. Also rejects like `send`, and with
   * `InvalidArgumentError` on a link whose receiver settle mode is not `second` or that sends pre-settled.
   */
  sendHeld(message: AmqpMessage, options: SendOptions = {}): Promise<HeldDelivery> {
    if (this.#settleModes.receiver !== 'second' || this.#presettled) {
      return Promise.reject(
        new InvalidArgumentError(
          `sendHeld needs an exactly-once link (receiver settle mode 'second', sender not 'settled'); link '${this.name}' is ${this.#settleModes.sender}/${this.#settleModes.receiver}`,
        ),
      );
    }
    const signal = options.signal;
    let payload: Outgoing;
    try {
      payload = this.#payloadFor(message, signal);
    } catch (error) {
      return Promise.reject(error);
    }
    const writeNow = this.#queuedCount() === 0 && this.#canWrite();
    if (!writeNow && this.#queuedCount() >= this.maxQueued) {
      return Promise.reject(new SendQueueFullError(this.name, this.maxQueued));
    }
    return new Promise((resolve, reject) => {
      const pending = new PendingSend(payload, undefined, reject, undefined, signal, resolve);
      if (writeNow) this.#write(payload, pending);
      else this.#enqueue(pending);
    });
  }

  /**
   * The promise-free fast path: writes the message if there is credit and nothing queued, and returns true;
   * returns false (and does nothing) otherwise. `callback` receives the outcome of unsettled sends; for
   * pre-settled links it is called synchronously with `{ state: 'sent' }`.
   */
  trySend(message: AmqpMessage, callback?: SendCallback): boolean {
    if (this.#state !== 'open' || this.#queuedCount() > 0 || !this.#canWrite()) return false;
    const payload = this.#outgoing(message);
    if (this.#presettled || callback === undefined) {
      this.#write(payload, undefined);
      callback?.(undefined, SENT);
    } else {
      this.#write(payload, new PendingSend(payload, undefined, undefined, callback, undefined));
    }
    return true;
  }

  /** Resolves when a send would be written at once (credit available, queue empty); rejects if the link closes. */
  whenSendable(options: { signal?: AbortSignal } = {}): Promise<void> {
    const closed = this.#closedError();
    if (closed !== undefined) return Promise.reject(closed);
    if (this.#state === 'open' && this.#queuedCount() === 0 && this.#canWrite()) return Promise.resolve();
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = (): void => {
        this.#sendableWaiters = this.#sendableWaiters?.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sendableWaiters ??= [];
      this.#sendableWaiters.push(waiter);
    });
  }

  /**
   * Detaches the link (closed=true), with an error condition if given. Queued sends and unsettled deliveries
   * still waiting for their outcome fail with `LinkClosedError`. Resolves when the peer has detached too
   * (or after a time-out).
   */
  close(error?: AmqpErrorInit): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    this.#closing ??= this.#close(error);
    return this.#closing;
  }

  async #close(error: AmqpErrorInit | undefined): Promise<void> {
    const link = this.#link;
    const local = errorFromInit(this.name, error);
    this.#failAll(() => new LinkClosedError(this.name, undefined, { cause: local }));
    if (this.#state === 'closing' || link === undefined || !link.is_open()) {
      this.#finish({ remote: false, error: local });
      return;
    }
    this.#state = 'closing';
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DEFAULT_CLOSE_TIMEOUT_MS);
      timer.unref?.();
      this.#closeWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      link.close(toRheaError(error) as Parameters<RheaSender['close']>[0]);
    });
    this.#finish({ remote: false, error: local });
  }

  // -------------------------------------------------------------------------
  // Internal: lifecycle driven by the connection
  // -------------------------------------------------------------------------

  /** @internal Attach on `connection`; resolves when the peer has attached. */
  attach(connection: RheaConnection | undefined): Promise<void> {
    if (this.#origin.kind !== 'local') return Promise.resolve();
    const options = this.#origin;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#attachWaiter = undefined;
        const error = new TimeoutError(`attach of sender '${this.name}' timed out`);
        this.#link?.close();
        this.#finish({ remote: false, error: undefined }, error);
        reject(error);
      }, options.attachTimeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS);

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

  /** @internal Aborts a pending attach (the open call's signal fired). */
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
    this.#unbind();
    this.#state = 'detached';
    // Unsettled deliveries whose outcome never came back go first in line to be re-sent (at-least-once:
    // the peer may see them twice; nothing is dropped).
    // Held sends are the exception: exactly-once is the caller's to retry (see `sendHeld`).
    const lost = new LinkClosedError(this.name, `link '${this.name}' lost with its connection`);
    const inflight = this.#inflight;
    if (inflight !== undefined) {
      const resend = inflight.drain().filter((p) => {
        if (p.resolveHeld === undefined) return true;
        p.fail(lost);
        return false;
      });
      if (resend.length > 0) {
        this.#queue ??= new Deque();
        for (let i = resend.length - 1; i >= 0; i--) this.#queue.unshift(resend[i] as PendingSend);
      }
    }
    this.#loseHeld(lost);
  }

  #reattach(connection: RheaConnection): void {
    if (this.#state !== 'detached' && this.#state !== 'attaching') return;
    this.#state = 'attaching';
    this.#openRheaLink(connection);
  }

  #onConnectionClosed(error: Error): void {
    if (this.#state === 'closed') return;
    this.#unbind();
    this.#failAll(() => new ConnectionClosedError(undefined, { cause: error }));
    this.#attachWaiter?.reject(new ConnectionClosedError(undefined, { cause: error }));
    this.#attachWaiter = undefined;
    this.#finish({ remote: true, error: asAmqpError(error) });
  }

  #onSessionClosed(context: RheaEventContext, error: SessionError | undefined): void {
    if (this.#link === undefined || context.session !== this.#link.session) return;
    this.#remoteClosed(
      error === undefined
        ? undefined
        : new LinkError(this.name, error.condition, error.description, { info: error.info, cause: error }),
    );
  }

  #openRheaLink(connection: RheaConnection): void {
    if (this.#origin.kind !== 'local') return;
    const options = { ...this.#origin.rheaOptions };
    if (options.rcv_settle_mode === 1) {
      options.desired_capabilities = withCapability(
        options.desired_capabilities,
        SETTLEMENT_CONFIRMATION_CAPABILITY,
      );
    }
    const link = connection.open_sender(options) as RheaSender;
    this.#bind(link);
  }

  #bind(link: RheaSender): void {
    this.#link = link;
    this.#handsOff = handsOffMessages(link.connection as unknown as RheaConnection);
    this.#unwritten?.drain();
    (link as BoundLink)[BOUND] = this;
    link.on('sender_open', Sender.#rheaOpen);
    link.on('sendable', Sender.#rheaSendable);
    link.on('sender_flow', Sender.#rheaFlow);
    link.on('sender_draining', Sender.#rheaDraining);
    link.on('accepted', Sender.#rheaAccepted);
    link.on('rejected', Sender.#rheaRejected);
    link.on('released', Sender.#rheaReleased);
    link.on('modified', Sender.#rheaModified);
    link.on('settled', Sender.#rheaSettled);
    link.on('sender_error', ignoreRheaEvent);
    link.on('sender_close', Sender.#rheaClose);
  }

  // rhea's events for a bound link: one listener of each for every sender, finding it from the event's link.

  static #rheaOpen(context: RheaEventContext): void {
    const link = context.sender;
    const sender = boundTo(link);
    if (link === undefined || sender === undefined || link !== sender.#link) return;
    sender.#readRemoteAttach();
    const remote = link.remote.attach;
    if (remote !== undefined && isAbsent(remote.target)) {
      // A null target announces a refusal whose detach follows (AMQP 2.6.3). Some peers (rhea used
      // directly) answer every attach without termini though: open after a grace period, or as soon as
      // the peer grants credit, which a refusing peer does not do.
      const timer = setTimeout(() => sender.#opened(link), REFUSAL_GRACE_MS);
      timer.unref?.();
      sender.#refusalGrace = timer;
      return;
    }
    sender.#opened(link);
  }

  static #rheaSendable(context: RheaEventContext): void {
    const sender = boundTo(context.sender);
    if (sender !== undefined) sender.#flush();
  }

  static #rheaFlow(context: RheaEventContext): void {
    const link = context.sender;
    const sender = boundTo(link);
    if (link !== undefined && sender !== undefined && sender.#refusalGrace !== undefined)
      sender.#opened(link);
  }

  static #rheaDraining(context: RheaEventContext): void {
    const link = context.sender;
    const sender = boundTo(link);
    if (link === undefined || sender === undefined || link !== sender.#link) return;
    sender.#drainRequested = true;
    sender.#flush();
  }

  static #rheaAccepted(context: RheaEventContext): void {
    const sender = boundTo(context.sender);
    if (sender !== undefined) sender.#onOutcome(context, 'accepted');
  }

  static #rheaRejected(context: RheaEventContext): void {
    const sender = boundTo(context.sender);
    if (sender !== undefined) sender.#onOutcome(context, 'rejected');
  }

  static #rheaReleased(context: RheaEventContext): void {
    const sender = boundTo(context.sender);
    if (sender !== undefined) sender.#onOutcome(context, 'released');
  }

  static #rheaModified(context: RheaEventContext): void {
    const sender = boundTo(context.sender);
    if (sender !== undefined) sender.#onOutcome(context, 'modified');
  }

  static #rheaSettled(context: RheaEventContext): void {
    const sender = boundTo(context.sender);
    if (sender === undefined) return;
    const delivery = context.delivery as TrackedDelivery | undefined;
    const held = delivery?.[HELD];
    if (delivery !== undefined && held !== undefined) {
      // The receiver settled: confirming our settlement, or (before it) on its own.
      delivery[HELD] = undefined;
      delivery.settled = true;
      sender.#held?.delete(held);
      held.done();
      return;
    }
    // Settled by the peer without a terminal outcome: treat as released (the message may not have been processed).
    const pending = delivery?.[PENDING];
    if (delivery === undefined || pending === undefined) return;
    delivery[PENDING] = undefined;
    sender.#inflight?.delete(pending);
    if (pending.resolveHeld !== undefined) pending.completeHeld(sender.#hold(delivery, RELEASED));
    else pending.complete(RELEASED);
  }

  static #rheaClose(context: RheaEventContext): void {
    const link = context.sender;
    const sender = boundTo(link);
    if (link === undefined || sender === undefined || link !== sender.#link) return;
    sender.#remoteClosed(linkErrorFrom(sender.name, link.remote.detach?.error));
  }

  #opened(link: RheaSender): void {
    if (link !== this.#link) return;
    if (this.#refusalGrace !== undefined) {
      clearTimeout(this.#refusalGrace);
      this.#refusalGrace = undefined;
    }
    this.#state = 'open';
    const waiter = this.#attachWaiter;
    this.#attachWaiter = undefined;
    waiter?.resolve();
    this.#flush();
  }

  #unbind(): void {
    if (this.#refusalGrace !== undefined) {
      clearTimeout(this.#refusalGrace);
      this.#refusalGrace = undefined;
    }
    const link = this.#link;
    if (link === undefined) return;
    link.removeAllListeners();
    // Keep rhea from bubbling unhandled link events to the connection or container.
    link.on('sender_close', ignoreRheaEvent);
    link.on('sender_error', ignoreRheaEvent);
    (link as BoundLink)[BOUND] = undefined;
    this.#link = undefined;
    this.#unwritten?.drain();
    this.#drainRequested = false;
  }

  #readRemoteAttach(): void {
    const link = this.#link;
    if (link?.remote.attach === undefined) return;
    this.#info = linkInfoFromAttach('sender', link.remote.attach, this.name);
    // The settle modes in force are ours; the peer's attach may only echo or narrow them.
    const local = linkInfoFromAttach('sender', link.local.attach, this.name).settleModes;
    this.#info = { ...this.#info, settleModes: local };
    this.#settleModes = local;
    this.#presettled = local.sender === 'settled';
    this.#confirmsSettlement =
      local.receiver === 'second' &&
      hasCapability(link.remote.attach.offered_capabilities, SETTLEMENT_CONFIRMATION_CAPABILITY);
  }

  /** A held send's outcome arrived: hold the delivery for the caller's `settle()`. */
  #hold(delivery: TrackedDelivery, outcome: Outcome): HeldSend {
    if (delivery.remote_settled) {
      // The receiver settled together with its outcome: nothing is left to hold.
      delivery.settled = true;
      return new HeldSend(outcome, true, () => {});
    }
    const link = this.#link;
    const held = new HeldSend(outcome, false, (h) => {
      if (this.#link !== link || link === undefined) return; // lost meanwhile: `lost()` has run
      const state = delivery.remote_state as { described?: () => unknown } | undefined;
      delivery.update(true, typeof state?.described === 'function' ? state.described() : undefined);
      if (this.#confirmsSettlement) return; // done when the receiver's settled disposition arrives
      delivery.remote_settled = true;
      delivery[HELD] = undefined;
      this.#held?.delete(h);
      h.done();
    });
    delivery[HELD] = held;
    this.#held ??= new Set();
    this.#held.add(held);
    return held;
  }

  #loseHeld(error: Error): void {
    if (this.#held === undefined || this.#held.size === 0) return;
    const held = [...this.#held];
    this.#held.clear();
    for (const h of held) h.lost(error);
  }

  #remoteClosed(error: LinkError | undefined): void {
    const waiter = this.#attachWaiter;
    this.#attachWaiter = undefined;
    let closedError: LinkClosedError | undefined;
    const closed = (): LinkClosedError => {
      closedError ??= new LinkClosedError(
        this.name,
        error ? `link '${this.name}' detached: ${error.message}` : undefined,
        { cause: error },
      );
      return closedError;
    };
    this.#failAll(closed);
    waiter?.reject(error ?? closed());
    if (this.#closeWaiter !== undefined) {
      this.#closeWaiter();
      return;
    }
    this.#unbind();
    this.#finish({ remote: true, error });
  }

  #canWrite(): boolean {
    const link = this.#link;
    if (link === undefined || this.#state !== 'open') return false;
    return link.credit - this.#unwrittenCount(link) > 0 && link.session.outgoing.available() > 0;
  }

  #queuedCount(): number {
    return this.#queue === undefined ? 0 : this.#queue.length;
  }

  #unwrittenCount(link: RheaSender): number {
    const unwritten = this.#unwritten;
    if (unwritten === undefined || unwritten.length === 0) return 0;
    const next = link.session.outgoing.next_pending_delivery;
    let head = unwritten.peek();
    while (head !== undefined && head < next) {
      unwritten.shift();
      head = unwritten.peek();
    }
    return unwritten.length;
  }

  #write(payload: Outgoing, pending: PendingSend | undefined): void {
    const link = this.#link as RheaSender;
    // With a format, rhea passes the payload on as it is: bytes, or the handed-off message for our frame writer.
    const format = payload instanceof Uint8Array ? 0 : HAND_OFF_FORMAT;
    // Our own tag: rhea's makes each one from a decimal string (a String object and a UTF-8 encoding per
    // message). A tag only has to be unique among the link's unsettled deliveries (AMQP 1.0 2.6.12); 2^32 of them
    // never are.
    const number = this.#nextTag;
    this.#nextTag = (number + 1) >>> 0;
    const tag = Buffer.allocUnsafe(4);
    tag[0] = number >>> 24;
    tag[1] = number >>> 16;
    tag[2] = number >>> 8;
    tag[3] = number;
    const delivery = link.send(payload as Buffer, tag, format) as TrackedDelivery;
    this.#unwritten ??= new Deque();
    this.#unwritten.push(delivery.id);
    if (pending !== undefined) {
      if (this.#presettled) {
        pending.complete(SENT);
      } else {
        delivery[PENDING] = pending;
        this.#inflight ??= new LinkedSet();
        this.#inflight.add(pending);
      }
    }
  }

  #enqueue(pending: PendingSend): void {
    const signal = pending.signal;
    if (signal !== undefined) {
      pending.abortListener = () => {
        if (this.#queue?.remove(pending)) pending.fail(signal.reason);
      };
      signal.addEventListener('abort', pending.abortListener, { once: true });
    }
    this.#queue ??= new Deque();
    this.#queue.push(pending);
  }

  #flush(): void {
    while (this.#queuedCount() > 0 && this.#canWrite()) {
      const pending = this.#queue?.shift() as PendingSend;
      // A message queued as an object goes out as one: a reconnect reaches the same transport, whose other end
      // reads hand-offs again by the time links re-attach (after the open it answered).
      this.#write(pending.payload, pending);
    }
    if (this.#drainRequested && this.#queuedCount() === 0 && this.#link !== undefined) {
      // The receiver asked to drain and we have nothing more: give the remaining credit back.
      this.#drainRequested = false;
      this.#link.set_drained(true);
    }
    if (this.#queuedCount() === 0 && this.#canWrite()) {
      const waiters = this.#sendableWaiters;
      if (waiters !== undefined && waiters.length > 0) {
        this.#sendableWaiters = undefined;
        for (const w of waiters) w.resolve();
      }
      this.emit('sendable');
    }
  }

  /**
   * Fails every queued send, outcome, held send and `sendable()` waiter with one error, made only when one of
   * them is there to receive it: a link closing with nothing pending (the usual case) skips its stack capture.
   */
  #failAll(errorOf: () => Error): void {
    const queued = this.#queue === undefined || this.#queue.length === 0 ? undefined : this.#queue.drain();
    const inflight =
      this.#inflight === undefined || this.#inflight.size === 0 ? undefined : this.#inflight.drain();
    const waiters = this.#sendableWaiters;
    this.#sendableWaiters = undefined;
    const held = this.#held !== undefined && this.#held.size > 0;
    if (queued === undefined && inflight === undefined && waiters === undefined && !held) return;
    const error = errorOf();
    if (queued !== undefined) for (const p of queued) p.fail(error);
    if (inflight !== undefined) for (const p of inflight) p.fail(error);
    this.#loseHeld(error);
    if (waiters !== undefined) for (const w of waiters) w.reject(error);
  }

  #closedError(): Error | undefined {
    if (this.#state === 'closed' || this.#state === 'closing') {
      return new LinkClosedError(this.name, undefined, { cause: this.#closeInfo?.error });
    }
    return undefined;
  }

  #finish(info: CloseInfo, failure?: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeInfo = info;
    this.#failAll(() => failure ?? new LinkClosedError(this.name, undefined, { cause: info.error }));
    this.#unbind();
    this.#host.forget(this.managed);
    if (info.error !== undefined && this.listenerCount('error') > 0) this.emit('error', info.error);
    this.emit('close', info);
  }

  /**
   * What the connection calls on the sender: one object per sender with its members on this prototype (an
   * object literal cost each sender a closure per member). Declared here so that it reaches the sender's
   * private members.
   */
  private static readonly Hooks = class implements ManagedLink {
    readonly #sender: Sender;

    constructor(sender: Sender) {
      this.#sender = sender;
    }

    onDisconnect(): void {
      this.#sender.#onDisconnect();
    }

    reattach(connection: RheaConnection): void {
      this.#sender.#reattach(connection);
    }

    onConnectionClosed(error: Error): void {
      this.#sender.#onConnectionClosed(error);
    }

    onSessionClosed(context: RheaEventContext, error: SessionError | undefined): void {
      this.#sender.#onSessionClosed(context, error);
    }
  };
}

function errorFromInit(linkName: string, init: AmqpErrorInit | undefined): AmqpError | undefined {
  if (init === undefined) return undefined;
  return new LinkError(linkName, init.condition, init.description, { info: init.info });
}

function asAmqpError(error: Error): AmqpError | undefined {
  const candidate = error as Partial<AmqpError>;
  return typeof candidate.condition === 'string' ? (error as AmqpError) : undefined;
}

/** Whether an attach's capability field (one symbol or an array of them) names `capability`. */
export function hasCapability(field: unknown, capability: string): boolean {
  if (field === undefined || field === null) return false;
  const list: unknown[] = Array.isArray(field) ? field : [field];
  return list.some((entry) => String(entry) === capability);
}

/** A capability field with `capability` added (kept as is when present). */
export function withCapability(field: unknown, capability: string): string[] {
  const list =
    field === undefined || field === null ? [] : Array.isArray(field) ? field.map(String) : [String(field)];
  return list.includes(capability) ? list : [...list, capability];
}

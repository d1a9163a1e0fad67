import { InvalidArgumentError, LinkClosedError } from './errors';
import { toRheaError } from './internal/convert';
import type { LinkHost, ManagedLink } from './internal/link-host';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  isAbsent,
  linkInfoFromAttach,
  resolveMaxMessageSize,
} from './internal/link-options';
import type { RheaReceiver, RheaSender } from './internal/rhea-types';
import { Receiver } from './receiver';
import { Sender, withCapability } from './sender';
import {
  type AmqpErrorInit,
  type LinkInfo,
  type LinkRole,
  SETTLEMENT_CONFIRMATION_CAPABILITY,
} from './types';

export type IncomingLinkState = 'pending' | 'accepted' | 'refused' | 'closed';

const TERMINUS_FIELDS = [
  'address',
  'durable',
  'expiry_policy',
  'timeout',
  'dynamic',
  'dynamic_node_properties',
  'distribution_mode',
  'filter',
  'default_outcome',
  'outcomes',
  'capabilities',
] as const;

function copyTerminus(raw: unknown, address: string | undefined): Record<string, unknown> | undefined {
  if (isAbsent(raw) || typeof raw !== 'object') return undefined;
  const source = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of TERMINUS_FIELDS) {
    const value = source[field];
    if (value !== undefined && value !== null) out[field] = value;
  }
  if (address !== undefined) {
    out.address = address;
    out.dynamic = false;
  }
  return out;
}

/**
 * A link a peer attached to us. `role` is OUR side's role: a peer's receiver makes us the 'sender'.
 * Decide with `acceptSender()` / `acceptReceiver()` or `refuse(error)`.
 *
 * The peer's attach is answered when the 'incomingLink' handlers have run. Decided by then, the answer is
 * exact: an acceptance carries the termini asked for (with the address given for a dynamic one), a refusal
 * is the standard one (an attach without terminus, then a detach with the error). Undecided, the answer
 * echoes the requested termini and settle modes, and a later `refuse` detaches with the error. To decide
 * later and still answer exactly (after an asynchronous authorisation check, or to name a dynamic node),
 * call `defer()` in the handler: the peer then waits for the decision.
 */
export class IncomingLink {
  readonly role: LinkRole;
  /** What the peer asked for: link name, source, target, settle modes, properties. */
  readonly info: LinkInfo;
  readonly #link: RheaSender | RheaReceiver;
  readonly #host: LinkHost;
  readonly #adopt: (link: ManagedLink) => void;
  #state: IncomingLinkState = 'pending';
  #deferred = false;
  #answered = false;
  /** What our attach advertises as max-message-size when we receive. */
  #maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;

  /** @internal */
  constructor(
    link: RheaSender | RheaReceiver,
    role: LinkRole,
    host: LinkHost,
    adopt: (link: ManagedLink) => void,
  ) {
    this.#link = link;
    this.role = role;
    this.#host = host;
    this.#adopt = adopt;
    this.info = linkInfoFromAttach(role, link.remote.attach, link.name);
    const onClose = (): void => {
      if (this.#state === 'pending') this.#state = 'closed';
    };
    link.on(role === 'sender' ? 'sender_close' : 'receiver_close', onClose);
    link.on(role === 'sender' ? 'sender_error' : 'receiver_error', () => {});
    // rhea answers a peer's attach on its next tick. Hold the answer back until the application decides, so
    // that an acceptance carries the termini it chose and a refusal is the standard one.
    const endpoint = (link as unknown as { state: { local_open: boolean; open_requests: number } }).state;
    endpoint.local_open = false;
    endpoint.open_requests = 0;
  }

  get name(): string {
    return this.info.name;
  }

  /** The address of the node the peer wants: the source for our senders, the target for our receivers. */
  get address(): string | undefined {
    return this.role === 'sender' ? this.info.source?.address : this.info.target?.address;
  }

  get state(): IncomingLinkState {
    return this.#state;
  }

  /**
   * Accepts a peer's receiving link: we send on it. `address` fills in the address of a dynamic source.
   * Throws `InvalidArgumentError` for the wrong role, `LinkClosedError` when no longer pending.
   */
  acceptSender(options: { maxQueued?: number; address?: string } = {}): Sender {
    if (this.role !== 'sender')
      throw new InvalidArgumentError(`link '${this.name}' is a receiver on our side`);
    this.#beginAccept(options.address);
    const link = this.#link as RheaSender;
    link.removeAllListeners();
    const info = linkInfoFromAttach('sender', link.local.attach, this.name);
    const sender = new Sender(this.#host, this.name, info.settleModes, { kind: 'remote', link }, options);
    this.#adopt(sender.managed);
    return sender;
  }

  /**
   * Accepts a peer's sending link: we receive on it, with a managed `creditWindow` (default 100) or manual
   * credit (0). `address` fills in the address of a dynamic target. `maxMessageSize`: the largest message
   * taken, in bytes (default 2 MiB, 0 for no limit), advertised in our attach; it applies only while the attach
   * is not answered yet (accepted in the 'incomingLink' handler, or after `defer()`), else the default
   * advertised stands. A larger message detaches the link with `amqp:link:message-size-exceeded`.
   */
  acceptReceiver(
    options: { creditWindow?: number; address?: string; maxMessageSize?: number } = {},
  ): Receiver {
    if (this.role !== 'receiver')
      throw new InvalidArgumentError(`link '${this.name}' is a sender on our side`);
    const maxMessageSize = resolveMaxMessageSize(options.maxMessageSize, undefined);
    if (maxMessageSize !== undefined && !this.#answered) this.#maxMessageSize = maxMessageSize;
    this.#beginAccept(options.address);
    const link = this.#link as RheaReceiver;
    link.removeAllListeners();
    const info = linkInfoFromAttach('receiver', link.local.attach, this.name);
    const receiver = new Receiver(this.#host, this.name, info.settleModes, { kind: 'remote', link }, options);
    this.#adopt(receiver.managed);
    return receiver;
  }

  /** Refuses the link: detaches it with `error` (default `amqp:not-allowed`). No-op once decided. */
  refuse(error: AmqpErrorInit = { condition: 'amqp:not-allowed', description: 'link refused' }): void {
    if (this.#state !== 'pending') return;
    this.#state = 'refused';
    // Not answered yet: the standard refusal, an attach without terminus, then the detach with the error.
    this.#answer();
    this.#link.close(toRheaError(error) as Parameters<RheaSender['close']>[0]);
  }

  /** Call inside the 'incomingLink' handler to answer the peer only once accepted or refused. */
  defer(): void {
    if (this.#state === 'pending') this.#deferred = true;
  }

  /** @internal Called after the 'incomingLink' handlers ran. */
  afterAnnounce(): void {
    if (this.#state !== 'pending' || this.#deferred) return;
    this.#mirror(undefined);
    this.#answer();
  }

  #answer(): void {
    if (this.#answered) return;
    this.#answered = true;
    this.#link.open();
  }

  #beginAccept(address: string | undefined): void {
    if (this.#state !== 'pending') {
      throw new LinkClosedError(this.name, `link '${this.name}' is ${this.#state}, it cannot be accepted`);
    }
    if (!this.#link.is_remote_open()) {
      this.#state = 'closed';
      throw new LinkClosedError(this.name, `link '${this.name}' was detached by the peer`);
    }
    this.#state = 'accepted';
    if (!this.#answered) {
      this.#mirror(address);
      this.#answer();
    }
  }

  /** Our attach echoes the peer's termini (with `address` for a dynamic one) and settle modes. */
  #mirror(address: string | undefined): void {
    const link = this.#link;
    const remote = link.remote.attach ?? {};
    const local = link.local.attach;
    const source = copyTerminus(remote.source, this.role === 'sender' ? address : undefined);
    const target = copyTerminus(remote.target, this.role === 'receiver' ? address : undefined);
    if (source !== undefined) link.set_source(source as unknown as Parameters<RheaSender['set_source']>[0]);
    if (target !== undefined) link.set_target(target as unknown as Parameters<RheaSender['set_target']>[0]);
    if (typeof remote.snd_settle_mode === 'number') local.snd_settle_mode = remote.snd_settle_mode;
    if (typeof remote.rcv_settle_mode === 'number') local.rcv_settle_mode = remote.rcv_settle_mode;
    // The limit lean-deliveries.ts enforces, stated to the peer (even on a link still undecided).
    if (this.role === 'receiver') local.max_message_size = this.#maxMessageSize;
    if (local.rcv_settle_mode === 1) {
      // Exactly-once: a receiver offers to confirm its settlement, a sender desires it (see the capability).
      const field = this.role === 'receiver' ? 'offered_capabilities' : 'desired_capabilities';
      local[field] = withCapability(local[field], SETTLEMENT_CONFIRMATION_CAPABILITY);
    }
  }
}

// rhea builds each delivery as an object literal with its methods as fresh closures: five per incoming delivery
// (update, accept, release, reject, modified), one per outgoing one (update), and it deletes the incoming one's
// `frames` once read, which turns the object into a slow dictionary. That is most of what a transfer costs rhea
// in garbage. On the connections this package makes, each session makes its deliveries as instances of the two
// classes below instead: the same fields, the same methods, doing what rhea's do, on the prototype. Everything
// else about receiving and sending is rhea's own code path, followed step for step — but for one bound rhea
// lacks: a delivery's payload is collected only up to the receiving link's max-message-size (its attach), and
// a delivery beyond it is dropped and the link detached with amqp:link:message-size-exceeded (AMQP 1.0
// §2.7.3, §2.8.15), where rhea collects the frames of a delivery without end until its last one comes.
import { rhea } from './rhea';
import type { RheaConnection } from './rhea-types';

interface Outcomes {
  accepted(): { described(): unknown };
  released(): { described(): unknown };
  rejected(fields: { error: unknown }): { described(): unknown };
  modified(fields: unknown): { described(): unknown };
  decode(bytes: Buffer | undefined): unknown;
}

const outcomes = (rhea as unknown as { message: Outcomes }).message;

interface LinkInternals {
  name: string;
  credit: number;
  delivery_count: number;
  _incomplete: IncomingDelivery | undefined;
  local: { attach: { rcv_settle_mode?: unknown; max_message_size?: unknown } };
  is_remote_open(): boolean;
  close(error: unknown): void;
  dispatch(event: string, context: unknown): void;
  session: { connection: { container?: unknown } };
}

interface Deliveries<D> {
  push(delivery: D): void;
}

interface IncomingInternals {
  next_transfer_id: number;
  next_delivery_id: number | null | undefined;
  deliveries: Deliveries<IncomingDelivery>;
  update(delivery: IncomingDelivery, settled: unknown, state: unknown): void;
  on_transfer(frame: TransferFrame, receiver: LinkInternals): void;
}

interface OutgoingInternals {
  next_delivery_id: number;
  deliveries: Deliveries<OutgoingDelivery>;
  connection: { remote: { open?: { max_frame_size?: unknown } } };
  update(delivery: OutgoingDelivery, settled: boolean, state: unknown): void;
  compute_max_payload(tag: Buffer): number | undefined;
  send(sender: unknown, tag: Buffer, data: Buffer, format?: number): OutgoingDelivery;
  /** The peer's open frame that `peerMaxFrameSize` was read from (see `maxPayloadOf`). */
  peerOpen: unknown;
  peerMaxFrameSize: unknown;
}

interface TransferFrame {
  performative: {
    delivery_id?: number | null;
    delivery_tag?: unknown;
    message_format?: number | null;
    settled?: unknown;
    state?: unknown;
    more?: unknown;
  };
  payload?: Buffer;
}

/** A delivery this end receives: rhea's incoming delivery, as a class. */
class IncomingDelivery {
  readonly id: number | null | undefined;
  readonly tag: unknown;
  readonly format: number | null | undefined;
  readonly link: LinkInternals;
  settled = false;
  state: unknown = undefined;
  remote_settled: unknown;
  remote_state: unknown;
  /** The payloads of a delivery sent in several transfers, until its last one; undefined once dropped. */
  frames: Array<Buffer | undefined> | undefined;
  /** Payload bytes received so far. */
  size: number;
  incomplete: unknown = undefined;
  readonly #incoming: IncomingInternals;

  constructor(incoming: IncomingInternals, receiver: LinkInternals, frame: TransferFrame) {
    const performative = frame.performative;
    this.id = performative.delivery_id;
    this.tag = performative.delivery_tag;
    this.format = performative.message_format;
    this.link = receiver;
    this.remote_settled = performative.settled === undefined ? false : performative.settled;
    this.remote_state = performative.state;
    this.frames = [frame.payload];
    // A handed-off message (message-hand-off.ts) is an object, not bytes: nothing to count.
    this.size = frame.payload instanceof Uint8Array ? frame.payload.length : 0;
    this.#incoming = incoming;
  }

  update(settled: unknown, state: unknown): void {
    const settledNow = settled === undefined ? this.link.local.attach.rcv_settle_mode !== 1 : settled;
    this.#incoming.update(this, settledNow, state);
  }

  accept(): void {
    this.update(undefined, outcomes.accepted().described());
  }

  release(params?: unknown): void {
    if (params) this.update(undefined, outcomes.modified(params).described());
    else this.update(undefined, outcomes.released().described());
  }

  reject(error?: unknown): void {
    this.update(undefined, outcomes.rejected({ error }).described());
  }

  modified(params?: unknown): void {
    this.update(undefined, outcomes.modified(params).described());
  }
}

/** A delivery this end sends: rhea's outgoing delivery, as a class. */
class OutgoingDelivery {
  readonly id: number;
  readonly tag: Buffer;
  readonly link: unknown;
  readonly data: Buffer[];
  readonly format: number;
  next_to_send = 0;
  sent = false;
  settled = false;
  state: unknown = undefined;
  remote_settled = false;
  remote_state: unknown = undefined;
  readonly #outgoing: OutgoingInternals;

  constructor(
    outgoing: OutgoingInternals,
    id: number,
    sender: unknown,
    tag: Buffer,
    data: Buffer[],
    format: number,
  ) {
    this.id = id;
    this.tag = tag;
    this.link = sender;
    this.data = data;
    this.format = format;
    this.#outgoing = outgoing;
  }

  update(settled: boolean, state: unknown): void {
    this.#outgoing.update(this, settled, state);
  }
}

/** The link error for a message larger than the receiving link takes (AMQP 1.0 §2.8.15). */
export const MESSAGE_SIZE_EXCEEDED = 'amqp:link:message-size-exceeded';

/**
 * What a receiving link is told when it was detached for a message too large: its context carries the
 * `error` the detach carries. (The link's Receiver ends with that error.)
 */
export const MESSAGE_SIZE_EXCEEDED_EVENT = 'receiver_message_size_exceeded';

/** Receiving links detached for a message too large: what still comes on them (sent before the peer saw the detach) is dropped. */
const refusing = new WeakSet<LinkInternals>();

/** The link's max-message-size from its attach; 0 (or none) is no limit. */
function maxMessageSize(receiver: LinkInternals): number {
  const limit = receiver.local.attach.max_message_size;
  return typeof limit === 'number' && limit > 0 ? limit : 0;
}

/** Drops what `delivery` collected and, the first time, detaches its link with message-size-exceeded. */
function refuse(receiver: LinkInternals, delivery: IncomingDelivery, more: boolean): void {
  delivery.frames = undefined;
  // Done as far as this end goes: its slot in the session's window frees; the closing detach ends it for the peer.
  delivery.settled = true;
  if (refusing.has(receiver)) return;
  refusing.add(receiver);
  const limit = maxMessageSize(receiver);
  const error = {
    condition: MESSAGE_SIZE_EXCEEDED,
    description: `delivery ${String(delivery.id)} on link '${receiver.name}' is ${more ? 'more than ' : ''}${delivery.size} bytes, above the link's max-message-size of ${limit} bytes`,
  };
  receiver.close(error);
  const session = receiver.session;
  receiver.dispatch(MESSAGE_SIZE_EXCEEDED_EVENT, {
    error,
    receiver,
    session,
    connection: session.connection,
    container: session.connection.container,
  });
}

/** rhea's Incoming.on_transfer, making an IncomingDelivery, with the bound on a delivery's size (see above). */
function onTransfer(this: IncomingInternals, frame: TransferFrame, receiver: LinkInternals): void {
  this.next_transfer_id++;
  if (!receiver.is_remote_open()) throw Error('transfer after detach');
  const deliveryId = frame.performative.delivery_id;
  if (this.next_delivery_id === undefined) this.next_delivery_id = deliveryId;
  let current: IncomingDelivery;
  if (receiver._incomplete) {
    current = receiver._incomplete;
    if (deliveryId !== undefined && deliveryId !== null && current.id !== deliveryId) {
      throw Error(`frame sequence error: delivery ${current.id} not complete, got ${deliveryId}`);
    }
    if (frame.payload) {
      current.size += frame.payload.length;
      current.frames?.push(frame.payload);
    }
  } else if (this.next_delivery_id === deliveryId) {
    current = new IncomingDelivery(this, receiver, frame);
    this.deliveries.push(current);
    this.next_delivery_id = (this.next_delivery_id as number) + 1; // rhea's ++ (a null id counts as 0)
  } else {
    throw Error(`frame sequence error: expected ${this.next_delivery_id}, got ${deliveryId}`);
  }
  current.incomplete = frame.performative.more;
  if (current.frames !== undefined) {
    const limit = maxMessageSize(receiver);
    if ((limit > 0 && current.size > limit) || refusing.has(receiver)) {
      refuse(receiver, current, current.incomplete === true);
    }
  }
  if (current.incomplete) {
    receiver._incomplete = current;
    return;
  }
  receiver._incomplete = undefined;
  const frames = current.frames;
  if (frames === undefined) return; // refused: nothing to hand on
  const data = frames.length === 1 ? frames[0] : Buffer.concat(frames as Buffer[]);
  current.frames = undefined;
  if (receiver.credit > 0) receiver.credit--;
  else console.error('Received transfer when credit was %d', receiver.credit);
  receiver.delivery_count++;
  // The event context as rhea's _context chain (receiver, session, connection) completes it, made whole at once.
  const session = receiver.session;
  const connection = session.connection;
  const context =
    current.format === 0
      ? {
          message: outcomes.decode(data),
          delivery: current,
          receiver,
          session,
          connection,
          container: connection.container,
        }
      : {
          message: data,
          delivery: current,
          format: current.format,
          receiver,
          session,
          connection,
          container: connection.container,
        };
  receiver.dispatch('message', context);
}

/**
 * rhea's Outgoing.compute_max_payload, reading the peer's max-frame-size once per open frame it sent (a
 * reconnect brings a new one, read then) instead of at every send: rhea reads it through its getter on the
 * open frame, which unwraps the field afresh, allocating, each time.
 */
export function maxPayloadOf(outgoing: OutgoingInternals, tag: Buffer): number | undefined {
  const open = outgoing.connection.remote.open;
  if (open !== outgoing.peerOpen) {
    outgoing.peerOpen = open;
    outgoing.peerMaxFrameSize = open?.max_frame_size;
  }
  const maxFrameSize = outgoing.peerMaxFrameSize;
  return maxFrameSize ? (maxFrameSize as number) - (50 + tag.length) : undefined;
}

/** rhea's Outgoing.send, making an OutgoingDelivery. */
function send(
  this: OutgoingInternals,
  sender: unknown,
  tag: Buffer,
  data: Buffer,
  format?: number,
): OutgoingDelivery {
  const maxPayload = maxPayloadOf(this, tag);
  let fragments: Buffer[];
  if (maxPayload && data.length > maxPayload) {
    fragments = [];
    for (let start = 0; start < data.length; start += maxPayload) {
      fragments.push(data.subarray(start, Math.min(start + maxPayload, data.length)));
    }
  } else {
    fragments = [data];
  }
  const delivery = new OutgoingDelivery(
    this,
    this.next_delivery_id++,
    sender,
    tag,
    fragments,
    format ? format : 0,
  );
  this.deliveries.push(delivery);
  return delivery;
}

interface SessionInternals {
  incoming?: Partial<IncomingInternals>;
  outgoing?: Partial<OutgoingInternals>;
}

/** Makes every session `connection` creates from now on build its deliveries as classes (see above). */
export function makeLeanDeliveries(connection: RheaConnection): void {
  const target = connection as unknown as { create_session?: (size?: unknown) => SessionInternals };
  const create = target.create_session;
  if (typeof create !== 'function' || typeof outcomes?.accepted !== 'function') return; // not the rhea we know
  target.create_session = function (this: unknown, size?: unknown): SessionInternals {
    const session = create.call(this, size);
    const incoming = session.incoming;
    const outgoing = session.outgoing;
    // Replaced only where rhea's own methods are there to replace; otherwise rhea keeps its own.
    if (typeof incoming?.on_transfer === 'function' && typeof incoming.update === 'function') {
      incoming.on_transfer = onTransfer as IncomingInternals['on_transfer'];
    }
    if (
      typeof outgoing?.send === 'function' &&
      typeof outgoing.compute_max_payload === 'function' &&
      typeof outgoing.connection?.remote === 'object'
    ) {
      outgoing.send = send as OutgoingInternals['send'];
      outgoing.peerOpen = undefined;
      outgoing.peerMaxFrameSize = undefined;
    }
    return session;
  };
}

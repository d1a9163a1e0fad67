// rhea's processing round (scheduled after every frame read and every send) makes garbage even when it has
// nothing to do: a bound function per scheduling, a key list per round to walk the connection's sessions, and in
// every session a new `updated` array, a new predicate closure per direction, and an event context grown
// property by property for every outcome it reports. On the connections this package makes, the connection's
// scheduling and session walk, and each session's outgoing and incoming processing, are replaced by the same
// steps without that garbage: the arrays are emptied and reused, the predicates made once, the sessions kept in
// a list, the contexts made whole. The steps and their order are rhea's, and so are the frames but for the
// dispositions (see `writeDispositions`: fewer ranges, and none that mixes outcomes). rhea's flow and event
// logging in these steps is left out: with DEBUG=rhea… none of this is installed.
import rheaFrames from 'rhea/lib/frames.js';
import { sentTransfer } from './lean-performatives';
import { rhea } from './rhea';
import { rheaLogs } from './rhea-logging';
import type { RheaConnection } from './rhea-types';

interface Outcomes {
  are_outcomes_equivalent(a: unknown, b: unknown): boolean;
}

const outcomes = (rhea as unknown as { message: Outcomes }).message;
/** rhea's frame factories, looked up at each call: lean-performatives.ts may replace them after this loads. */
const frames = rheaFrames as {
  disposition?: (fields: Record<string, unknown>) => unknown;
  transfer?: (fields: Record<string, unknown>) => unknown;
};

interface LinkInternals {
  credit: number;
  delivery_count: number;
  local: { handle: number };
  session: SessionInternals;
  connection: { container?: unknown };
  has_credit(): boolean;
  is_receiver(): boolean;
  dispatch(event: string, context: unknown): unknown;
}

interface DeliveryInternals {
  id: number;
  tag: unknown;
  format: number;
  data: Buffer[];
  next_to_send: number;
  settled: boolean;
  remote_settled: unknown;
  remote_state?: { constructor: { composite_type?: string } };
  state: unknown;
  link: LinkInternals;
}

interface Window {
  by_id(id: number): DeliveryInternals | undefined;
  pop_if(done: (delivery: DeliveryInternals) => boolean): number;
}

interface OutgoingInternals {
  next_pending_delivery: number;
  next_delivery_id: number;
  next_transfer_id: number;
  window: number;
  deliveries: Window;
  updated: DeliveryInternals[];
  pending_dispositions: DeliveryInternals[];
  transfer_window(): number;
  process(): void;
}

interface IncomingInternals {
  max_transfer_id: number;
  next_transfer_id: number;
  readonly window: number;
  deliveries: Window;
  updated: DeliveryInternals[];
  process(session: SessionInternals): void;
}

interface SessionInternals {
  local: { channel: number };
  outgoing: OutgoingInternals;
  incoming: IncomingInternals;
  output(frame: unknown, payload?: Buffer): void;
  _write_flow(): void;
  _process(): void;
}

interface ConnectionInternals {
  registered: boolean;
  local_channel_map: Record<number, SessionInternals | undefined>;
  state: { need_open(): boolean; need_close(): boolean; has_settled(): boolean };
  _write_open(): void;
  _write_close(): void;
  _process(): void;
  _register(): void;
  create_session(size?: unknown): SessionInternals;
}

const fullyDone = (delivery: DeliveryInternals): boolean =>
  delivery.settled && Boolean(delivery.remote_settled);
const settledHere = (delivery: DeliveryInternals): boolean => delivery.settled;

/** The context rhea's `link._context({ delivery })` makes, made whole. */
function deliveryContext(link: LinkInternals, delivery: DeliveryInternals): unknown {
  const session = link.session;
  const connection = link.connection;
  return link.is_receiver()
    ? { delivery, receiver: link, session, connection, container: connection.container }
    : { delivery, sender: link, session, connection, container: connection.container };
}

/** One disposition frame for the deliveries `first` to `last`, with `first`'s outcome and settlement. */
function writeRange(first: DeliveryInternals, last: DeliveryInternals): void {
  const disposition = frames.disposition as (fields: Record<string, unknown>) => unknown;
  first.link.session.output(
    disposition({
      role: first.link.is_receiver(),
      first: first.id,
      last: last.id,
      state: first.state,
      settled: first.settled,
    }),
  );
}

const byId = (a: DeliveryInternals, b: DeliveryInternals): number => a.id - b.id;

/**
 * rhea's write_dispositions: consecutive deliveries with the same outcome and settlement share a range (only
 * `accepted` ones, see `are_outcomes_equivalent`). Two differences from rhea. The deliveries are put in id
 * order first (in place: the caller empties the list next): a disposition names a range of the session's
 * delivery ids, whatever link each belongs to, so the order in which a round's outcomes were given does not
 * matter to the peer, and given out of order (a router settling several links' deliveries in turn) they took
 * nearly a frame each. And each delivery's outcome is compared with the one before it, the second of a range
 * too: rhea compares from the third on, so a range could start with an accepted delivery and a rejected one
 * and report both accepted. (A delivery updated twice in a round gets one frame instead of two alike.)
 */
function writeDispositions(deliveries: DeliveryInternals[]): void {
  for (let i = 1; i < deliveries.length; i++) {
    if ((deliveries[i - 1] as DeliveryInternals).id > (deliveries[i] as DeliveryInternals).id) {
      deliveries.sort(byId);
      break;
    }
  }
  let first: DeliveryInternals | undefined;
  let last: DeliveryInternals | undefined;
  for (let i = 0; i < deliveries.length; i++) {
    const delivery = deliveries[i] as DeliveryInternals;
    if (first === undefined || last === undefined) {
      first = delivery;
      last = delivery;
      continue;
    }
    // Updated twice in the round (listed twice, next to each other once sorted): its present state goes once.
    if (delivery === last) continue;
    if (
      delivery.id !== last.id + 1 ||
      delivery.settled !== last.settled ||
      !outcomes.are_outcomes_equivalent(last.state, delivery.state)
    ) {
      writeRange(first, last);
      first = delivery;
    }
    last = delivery;
  }
  if (first !== undefined && last !== undefined) writeRange(first, last);
}

/** rhea's Outgoing.process. */
function processOutgoing(this: OutgoingInternals): void {
  // Send pending deliveries for which there is credit.
  while (this.next_pending_delivery < this.next_delivery_id) {
    const d = this.deliveries.by_id(this.next_pending_delivery);
    if (d === undefined) {
      console.error(`ERROR: Next pending delivery not found: ${this.next_pending_delivery}`);
      break;
    }
    if (!d.link.has_credit()) break;
    const count = Math.min(this.transfer_window(), d.data.length - d.next_to_send);
    if (count <= 0) break;
    this.window -= count;
    const endOfSend = d.next_to_send + count;
    for (let i = d.next_to_send; i < endOfSend; i++) {
      this.next_transfer_id++;
      const more = i + 1 < d.data.length;
      const frame = sentTransfer({
        handle: d.link.local.handle,
        delivery_id: d.id,
        delivery_tag: d.tag,
        message_format: d.format,
        settled: d.settled,
        more,
      });
      d.link.session.output(frame, d.data[i]);
    }
    if (endOfSend < d.data.length) {
      d.next_to_send = endOfSend;
      break;
    }
    if (d.settled) d.remote_settled = true; // sent pre-settled: it can now be cleaned up
    d.link.credit--;
    d.link.delivery_count++;
    this.next_pending_delivery++;
  }
  // Tell the application of updated deliveries: the outcome and the settlement with one context (rhea makes
  // one for each; they hold the same).
  const updated = this.updated;
  for (let i = 0; i < updated.length; i++) {
    const d = updated[i] as DeliveryInternals;
    const outcome = d.remote_state?.constructor.composite_type;
    let context: unknown;
    if (d.remote_state && outcome) {
      context = deliveryContext(d.link, d);
      d.link.dispatch(outcome, context);
    }
    if (d.remote_settled) d.link.dispatch('settled', context ?? deliveryContext(d.link, d));
  }
  updated.length = 0;
  if (this.pending_dispositions.length > 0) {
    writeDispositions(this.pending_dispositions);
    this.pending_dispositions.length = 0;
  }
  // Remove fully settled deliveries.
  this.deliveries.pop_if(fullyDone);
}

/** rhea's Incoming.process. */
function processIncoming(this: IncomingInternals, session: SessionInternals): void {
  if (this.updated.length > 0) {
    writeDispositions(this.updated);
    this.updated.length = 0;
  }
  // Remove settled deliveries.
  this.deliveries.pop_if(settledHere);
  if (this.max_transfer_id - this.next_transfer_id < this.window / 2) session._write_flow();
}

/** Gives `connection`, and every session it creates from now on, the processing above. */
export function processWithoutGarbage(connection: RheaConnection): void {
  const target = connection as unknown as ConnectionInternals;
  const create = target.create_session;
  if (rheaLogs() || typeof frames.disposition !== 'function' || typeof frames.transfer !== 'function') return;
  if (
    typeof create !== 'function' ||
    typeof target._process !== 'function' ||
    typeof target._register !== 'function'
  )
    return; // not the rhea we know: it keeps its own processing
  if (typeof target.local_channel_map !== 'object' || typeof outcomes?.are_outcomes_equivalent !== 'function')
    return;

  // The sessions in the order they were made; one that rhea removed from the channel map is dropped here too.
  let sessions: SessionInternals[] = [];
  target.create_session = function (this: ConnectionInternals, size?: unknown): SessionInternals {
    const session = create.call(this, size);
    sessions.push(session);
    const outgoing = session.outgoing;
    const incoming = session.incoming;
    if (typeof outgoing?.process === 'function' && Array.isArray(outgoing.updated)) {
      outgoing.process = processOutgoing;
    }
    if (typeof incoming?.process === 'function' && Array.isArray(incoming.updated)) {
      incoming.process = processIncoming;
    }
    return session;
  };

  target._process = function (this: ConnectionInternals): void {
    this.registered = false;
    do {
      if (this.state.need_open()) this._write_open();
      const map = this.local_channel_map;
      let removed = false;
      for (let i = 0; i < sessions.length; i++) {
        const session = sessions[i] as SessionInternals;
        if (map[session.local.channel] === session) session._process();
        else removed = true;
      }
      if (removed) sessions = sessions.filter((session) => map[session.local.channel] === session);
      if (this.state.need_close()) this._write_close();
    } while (!this.state.has_settled());
  };

  const processNow = (): void => target._process();
  target._register = function (this: ConnectionInternals): void {
    if (!this.registered) {
      this.registered = true;
      process.nextTick(processNow);
    }
  };
}

import { EventEmitter, once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import rhea, {
  type Connection,
  type Container,
  type Delivery,
  type EventContext,
  type Receiver,
  type Sender,
} from 'rhea';

/** Waits for `event`, failing after `ms`: tests wait on events, never on sleeps. */
export async function waitFor<T extends unknown[] = unknown[]>(
  emitter: EventEmitter | { on: EventEmitter['on']; off: EventEmitter['off'] },
  event: string,
  ms = 10_000,
): Promise<T> {
  return (await once(emitter as EventEmitter, event, { signal: AbortSignal.timeout(ms) })) as T;
}

/** Re-checks `predicate` on each `event` of `emitter` until it holds, failing after `ms`. */
export async function waitUntil(
  emitter: EventEmitter,
  event: string,
  predicate: () => boolean,
  ms = 10_000,
): Promise<void> {
  if (predicate()) return;
  const signal = AbortSignal.timeout(ms);
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (!predicate()) return;
      cleanup();
      resolve();
    };
    const onAbort = (): void => {
      cleanup();
      reject(new Error(`condition not met within ${ms} ms (waiting on '${event}')`));
    };
    const cleanup = (): void => {
      emitter.off(event, check);
      signal.removeEventListener('abort', onAbort);
    };
    emitter.on(event, check);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** How the peer ends a link once its offer is sent: a clean detach, or a detach with an error. */
export type PeerEnd = 'detach' | { readonly condition: string; readonly description: string };

/** rhea's sender as it is at run time: its typings omit the flow-control state. */
export type WireSender = Sender & { readonly credit: number; readonly delivery_count: number };
/** rhea's receiver as it is at run time. */
export type WireReceiver = Receiver & { readonly credit: number };

/** One link our code attached to the peer, seen from the peer's side. */
export interface PeerSenderLink {
  readonly link: WireSender;
  readonly address: string;
  /** The link credit the peer holds now: what our side granted and the peer has not used. */
  readonly credit: number;
  /** Transfers sent, and outcomes received, by the peer on this link. */
  sent: number;
  settled: number;
  /**
   * Highest number of this link's deliveries sent and not yet settled by our side, read right after each
   * send from the disposition state rhea records on arrival (its outcome events come later).
   */
  maxOutstanding: number;
  readonly queue: unknown[];
  /** Queues bodies and sends them as credit allows; `end` detaches once they are all sent. */
  offer(bodies: readonly unknown[], end?: PeerEnd): void;
}

/**
 * rhea used directly as the foreign AMQP peer: a listener on 127.0.0.1:0 that accepts every link. Links our
 * code opens as receivers are peer-side senders (`senders`); links it opens as senders are peer-side
 * receivers (`receivers`), which grant credit from `creditWindow` and accept every message.
 */
export class RheaPeer extends EventEmitter {
  readonly container: Container;
  readonly senders: PeerSenderLink[] = [];
  readonly receivers: Receiver[] = [];
  readonly received: { address: string; body: unknown }[] = [];
  readonly connections = new Set<Connection>();
  private server: Server | undefined;
  /** Credit window of peer-side receivers; 0 means the test grants credit itself. */
  receiverCreditWindow = 10;
  /** Whether peer-side receivers accept what they get (else the test settles). */
  autoAccept = true;
  /** What every link attached to an address is offered at once (see `script`). */
  private readonly scripts = new Map<string, { bodies: readonly unknown[]; end: PeerEnd | undefined }>();

  /** Every receiver link attached to `address` from now on is offered `bodies`, then ended as `end` says. */
  script(address: string, bodies: readonly unknown[], end?: PeerEnd): void {
    this.scripts.set(address, { bodies, end });
  }

  constructor() {
    super();
    // Peer-side receivers grant credit and settle only as the test says (no rhea credit window, no auto-accept).
    this.container = rhea.create_container({
      id: 'rhea-peer',
      receiver_options: { credit_window: 0, autoaccept: false },
      sender_options: { treat_modified_as_released: false },
    });
    this.container.on('connection_open', (context: EventContext) => {
      this.connections.add(context.connection);
    });
    this.container.on('disconnected', () => undefined);
    this.container.on('connection_error', () => undefined);
    this.container.on('sender_open', (context: EventContext) => this.onSenderOpen(context));
    this.container.on('receiver_open', (context: EventContext) => this.onReceiverOpen(context));
    this.container.on('sender_close', (c: EventContext) => this.emit('linkClosed', c.sender));
    this.container.on('receiver_close', (c: EventContext) => this.emit('linkClosed', c.receiver));
    this.container.on('sender_error', () => undefined);
    this.container.on('receiver_error', () => undefined);
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (address === undefined) throw new Error('the peer is not listening');
    return `amqp://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    this.server = this.container.listen({ port: 0, host: '127.0.0.1' }) as unknown as Server;
    await waitFor(this.server, 'listening');
    return this;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.close();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The peer-side sender serving `address`, once attached. */
  async senderFor(address: string, index = 0): Promise<PeerSenderLink> {
    const find = (): PeerSenderLink | undefined => this.senders.filter((s) => s.address === address)[index];
    await waitUntil(this, 'sender', () => find() !== undefined);
    return find() as PeerSenderLink;
  }

  async receiverFor(address: string): Promise<Receiver> {
    const find = (): Receiver | undefined => this.receivers.find((r) => r.target.address === address);
    await waitUntil(this, 'receiver', () => find() !== undefined);
    return find() as Receiver;
  }

  private onSenderOpen(context: EventContext): void {
    const link = context.sender as WireSender;
    mirrorTermini(link);
    let end: PeerEnd | undefined;
    const unsettled = new Set<Delivery>();
    const state: PeerSenderLink = {
      link,
      address: link.source?.address ?? '',
      get credit() {
        return link.credit;
      },
      sent: 0,
      settled: 0,
      maxOutstanding: 0,
      queue: [],
      offer(bodies, ending) {
        state.queue.push(...bodies);
        end = ending;
        pump();
      },
    };
    const pump = (): void => {
      // rhea's credit only drops when a transfer is written: count what is handed over but not yet written.
      while (state.queue.length > 0 && link.credit - (state.sent - link.delivery_count) > 0) {
        unsettled.add(link.send({ body: state.queue.shift() }));
        state.sent += 1;
        for (const delivery of unsettled) if (delivery.remote_settled) unsettled.delete(delivery);
        state.maxOutstanding = Math.max(state.maxOutstanding, unsettled.size);
      }
      if (state.queue.length === 0 && end !== undefined && link.is_open()) {
        if (end === 'detach') link.close();
        else link.close({ condition: end.condition, description: end.description });
        end = undefined;
      }
      this.emit('flow', state);
    };
    link.on('sendable', pump);
    link.on('sender_flow', () => this.emit('flow', state));
    for (const outcome of ['accepted', 'rejected', 'released', 'modified'] as const) {
      link.on(outcome, (c: EventContext) => {
        state.settled += 1;
        this.emit('outcome', outcome, c, state);
      });
    }
    this.senders.push(state);
    this.emit('sender', state);
    const script = this.scripts.get(state.address);
    if (script !== undefined) state.offer(script.bodies, script.end);
  }

  private onReceiverOpen(context: EventContext): void {
    const link = context.receiver as Receiver;
    mirrorTermini(link);
    if (this.receiverCreditWindow > 0) link.add_credit(this.receiverCreditWindow);
    // rhea hands an event to the container only when the link has no listener: handle it all here.
    link.on('message', (context: EventContext) => {
      this.received.push({ address: link.target?.address ?? '', body: context.message?.body });
      if (this.autoAccept) context.delivery?.accept();
      if (this.receiverCreditWindow > 0) link.add_credit(1);
      this.emit('message', context);
    });
    this.receivers.push(link);
    this.emit('receiver', link);
  }
}

/** Answers an attach with the termini asked for, as a broker does (the attach goes out after this handler). */
function mirrorTermini(link: Sender | Receiver): void {
  const remote = (link as unknown as { remote: { attach?: { source?: object; target?: object } } }).remote
    .attach;
  if (remote?.source) link.set_source(remote.source as Parameters<Sender['set_source']>[0]);
  if (remote?.target) link.set_target(remote.target as Parameters<Sender['set_target']>[0]);
}

/** Starts a peer; pair with `await peer.close()` in afterEach. */
export function startPeer(): Promise<RheaPeer> {
  return new RheaPeer().start();
}

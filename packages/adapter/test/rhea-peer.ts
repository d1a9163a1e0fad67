import { EventEmitter } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import rhea, { type Delivery, type EventContext, type Message, type Sender } from 'rhea';

/** rhea's link fields its typings leave out. */
interface LinkFields {
  readonly credit: number;
  readonly remote: { readonly attach?: { source?: { address?: string }; target?: { address?: string } } };
}
/** A rhea sending link of the peer. */
export type PeerSender = Sender & LinkFields;

/** What the peer does with a message it receives. `hold` leaves it unsettled (no outcome ever comes). */
export type Verdict = 'accept' | 'reject' | 'release' | 'modify' | 'hold';

export interface ReceivedByPeer {
  readonly address: string;
  readonly message: Message;
  readonly delivery: Delivery;
}

export interface PeerOptions {
  /** Credit the peer grants each link our side sends on, once attached. 0 withholds credit. Default 10. */
  readonly credit?: number;
  /** Outcome per received message. Default: accept. */
  readonly verdict?: (received: ReceivedByPeer) => Verdict;
}

/**
 * An AMQP peer made of rhea alone (no Dragoman code): it listens on 127.0.0.1, grants a fixed credit to the
 * links we send on and settles each message as `verdict` says, and exposes its senders (our receivers'
 * peers) so that tests can read the credit we granted and send commands.
 */
export class RheaPeer extends EventEmitter<{
  message: [ReceivedByPeer];
  senderOpen: [Sender];
  flow: [Sender];
}> {
  readonly received: ReceivedByPeer[] = [];
  /** The peer's sending links, by address (our command receivers attach to them). */
  readonly senders = new Map<string, PeerSender>();
  readonly #server: Server;
  readonly #options: PeerOptions;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, options: PeerOptions) {
    super();
    this.#server = server;
    this.#options = options;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(options: PeerOptions = {}): Promise<RheaPeer> {
    const container = rhea.create_container({ id: 'rhea-peer' });
    const server = container.listen({
      host: '127.0.0.1',
      port: 0,
      receiver_options: { credit_window: 0, autoaccept: false },
      sender_options: { autosettle: true },
    } as unknown as Parameters<typeof container.listen>[0]) as unknown as Server;
    const peer = new RheaPeer(server, options);
    container.on('receiver_open', (context: EventContext) => {
      const credit = options.credit ?? 10;
      if (credit > 0) context.receiver?.add_credit(credit);
    });
    container.on('message', (context: EventContext) => peer.#onMessage(context));
    container.on('sender_open', (context: EventContext) => {
      const sender = context.sender as PeerSender;
      const address = sender.remote.attach?.source?.address;
      if (address !== undefined) peer.senders.set(address, sender);
      peer.emit('senderOpen', sender);
    });
    container.on('sender_flow', (context: EventContext) => peer.emit('flow', context.sender as Sender));
    container.on('error', () => undefined);
    container.on('disconnected', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return peer;
  }

  get url(): string {
    return `amqp://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Waits until the peer's sender on `address` holds `credit` (the credit our receiver granted). */
  async creditOn(address: string, credit: number, ms = 10_000): Promise<void> {
    const deadline = AbortSignal.timeout(ms);
    const holds = (): boolean => this.senders.get(address)?.credit === credit;
    while (!holds()) {
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          this.off('flow', done);
          this.off('senderOpen', done);
          deadline.removeEventListener('abort', fail);
          resolve();
        };
        const fail = (): void => {
          this.off('flow', done);
          this.off('senderOpen', done);
          reject(
            new Error(`peer sender on ${address} holds ${this.senders.get(address)?.credit}, not ${credit}`),
          );
        };
        this.on('flow', done);
        this.on('senderOpen', done);
        deadline.addEventListener('abort', fail, { once: true });
      });
    }
  }

  /** Waits for the next message the peer receives. */
  nextMessage(ms = 10_000): Promise<ReceivedByPeer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('message', onMessage);
        reject(new Error('the peer received no message in time'));
      }, ms);
      const onMessage = (received: ReceivedByPeer): void => {
        clearTimeout(timer);
        this.off('message', onMessage);
        resolve(received);
      };
      this.on('message', onMessage);
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  #onMessage(context: EventContext): void {
    const receiver = context.receiver;
    const address = (receiver as (typeof receiver & LinkFields) | undefined)?.remote.attach?.target?.address;
    const received: ReceivedByPeer = {
      address: address ?? '',
      message: context.message as Message,
      delivery: context.delivery as Delivery,
    };
    this.received.push(received);
    const verdict = this.#options.verdict?.(received) ?? 'accept';
    const delivery = received.delivery;
    // A pre-settled (QoS 0) delivery takes no outcome.
    if (!delivery.remote_settled) {
      if (verdict === 'accept') delivery.accept();
      else if (verdict === 'reject')
        delivery.reject({ condition: 'amqp:precondition-failed', description: 'not wanted' });
      else if (verdict === 'release') delivery.release();
      else if (verdict === 'modify') delivery.modified({ delivery_failed: true, undeliverable_here: true });
    }
    // Credit given back one for one, so the link does not run dry.
    if (verdict !== 'hold') receiver?.add_credit(1);
    this.emit('message', received);
  }
}

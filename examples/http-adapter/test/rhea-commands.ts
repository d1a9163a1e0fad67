import { EventEmitter, once } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import rhea, { type Delivery, type EventContext, type Message, type Sender } from 'rhea';

/** rhea's sender fields its typings leave out. */
type PeerSender = Sender & {
  readonly credit: number;
  readonly remote: { readonly attach?: { readonly source?: { readonly address?: string } } };
};

/** What became of a command: the adapter's outcome, or `detached` when its link went away without one. */
export type CommandFate = 'accepted' | 'released' | 'rejected' | 'modified' | 'detached';

/**
 * The command side of the AMQP network, made of rhea alone: it serves the links the adapter attaches to
 * `commands/<device>`, tells the credit they hold, sends commands and reports each one's fate.
 */
export class RheaCommands extends EventEmitter<{ link: [string, PeerSender]; flow: [PeerSender] }> {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #fates = new Map<Delivery, (fate: CommandFate) => void>();

  private constructor(server: Server) {
    super();
    this.#server = server;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(): Promise<RheaCommands> {
    const container = rhea.create_container({ id: 'rhea-commands' });
    const server = container.listen({ host: '127.0.0.1', port: 0 } as Parameters<
      typeof container.listen
    >[0]) as unknown as Server;
    const side = new RheaCommands(server);
    container.on('sender_open', (context: EventContext) => {
      const sender = context.sender as PeerSender;
      side.emit('link', sender.remote.attach?.source?.address ?? '', sender);
    });
    container.on('sender_flow', (context: EventContext) => side.emit('flow', context.sender as PeerSender));
    for (const fate of ['accepted', 'released', 'rejected', 'modified'] as const) {
      container.on(fate, (context: EventContext) => side.#settle(context.delivery as Delivery, fate));
    }
    container.on('sender_close', (context: EventContext) => {
      // rhea reports outcomes that arrived with the detach on its next pass: give them that pass first.
      setImmediate(() => {
        for (const delivery of side.#fates.keys()) {
          if (delivery.link === context.sender) side.#settle(delivery, 'detached');
        }
      });
    });
    container.on('error', () => undefined);
    container.on('disconnected', () => undefined);
    await once(server, 'listening');
    return side;
  }

  get url(): string {
    return `amqp://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The next link attached to `address`, once the adapter has granted it credit. */
  async nextLink(address: string, ms = 10_000): Promise<PeerSender> {
    const signal = AbortSignal.timeout(ms);
    let sender: PeerSender | undefined;
    while (sender === undefined) {
      const [at, candidate] = (await once(this, 'link', { signal })) as [string, PeerSender];
      if (at === address) sender = candidate;
    }
    while (sender.credit === 0) await once(this, 'flow', { signal });
    return sender;
  }

  /** Sends a command on `sender`; resolves with its fate. */
  send(sender: PeerSender, message: Message): Promise<CommandFate> {
    const delivery = sender.send(message) as Delivery;
    return new Promise((resolve) => this.#fates.set(delivery, resolve));
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #settle(delivery: Delivery, fate: CommandFate): void {
    const resolve = this.#fates.get(delivery);
    if (resolve === undefined) return;
    this.#fates.delete(delivery);
    resolve(fate);
  }
}

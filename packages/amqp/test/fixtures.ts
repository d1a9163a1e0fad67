import {
  type AmqpConnection,
  type AmqpListener,
  type ConnectOptions,
  connect,
  type IncomingLink,
  type ListenOptions,
  listen,
} from '../src/index';

/** A listener and a client connected to it, with the inbound side of the connection. Close with `close()`. */
export interface Loopback {
  readonly listener: AmqpListener;
  readonly client: AmqpConnection;
  readonly server: AmqpConnection;
  /** The next link the client attaches, as seen by the listener side. */
  nextIncomingLink(): Promise<IncomingLink>;
  close(): Promise<void>;
}

export async function loopback(
  options: { listen?: ListenOptions; connect?: ConnectOptions } = {},
): Promise<Loopback> {
  const listener = await listen(options.listen);
  const incoming: IncomingLink[] = [];
  const waiting: Array<(link: IncomingLink) => void> = [];
  const serverReady = new Promise<AmqpConnection>((resolve) => {
    listener.once('connection', (connection) => {
      connection.on('incomingLink', (link) => {
        const w = waiting.shift();
        if (w !== undefined) w(link);
        else incoming.push(link);
      });
      resolve(connection);
    });
  });
  const client = await connect(listener.url, { reconnect: false, ...options.connect });
  const server = await serverReady;
  return {
    listener,
    client,
    server,
    nextIncomingLink: () => {
      const ready = incoming.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no incoming link in time')), 10_000);
        waiting.push((link) => {
          clearTimeout(timer);
          resolve(link);
        });
      });
    },
    close: async () => {
      await client.close();
      await listener.close();
    },
  };
}

// A peer's frames are bounded by the max-frame-size this end announced: a frame declared larger fails the
// connection before it is buffered, whether it comes before SASL, after it, to our listener or to our client.
import { once } from 'node:events';
import net from 'node:net';
import type { EventContext } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpError,
  type AmqpListener,
  binaryMessage,
  connect,
  DEFAULT_MAX_FRAME_SIZE,
  type Delivery,
  type IncomingLink,
  InvalidArgumentError,
  listen,
  payloadOf,
} from '../src/index';
import { closeClientAndServer, rhea, rheaListen, waitFor } from './helpers';

const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x03, 0x01, 0x00, 0x00]);

let listener: AmqpListener | undefined;
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await listener?.close();
  listener = undefined;
});

/** The 8-byte header of a frame declaring `size` bytes, of `type` (0 AMQP, 1 SASL), then `filler` bytes of it. */
function oversizedFrame(size: number, type: number, filler: number): Buffer {
  const bytes = Buffer.alloc(8 + filler, 0x40);
  bytes.writeUInt32BE(size, 0);
  bytes.set([2, type, 0, 0], 4);
  return bytes;
}

/** Writes `chunks` to our listener from a raw TCP peer and resolves once our end closes the socket. */
async function closedAfter(port: number, chunks: Buffer[]): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {});
  socket.on('data', () => {});
  await once(socket, 'connect');
  for (const chunk of chunks) socket.write(chunk);
  await waitFor(socket, 'close', 10_000);
}

describe('max-frame-size on input', () => {
  it('our listener closes a connection whose peer declares a frame beyond it, before SASL and after', async () => {
    listener = await listen();
    const port = listener.address().port;
    // A frame of 64 MiB declared in the SASL layer, its first 64 KiB sent: no SASL frame is that large.
    await closedAfter(port, [SASL_HEADER, oversizedFrame(64 * 1024 * 1024, 1, 64 * 1024)]);
    // The same in AMQP without SASL (the listener offers ANONYMOUS, so it takes AMQP's header too).
    await closedAfter(port, [AMQP_HEADER, oversizedFrame(DEFAULT_MAX_FRAME_SIZE + 1, 0, 64 * 1024)]);
  });

  it('our client fails with amqp:connection:framing-error when its peer declares a frame beyond it', async () => {
    const container = rhea.create_container({ id: 'oversized-server' });
    const { server, port } = await rheaListen(container);
    let announced: unknown;
    let serverSocket: net.Socket | undefined;
    container.on('connection_open', (context: EventContext) => {
      announced = context.connection.remote.open?.max_frame_size;
      serverSocket = (context.connection as unknown as { socket: net.Socket }).socket;
    });
    container.on('disconnected', () => {});
    let client: AmqpConnection | undefined;
    try {
      client = await connect({ host: '127.0.0.1', port, reconnect: false });
      // The server's own open has arrived: what follows is read as AMQP frames.
      serverSocket?.write(oversizedFrame(0x7fffffff, 0, 1024));
      const [error] = await waitFor<[AmqpError]>(client, 'error', 10_000);
      expect(error.condition).toBe('amqp:connection:framing-error');
      expect(error.message).toMatch(/2147483647 bytes, beyond the max-frame-size of 131072/);
      expect(announced).toBe(DEFAULT_MAX_FRAME_SIZE);
    } finally {
      await closeClientAndServer(client, server);
    }
  });

  it('still takes a message larger than a frame: the peer splits it into several transfers', async () => {
    listener = await listen({ maxFrameSize: 4096 });
    const received: Buffer[] = [];
    listener.on('connection', (connection: AmqpConnection) => {
      connection.on('incomingLink', (link: IncomingLink) => {
        const receiver = link.acceptReceiver({ creditWindow: 5 });
        receiver.on('delivery', (delivery: Delivery) => {
          received.push(payloadOf(delivery.message));
          delivery.accept();
        });
      });
    });
    const client = await connect(listener.url, { reconnect: false });
    try {
      const sender = await client.openSender('big');
      const payload = Buffer.alloc(50_000, 7);
      expect(await sender.send(binaryMessage(payload))).toEqual({ state: 'accepted' });
      expect(received[0]?.equals(payload)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('refuses a max-frame-size AMQP does not allow', async () => {
    await expect(listen({ maxFrameSize: 100 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect({ host: '127.0.0.1', port: 1, maxFrameSize: 1.5 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

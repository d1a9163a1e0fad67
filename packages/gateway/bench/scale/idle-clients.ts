/**
 * Many idle MQTT clients at little cost to the generator: one raw socket each, a hand-made MQTT 3.1.1 CONNECT
 * (keep-alive 60 s) and, once the CONNACK arrives, only a PINGREQ every 20 s (one timer for all), as a real idle
 * client sends: without it the gateway rightly ends the clients that connected first while a large run is still
 * connecting (15,000 clients take minutes), and the memory per connection would be counted over fewer clients.
 * Sockets are spread over several loopback source addresses so that one address's ephemeral ports do not run out.
 */
import { connect, type Socket } from 'node:net';

export const SOURCE_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;

const KEEP_ALIVE_S = 60;
const PING_EVERY_MS = 20_000;
const PINGREQ = Buffer.from([0xc0, 0x00]);

/** Connected idle clients. */
export interface IdleClients {
  readonly sockets: readonly Socket[];
  /** Clients the gateway has not closed (all of them, unless something ended them). */
  readonly open: number;
  /** Stops the PINGREQs and closes every client. */
  close(): void;
}

function connectPacket(clientId: string, keepAliveS: number): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const body = Buffer.concat([
    Buffer.from([0x00, 0x04]),
    Buffer.from('MQTT'),
    Buffer.from([0x04, 0x02, keepAliveS >> 8, keepAliveS & 0xff, id.length >> 8, id.length & 0xff]),
    id,
  ]);
  if (body.length > 127) throw new Error('client id too long for this generator');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Opens one client and resolves once its CONNACK accepted it. */
export function openIdleClient(port: number, index: number, timeoutMs = 60_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const localAddress = SOURCE_ADDRESSES[index % SOURCE_ADDRESSES.length];
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const timer = setTimeout(
      () => fail(new Error(`client ${index}: no CONNACK within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const closed = (): void => fail(new Error(`client ${index}: connection closed without CONNACK`));
    socket.once('error', fail);
    socket.once('close', closed);
    socket.once('connect', () => socket.write(connectPacket(`idle-${index}`, KEEP_ALIVE_S)));
    socket.once('data', (chunk) => {
      clearTimeout(timer);
      socket.removeListener('error', fail);
      socket.removeListener('close', closed);
      socket.on('error', () => {});
      // CONNACK: 0x20 0x02 <flags> <return code>
      if (chunk[0] === 0x20 && chunk[3] === 0) resolve(socket);
      else fail(new Error(`client ${index}: CONNACK refused (${chunk.subarray(0, 4).toString('hex')})`));
    });
  });
}

/** Opens `count` clients, `concurrency` handshakes at a time; they keep their connections alive until `close()`. */
export async function openIdleClients(port: number, count: number, concurrency = 200): Promise<IdleClients> {
  const sockets: Socket[] = [];
  let closed = 0;
  const pinger = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed) socket.write(PINGREQ);
  }, PING_EVERY_MS);
  pinger.unref();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const socket = await openIdleClient(port, index);
      socket.once('close', () => closed++);
      sockets.push(socket);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (error) {
    clearInterval(pinger);
    for (const socket of sockets) socket.destroy();
    throw error;
  }
  return {
    sockets,
    get open() {
      return sockets.length - closed;
    },
    close() {
      clearInterval(pinger);
      for (const socket of sockets) socket.destroy();
    },
  };
}

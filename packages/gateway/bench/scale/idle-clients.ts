/**
 * Many idle MQTT clients at little cost to the generator: one raw socket each, a hand-made MQTT 3.1.1 CONNECT
 * (keep-alive 60 s) and, once the CONNACK arrives, only a PINGREQ every 20 s, as a real idle client sends: without
 * it the gateway rightly ends the clients that connected first while a large run is still connecting (15,000
 * clients take minutes), and the memory per connection would be counted over fewer clients.
 *
 * The PINGREQs are spread evenly over the 20 s period: a timer ticks every 100 ms and pings the clients whose slot
 * (position modulo 200) is that tick's, so 15,000 clients send ~75 per tick (750/s), never all at once. Real idle
 * clients ping on their own phase, set by when each connected; pinging them all in one loop made the gateway
 * receive 15,000 PINGREQs within a few milliseconds every 20 s, a load no real fleet produces, and stalled the
 * stream measured beside them. Each client still pings within 20 s of connecting, well inside 1.5 × keep-alive.
 *
 * Sockets are spread over several loopback source addresses so that one address's ephemeral ports do not run out.
 */
import { connect, type Socket } from 'node:net';

export const SOURCE_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;

const KEEP_ALIVE_S = 60;
const PING_EVERY_MS = 20_000;
const PING_TICK_MS = 100;
const PING_SLOTS = PING_EVERY_MS / PING_TICK_MS;
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

export interface OpenOptions {
  /** Handshakes in flight at once (default 200). */
  readonly concurrency?: number;
  /** Called with the number connected so far after every `progressEvery` connections. */
  readonly onProgress?: (connected: number) => void;
  /** Default 1,000. */
  readonly progressEvery?: number;
}

/** Opens `count` clients; they keep their connections alive, each pinging on its own slot, until `close()`. */
export async function openIdleClients(
  port: number,
  count: number,
  options: OpenOptions = {},
): Promise<IdleClients> {
  const { concurrency = 200, onProgress, progressEvery = 1_000 } = options;
  const sockets: Socket[] = [];
  let closed = 0;
  let slot = 0;
  const pinger = setInterval(() => {
    for (let position = slot; position < sockets.length; position += PING_SLOTS) {
      const socket = sockets[position];
      if (socket !== undefined && !socket.destroyed) socket.write(PINGREQ);
    }
    slot = (slot + 1) % PING_SLOTS;
  }, PING_TICK_MS);
  pinger.unref();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const socket = await openIdleClient(port, index);
      socket.once('close', () => closed++);
      sockets.push(socket);
      if (sockets.length % progressEvery === 0) onProgress?.(sockets.length);
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

/**
 * Many idle MQTT clients at little cost to the generator: one raw socket each, a hand-made MQTT 3.1.1 CONNECT
 * (keep-alive 60 s, so no PINGREQ is due during a run), and nothing more once the CONNACK arrives. Sockets are
 * spread over several loopback source addresses so that one address's ephemeral ports do not run out.
 */
import { connect, type Socket } from 'node:net';

export const SOURCE_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;

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
    socket.once('error', fail);
    socket.once('connect', () => socket.write(connectPacket(`idle-${index}`, 60)));
    socket.once('data', (chunk) => {
      clearTimeout(timer);
      socket.removeListener('error', fail);
      socket.on('error', () => {});
      // CONNACK: 0x20 0x02 <flags> <return code>
      if (chunk[0] === 0x20 && chunk[3] === 0) resolve(socket);
      else fail(new Error(`client ${index}: CONNACK refused (${chunk.subarray(0, 4).toString('hex')})`));
    });
  });
}

/** Opens `count` clients, `concurrency` handshakes at a time. */
export async function openIdleClients(port: number, count: number, concurrency = 200): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      sockets.push(await openIdleClient(port, index));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return sockets;
}

/**
 * What one scrape of the gateway's registry costs and shows: the bridge's and backend's stats are read once per
 * scrape (they walk every client and session) and afresh at the next, and socket bytes are counted per
 * transport, whatever the number of sockets.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { GatewayStats } from '@dragoman/mqtt-amqp';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayMetrics, type MetricsSample } from '../src/metrics';
import { sample } from './support/peers';

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

function bridgeStats(clients: number): GatewayStats {
  return {
    clients,
    amqpConnections: 1,
    heldDeliveries: 7,
    outstandingCredit: 11,
    publishLinks: clients,
    queuedPublishes: 2,
    unconfirmedPublishes: 5,
    heldDeliveriesHighWater: 7,
    pausedClients: 0,
  };
}

/** A connected pair: the server's end (what the gateway tracks) and the client's. */
async function socketPair(): Promise<{ tracked: Socket; peer: Socket }> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = once(server, 'connection');
  const peer = connect(address.port, '127.0.0.1');
  const [tracked] = (await accepted) as [Socket];
  sockets.push(peer, tracked);
  return { tracked, peer };
}

/** Resolves once `socket` has read `bytes` bytes in all. */
async function readUntil(socket: Socket, bytes: number): Promise<void> {
  while (socket.bytesRead < bytes) await once(socket, 'data', { signal: AbortSignal.timeout(5_000) });
}

describe('a metrics scrape', () => {
  it('reads the stats once per scrape, and afresh at the next', async () => {
    let reads = 0;
    let clients = 3;
    const metrics = new GatewayMetrics((): MetricsSample => {
      reads++;
      return { bridge: bridgeStats(clients), backend: undefined, stalledClients: 1, amqpUp: true };
    });
    let text = await metrics.registry.metrics();
    expect(reads).toBe(1);
    expect(sample(text, 'dragoman_mqtt_clients')).toBe(3);
    expect(sample(text, 'dragoman_inflight_messages', { direction: 'in' })).toBe(7);
    expect(sample(text, 'dragoman_inflight_messages', { direction: 'out' })).toBe(7);
    expect(sample(text, 'dragoman_credit_stalled_clients')).toBe(1);
    expect(sample(text, 'dragoman_amqp_outstanding_credit')).toBe(11);
    expect(sample(text, 'dragoman_amqp_up')).toBe(1);

    clients = 4;
    text = await metrics.registry.metrics();
    expect(reads).toBe(2);
    expect(sample(text, 'dragoman_mqtt_clients')).toBe(4);
  });

  it('counts the bytes of every tracked socket by transport, each byte once, closed sockets included', async () => {
    const metrics = new GatewayMetrics(() => ({
      bridge: bridgeStats(0),
      backend: undefined,
      stalledClients: 0,
      amqpUp: true,
    }));
    const first = await socketPair();
    const second = await socketPair();
    const ws = await socketPair();
    metrics.socketOpened('tcp', first.tracked);
    metrics.socketOpened('tcp', second.tracked);
    metrics.socketOpened('ws', ws.tracked);
    const bytes = (text: string, direction: 'in' | 'out', transport: 'tcp' | 'ws') =>
      sample(text, 'dragoman_mqtt_bytes_total', { direction, transport });

    first.peer.write(Buffer.alloc(100));
    second.peer.write(Buffer.alloc(30));
    ws.peer.write(Buffer.alloc(7));
    first.tracked.write(Buffer.alloc(50));
    await readUntil(first.tracked, 100);
    await readUntil(second.tracked, 30);
    await readUntil(ws.tracked, 7);
    await readUntil(first.peer, 50);
    let text = await metrics.registry.metrics();
    expect(bytes(text, 'in', 'tcp')).toBe(130);
    expect(bytes(text, 'out', 'tcp')).toBe(50);
    expect(bytes(text, 'in', 'ws')).toBe(7);
    expect(bytes(text, 'out', 'ws')).toBe(0);

    // More bytes, then one socket closes before the next scrape: nothing counted twice, nothing missed.
    second.peer.write(Buffer.alloc(20));
    await readUntil(second.tracked, 50);
    const closed = once(second.tracked, 'close');
    second.tracked.destroy();
    await closed;
    text = await metrics.registry.metrics();
    expect(bytes(text, 'in', 'tcp')).toBe(150);
    expect(bytes(text, 'out', 'tcp')).toBe(50);
    expect(sample(text, 'dragoman_mqtt_connections', { transport: 'tcp' })).toBe(1);
  });
});

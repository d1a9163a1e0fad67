/**
 * The gateway bridge end to end: mqtt.js clients → MqttServer → BridgeGateway → embedded backend → bridge →
 * mqtt.js. Reports (1) messages per second from one publisher to one subscriber at QoS 0 and 1, with the
 * most deliveries the subscriber's bridge held at once, and (2) MQTT CONNECTs completed per second (each a
 * will, a session set-up and the client's links) with pooled and with per-client AMQP connections.
 * Prints one JSON object per line.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { MqttServer } from '@dragoman/mqtt';
import { type AmqpConnectionMode, createBackend, createBridgeGateway } from '@dragoman/mqtt-amqp';
import mqtt, { type MqttClient } from 'mqtt';

const MESSAGES = 5_000;
const BATCH = 100;
const CLIENTS = 200;

async function stack(connectionMode: AmqpConnectionMode) {
  const backend = await createBackend();
  const gateway = createBridgeGateway({ amqp: { url: backend.url }, connectionMode });
  const server = new MqttServer();
  gateway.attach(server);
  const listener = createServer({ noDelay: true }, (socket) => server.accept(socket)).listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const url = `mqtt://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  return {
    gateway,
    connect: (clientId: string, options: mqtt.IClientOptions = {}) =>
      mqtt.connectAsync(url, { clientId, reconnectPeriod: 0, protocolVersion: 5, ...options }),
    async close() {
      await gateway.close();
      listener.close();
      await backend.close();
    },
  };
}

/**
 * One publisher, one subscriber, batches of BATCH messages: each batch is published (QoS 1: every PUBACK
 * received) and, for QoS 1, received in full before the next, so the figure is end-to-end throughput with
 * BATCH messages in flight and no backlog building up in the service. QoS 0 messages the service drops for
 * want of credit are counted, not waited for; a QoS 1 marker closes the run.
 */
async function throughput(qos: 0 | 1): Promise<void> {
  const s = await stack('pooled');
  const subscriber = await s.connect('bench-sub');
  await subscriber.subscribeAsync('bench/t', { qos: 1 });
  const publisher = await s.connect('bench-pub');
  let received = 0;
  let waiting: { count: number; resolve: () => void } | undefined;
  let markerSeen: () => void = () => {};
  const marker = new Promise<void>((resolve) => {
    markerSeen = resolve;
  });
  subscriber.on('message', (_topic, message) => {
    if (message.length === 0) {
      markerSeen();
      return;
    }
    received += 1;
    if (waiting !== undefined && received >= waiting.count) {
      waiting.resolve();
      waiting = undefined;
    }
  });
  const payload = Buffer.alloc(64, 1);
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    const batch = Array.from({ length: BATCH }, () => publisher.publishAsync('bench/t', payload, { qos }));
    await Promise.all(batch);
    if (qos === 1 && received < sent + BATCH) {
      await new Promise<void>((resolve) => {
        waiting = { count: sent + BATCH, resolve };
      });
    }
  }
  await publisher.publishAsync('bench/t', Buffer.alloc(0), { qos: 1 });
  await marker;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    JSON.stringify({
      bench: 'bridge.publish-to-subscriber',
      qos,
      messages: MESSAGES,
      inFlight: BATCH,
      delivered: received,
      payloadBytes: payload.length,
      seconds: Number(seconds.toFixed(3)),
      deliveredPerSecond: Math.round(received / seconds),
      heldDeliveriesHighWater: s.gateway.stats().heldDeliveriesHighWater,
    }),
  );
  await publisher.endAsync();
  await subscriber.endAsync();
  await s.close();
}

async function connectRate(connectionMode: AmqpConnectionMode): Promise<void> {
  const s = await stack(connectionMode);
  const clients: MqttClient[] = [];
  const started = process.hrtime.bigint();
  for (let batch = 0; batch < CLIENTS; batch += 20) {
    const connected = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.connect(`bench-${connectionMode}-${batch + i}`, {
          clean: false,
          will: { topic: 'bench/will', payload: Buffer.from('x'), qos: 1, retain: false },
        }),
      ),
    );
    clients.push(...connected);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stats = s.gateway.stats();
  console.log(
    JSON.stringify({
      bench: 'bridge.connect',
      connectionMode,
      clients: CLIENTS,
      seconds: Number(seconds.toFixed(3)),
      connectsPerSecond: Math.round(CLIENTS / seconds),
      amqpConnections: stats.amqpConnections,
    }),
  );
  await Promise.all(clients.map((c) => c.endAsync()));
  await s.close();
}

await throughput(0);
await throughput(1);
await connectRate('pooled');
await connectRate('per-client');

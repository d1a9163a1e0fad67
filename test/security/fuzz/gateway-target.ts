/**
 * The full gateway composition (`startGateway`: embedded backend, bridge, MQTT listener) on free ports, as a
 * target for the fuzzer's TCP cases, with what the fuzzer checks afterwards: open connections and bridged
 * clients (from the gateway's own metrics) and one real round trip by a well-behaved mqtt.js client.
 */
import { type RunningGateway, startGateway } from '@dragoman/gateway';
import mqtt from 'mqtt';

export interface FuzzGateway {
  readonly gateway: RunningGateway;
  readonly target: { readonly host: string; readonly port: number };
  /** Open MQTT sockets plus bridged clients, as the gateway counts them. */
  liveConnections(): Promise<number>;
  /** A well-behaved client connects, subscribes, publishes at QoS 1 and receives its message back. */
  roundTrip(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function metricSum(gateway: RunningGateway, name: string): Promise<number> {
  const metric = gateway.metrics.getSingleMetric(name);
  if (metric === undefined) throw new Error(`the gateway has no metric ${name}`);
  const { values } = await metric.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

export async function roundTrip(url: string, timeoutMs = 10_000): Promise<void> {
  const client = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    clientId: `probe-${process.pid}-${Date.now()}`,
  });
  client.on('error', () => {});
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('close', () => reject(new Error('well-behaved client: closed before CONNACK')));
      signal.addEventListener('abort', () => reject(new Error('well-behaved client: no CONNACK in time')));
    });
    const topic = `probe/${Math.random().toString(36).slice(2)}`;
    await client.subscribeAsync(topic, { qos: 1 });
    const received = new Promise<void>((resolve, reject) => {
      client.on('message', (t) => {
        if (t === topic) resolve();
      });
      signal.addEventListener('abort', () =>
        reject(new Error('well-behaved client: its message did not come back in time')),
      );
    });
    await client.publishAsync(topic, 'ping', { qos: 1 });
    await received;
  } finally {
    client.end(true);
  }
}

export async function startFuzzGateway(): Promise<FuzzGateway> {
  const gateway = await startGateway({
    mqtt: '127.0.0.1:0',
    ws: 'off',
    amqpListen: '127.0.0.1:0',
    logLevel: 'silent',
    maxPacketSize: 64 * 1024,
  });
  const address = gateway.addresses.mqtt;
  if (address === undefined) throw new Error('the gateway has no MQTT listener');
  return {
    gateway,
    target: { host: address.host, port: address.port },
    async liveConnections() {
      return (
        (await metricSum(gateway, 'dragoman_mqtt_connections')) +
        (await metricSum(gateway, 'dragoman_mqtt_clients'))
      );
    },
    roundTrip: (timeoutMs) => roundTrip(address.url, timeoutMs),
    async close() {
      await gateway.close(5_000);
    },
  };
}

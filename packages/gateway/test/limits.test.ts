/**
 * The gateway's limits with mqtt.js (3.1.1 and 5): connections per source address, CONNECT rate per address
 * and global, subscriptions per client, topic length and levels, the connect time-out. Each hit gives its
 * documented code and moves `dragoman_limit_hits_total{limit}`; the gateway keeps serving.
 */
import { connect as netConnect } from 'node:net';
import mqtt, { type IConnackPacket, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type GatewayOptions, type RunningGateway, startGateway } from '../src/index';
import { mqttConnect, next, sample } from './support/peers';

const silent = pino({ level: 'silent' });
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
});

async function start(options: GatewayOptions): Promise<{ gateway: RunningGateway; url: string }> {
  const gateway = await startGateway(
    { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', ...options },
    { logger: silent },
  );
  gateways.push(gateway);
  return { gateway, url: gateway.addresses.mqtt?.url ?? '' };
}

/** Connects; resolves with the client, or with the CONNACK failure code. */
async function attempt(url: string, protocolVersion: 4 | 5): Promise<MqttClient | number> {
  try {
    const client = await mqttConnect(url, { protocolVersion });
    clients.push(client);
    return client;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

async function hits(gateway: RunningGateway, limit: string): Promise<number> {
  return sample(await gateway.metrics.metrics(), 'dragoman_limit_hits_total', { limit });
}

describe.each([4, 5] as const)('gateway limits (MQTT %i)', (v) => {
  const quota = v === 5 ? 0x97 : 3;
  const rate = v === 5 ? 0x9f : 3;

  it('connections per source address: CONNACK quota exceeded, room again after a close', async () => {
    const { gateway, url } = await start({
      maxConnectionsPerAddress: 2,
      connectRate: 0,
      connectRatePerAddress: 0,
    });
    const first = await attempt(url, v);
    const second = await attempt(url, v);
    expect(typeof first).not.toBe('number');
    expect(typeof second).not.toBe('number');
    expect(await attempt(url, v)).toBe(quota);
    expect(await hits(gateway, 'connections-per-address')).toBe(1);
    const closed = next(first as MqttClient, 'close');
    (first as MqttClient).end(true);
    await closed;
    // The server sees the close a moment later: retry on each refusal until the slot is free (bounded).
    let again: MqttClient | number = quota;
    for (let i = 0; i < 50 && typeof again === 'number'; i++) again = await attempt(url, v);
    expect(typeof again).not.toBe('number');
  });

  it('CONNECT rate per address and global: CONNACK connection rate exceeded', async () => {
    const perAddress = await start({ connectRatePerAddress: 2, connectRate: 0 });
    const burst = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => attempt(perAddress.url, v)));
    expect(burst.filter((r) => r === rate).length).toBeGreaterThanOrEqual(1);
    expect(burst.every((r) => typeof r !== 'number' || r === rate)).toBe(true);
    expect(await hits(perAddress.gateway, 'connect-rate-per-address')).toBeGreaterThanOrEqual(1);

    const global = await start({ connectRatePerAddress: 0, connectRate: 2 });
    const burst2 = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => attempt(global.url, v)));
    expect(burst2.filter((r) => r === rate).length).toBeGreaterThanOrEqual(1);
    expect(await hits(global.gateway, 'connect-rate')).toBeGreaterThanOrEqual(1);
  });

  it('subscriptions, topic length and levels: the bridge codes, counted', async () => {
    const { gateway, url } = await start({ maxSubscriptions: 1, maxTopicLength: 10, maxTopicLevels: 2 });
    const client = (await attempt(url, v)) as MqttClient;
    const granted = async (filter: string) => {
      const result = await client
        .subscribeAsync(filter, { qos: 1 })
        .catch((e: { packet?: { granted: number[] } }) => e.packet?.granted);
      return Array.isArray(result) ? result.map((g) => (typeof g === 'number' ? g : g.qos)) : [];
    };
    expect(await granted('a')).toEqual([1]);
    expect(await granted('b')).toEqual([v === 5 ? 0x97 : 0x80]);
    expect(await granted('x'.repeat(11))).toEqual([v === 5 ? 0x8f : 0x80]);
    expect(await granted('a/b/c')).toEqual([v === 5 ? 0x8f : 0x80]);
    expect(await hits(gateway, 'subscriptions-per-client')).toBe(1);
    expect(await hits(gateway, 'topic-length')).toBe(1);
    expect(await hits(gateway, 'topic-levels')).toBe(1);
    expect(client.connected).toBe(true);
  });
});

describe.each([4, 5] as const)('retained messages in total (MQTT %i)', (v) => {
  it('refuses a retained message for a new topic beyond the store limit (MQTT 5: PUBACK 0x97); counted', async () => {
    const { gateway, url } = await start({ maxRetained: 2 });
    const client = (await attempt(url, v)) as MqttClient;
    await client.publishAsync('r/1', 'one', { qos: 1, retain: true });
    await client.publishAsync('r/2', 'two', { qos: 1, retain: true });
    // MQTT 5 is told (0x97 quota exceeded); 3.1.1 has no negative acknowledgement: acknowledged, dropped.
    const answer = await new Promise<number | undefined>((resolve) => {
      client.publish('r/3', 'three', { qos: 1, retain: true }, (_error, packet) =>
        resolve((packet as { reasonCode?: number } | undefined)?.reasonCode),
      );
    });
    expect(answer ?? 0).toBe(v === 5 ? 0x97 : 0);
    // A new subscriber gets the two kept; the marker (published after it subscribed) shows it got all.
    const late = (await attempt(url, v)) as MqttClient;
    const topics: string[] = [];
    const marker = new Promise<void>((resolve) =>
      late.on('message', (topic) => {
        if (topic === 'r/marker') resolve();
        else topics.push(topic);
      }),
    );
    await late.subscribeAsync('r/#', { qos: 1 });
    await client.publishAsync('r/marker', 'm', { qos: 1 });
    await marker;
    expect(topics.sort()).toEqual(['r/1', 'r/2']);
    expect(await hits(gateway, 'retained')).toBe(1);
    expect(client.connected).toBe(true);
  });
});

describe('connect time-out', () => {
  it('closes a connection that sends no CONNECT in time, counts it, and keeps serving', async () => {
    const { gateway, url } = await start({ connectTimeout: 1_000 });
    const port = gateway.addresses.mqtt?.port ?? 0;
    const silentSocket = netConnect(port, '127.0.0.1');
    silentSocket.on('error', () => {});
    await next(silentSocket, 'close');
    expect(await hits(gateway, 'connect-timeout')).toBe(1);
    expect(typeof (await attempt(url, 5))).not.toBe('number');
  });
});

describe('MQTT 5 receive maximum (mqtt.js 5 does not count it)', () => {
  const BURST = 200;

  /** mqtt.js 5 writes the whole burst at once, far past the receive maximum of 4 it was given. */
  function burst(client: MqttClient): Promise<PromiseSettledResult<unknown>[]> {
    return Promise.allSettled(
      Array.from({ length: BURST }, (_, i) => client.publishAsync('rm/burst', `m${i}`, { qos: 1 })),
    );
  }

  it('default (disconnect): DISCONNECT 0x93 receive maximum exceeded', async () => {
    const { url } = await start({ receiveMaximum: 4 });
    const client = await mqttConnect(url, { protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(client);
    const disconnected = next<[{ reasonCode?: number }]>(client, 'disconnect');
    void burst(client);
    expect((await disconnected)[0].reasonCode).toBe(0x93);
  });

  it('pushback: the same burst is read as answers free room, every PUBLISH is acknowledged', async () => {
    const { url } = await start({ receiveMaximum: 4, receiveMaximumExceeded: 'pushback' });
    const client = await mqttConnect(url, { protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(client);
    const results = await burst(client);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  });
});

describe('--max-session-expiry', () => {
  it('grants at most the cap and says so in CONNACK (MQTT 5)', async () => {
    const { url } = await start({ maxSessionExpiry: 30 });
    const client = mqtt.connect(url, {
      protocolVersion: 5,
      clean: false,
      clientId: 'capped-session',
      properties: { sessionExpiryInterval: 3_600 },
      reconnectPeriod: 0,
    });
    clients.push(client);
    const [connack] = await next<[IConnackPacket]>(client, 'connect');
    expect(connack.properties?.sessionExpiryInterval).toBe(30);
  });
});

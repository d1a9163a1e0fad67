/**
 * `startGateway` embedded in a host process: TLS on every listener with a users file, health with an AMQP
 * side that is not there, the connection limit, and close().
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Adapter, AdapterContext } from '@dragoman/adapter';
import { binaryMessage } from '@dragoman/amqp';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import rhea from 'rhea';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, type RunningGateway, startGateway } from '../src/index';
import { selfSignedServerCertificate } from './support/certificates';
import { mqttConnect, next, nextMqttMessage, sample } from './support/peers';
import { freePort } from './support/process';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'dragoman-gateway-'));
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
});

async function start(options: Parameters<typeof startGateway>[0]): Promise<RunningGateway> {
  const gateway = await startGateway(options, { logger: silent });
  gateways.push(gateway);
  return gateway;
}

async function scrape(gateway: RunningGateway): Promise<string> {
  return gateway.metrics.metrics();
}

describe('TLS on MQTT, WebSocket and the embedded backend, with a users file', () => {
  let cert: string;
  let key: string;
  let users: string;

  beforeAll(async () => {
    ({ cert, key } = selfSignedServerCertificate(dir));
    users = join(dir, 'users.json');
    writeFileSync(users, JSON.stringify({ alice: await hashPassword('wonderland') }));
  });

  it('serves mqtts and wss, checks passwords, and requires SASL PLAIN on amqps', async () => {
    const gateway = await start({
      mqtt: '127.0.0.1:0',
      ws: '127.0.0.1:0',
      amqpListen: '127.0.0.1:0',
      mqttCert: cert,
      mqttKey: key,
      wsCert: cert,
      wsKey: key,
      amqpListenCert: cert,
      amqpListenKey: key,
      users,
    });
    const { mqtt, ws, amqp } = gateway.addresses;
    expect(mqtt?.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(ws?.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    expect(amqp.url).toMatch(/^amqps:/);
    const ca = readFileSync(cert);

    await expect(
      mqttConnect(mqtt?.url ?? '', { ca, username: 'alice', password: 'queen', protocolVersion: 4 }),
    ).rejects.toThrow(/Bad username or password|code 4|Not authorized/i);

    const tcp = await mqttConnect(mqtt?.url ?? '', { ca, username: 'alice', password: 'wonderland' });
    const secureWs = await mqttConnect(ws?.url ?? '', {
      ca,
      username: 'alice',
      password: 'wonderland',
      protocolVersion: 5,
    });
    clients.push(tcp, secureWs);
    await secureWs.subscribeAsync('tls/#', { qos: 1 });
    const arriving = nextMqttMessage(secureWs);
    await tcp.publishAsync('tls/check', 'over TLS', { qos: 1 });
    expect(await arriving).toEqual({ topic: 'tls/check', payload: 'over TLS' });
    expect(sample(await scrape(gateway), 'dragoman_errors_total', { reason: 'auth-failed' })).toBe(1);

    // AMQP clients of the embedded backend need a user of the file too.
    const port = amqp.port;
    const refused = rhea
      .create_container()
      .connect({ host: '127.0.0.1', port, transport: 'tls', ca, reconnect: false });
    refused.on('error', () => {});
    await next(refused, 'disconnected');
    const admitted = rhea.create_container().connect({
      host: '127.0.0.1',
      port,
      transport: 'tls',
      ca,
      reconnect: false,
      username: 'alice',
      password: 'wonderland',
    });
    await next(admitted, 'connection_open');
    admitted.close();
  });
});

describe('pass-through authentication', () => {
  it('gives each MQTT client its own AMQP connection with its credentials, checked by the backend', async () => {
    const users = join(dir, 'pass-through-users.json');
    writeFileSync(users, JSON.stringify({ bob: await hashPassword('builder') }));
    const gateway = await start({
      mqtt: '127.0.0.1:0',
      ws: 'off',
      amqpListen: '127.0.0.1:0',
      auth: 'pass-through',
      users,
    });
    const url = gateway.addresses.mqtt?.url ?? '';
    await expect(
      mqttConnect(url, { username: 'bob', password: 'wrong', protocolVersion: 4 }),
    ).rejects.toThrow(/Not authorized|code 5/i);
    const client = await mqttConnect(url, { username: 'bob', password: 'builder', clientId: 'bob-1' });
    clients.push(client);
    await client.subscribeAsync('site/#', { qos: 1 });
    const arriving = nextMqttMessage(client);
    await client.publishAsync('site/a', 'mine', { qos: 1 });
    expect(await arriving).toEqual({ topic: 'site/a', payload: 'mine' });
  });
});

describe('adapters beside the MQTT front end', () => {
  it('run on the same AMQP side and metrics registry, and stop with the gateway', async () => {
    let context: AdapterContext | undefined;
    let stopped = false;
    const probe: Adapter = {
      name: 'probe',
      async start(given) {
        context = given;
      },
      async stop() {
        stopped = true;
      },
    };
    const gateway = await startGateway(
      { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0' },
      { logger: silent, adapters: [probe] },
    );
    gateways.push(gateway);
    const subscriber = await mqttConnect(gateway.addresses.mqtt?.url ?? '', { clientId: 'adapter-watcher' });
    clients.push(subscriber);
    await subscriber.subscribeAsync('telemetry/#', { qos: 1 });
    const arriving = nextMqttMessage(subscriber);
    const session = await (context as AdapterContext).openDeviceSession('device-1');
    const result = await session.publish(binaryMessage(Buffer.from('from an adapter')), { qos: 1 });
    expect(result.state).toBe('accepted');
    expect(await arriving).toEqual({ topic: 'telemetry/device-1', payload: 'from an adapter' });
    expect(sample(await scrape(gateway), 'dragoman_adapter_publishes_total', { adapter: 'probe' })).toBe(1);
    expect(await gateway.close(5_000)).toBe(true);
    expect(stopped).toBe(true);
  });
});

describe('durable store', () => {
  it('keeps retained messages across a restart on the same --store directory', async () => {
    const store = mkdtempSync(join(tmpdir(), 'dragoman-store-'));
    const first = await start({ mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', store });
    const publisher = await mqttConnect(first.addresses.mqtt?.url ?? '', { clientId: 'retainer' });
    await publisher.publishAsync('plant/status', 'running', { qos: 1, retain: true });
    publisher.end(true);
    expect(await first.close(5_000)).toBe(true);

    const second = await start({ mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', store });
    const subscriber = await mqttConnect(second.addresses.mqtt?.url ?? '', { clientId: 'late-reader' });
    clients.push(subscriber);
    const retained = nextMqttMessage(subscriber);
    await subscriber.subscribeAsync('plant/#', { qos: 1 });
    expect(await retained).toEqual({ topic: 'plant/status', payload: 'running' });
  });
});

describe('health', () => {
  it('is 503 while the external AMQP network does not answer, with amqp down', async () => {
    const gateway = await start({
      mqtt: '127.0.0.1:0',
      ws: 'off',
      amqp: `amqp://127.0.0.1:${await freePort()}`,
      metrics: '127.0.0.1:0',
    });
    expect(gateway.health()).toEqual({ status: 'unavailable', mqtt: 'up', ws: 'off', amqp: 'down' });
    const response = await fetch(`http://127.0.0.1:${gateway.addresses.metrics?.port}/health`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'unavailable', amqp: 'down' });
    expect(sample(await scrape(gateway), 'dragoman_amqp_up')).toBe(0);
  });

  it('is stopping, and the listeners refuse connections, once close() has run', async () => {
    const gateway = await start({ mqtt: '127.0.0.1:0', ws: '127.0.0.1:0', amqpListen: '127.0.0.1:0' });
    expect(gateway.health().status).toBe('ok');
    expect(await gateway.close(5_000)).toBe(true);
    expect(gateway.health().status).toBe('stopping');
    const socket = netConnect(gateway.addresses.mqtt?.port ?? 0, '127.0.0.1');
    const [error] = await next<[NodeJS.ErrnoException]>(socket, 'error');
    expect(error.code).toBe('ECONNREFUSED');
  });
});

describe('limits', () => {
  it('closes connections beyond maxConnections and counts them', async () => {
    const gateway = await start({
      mqtt: '127.0.0.1:0',
      ws: 'off',
      amqpListen: '127.0.0.1:0',
      maxConnections: 1,
    });
    const first = await mqttConnect(gateway.addresses.mqtt?.url ?? '', { clientId: 'first' });
    clients.push(first);
    const second = netConnect(gateway.addresses.mqtt?.port ?? 0, '127.0.0.1');
    second.on('error', () => {});
    await next(second, 'close');
    expect(sample(await scrape(gateway), 'dragoman_errors_total', { reason: 'max-connections' })).toBe(1);
    expect(first.connected).toBe(true);
  });
});

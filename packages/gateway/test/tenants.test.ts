/**
 * Tenants from the users file (`tenantFrom: 'users-file'`, each entry's `tenant` field) and the per-tenant
 * connection quota (`maxConnectionsPerTenant`), with mqtt.js 3.1.1 and 5: users of different tenants using the
 * same topic see nothing of each other; a user without a tenant is refused; the quota answers CONNACK 0x97
 * (3.1.1: 3), is counted, and leaves room again after a close.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions, MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, hashPassword, loadUsers, type RunningGateway, startGateway } from '../src/index';
import { mqttConnect, next, nextMqttMessage, sample } from './support/peers';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'dragoman-tenants-'));
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];
let users: string;

beforeAll(async () => {
  const fast = { N: 1024, r: 8, p: 1 };
  users = join(dir, 'users.json');
  writeFileSync(
    users,
    JSON.stringify({
      'acme-1': { hash: await hashPassword('p', fast), tenant: 'acme' },
      'acme-2': { hash: await hashPassword('p', fast), tenant: 'acme' },
      'globex-1': { hash: await hashPassword('p', fast), tenant: 'globex' },
      loner: await hashPassword('p', fast),
    }),
  );
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
});

async function start(options: Parameters<typeof startGateway>[0]): Promise<RunningGateway> {
  const gateway = await startGateway(
    {
      mqtt: '127.0.0.1:0',
      ws: 'off',
      amqpListen: '127.0.0.1:0',
      users,
      tenantFrom: 'users-file',
      ...options,
    },
    { logger: silent },
  );
  gateways.push(gateway);
  return gateway;
}

/** Connects as `username`; resolves with the client, or with the CONNACK failure code. */
async function attempt(url: string, username: string, options: IClientOptions): Promise<MqttClient | number> {
  try {
    const client = await mqttConnect(url, { username, password: 'p', ...options });
    clients.push(client);
    return client;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

async function connected(url: string, username: string, options: IClientOptions): Promise<MqttClient> {
  const client = await attempt(url, username, options);
  if (typeof client === 'number') throw new Error(`${username} refused with ${client}`);
  return client;
}

describe.each([4, 5] as const)('tenants from the users file (MQTT %i)', (v) => {
  it('isolates tenants on the same topic and client id; a user without a tenant is refused', async () => {
    const gateway = await start({});
    const url = gateway.addresses.mqtt?.url ?? '';
    // Same client id in both tenants: no takeover across tenants either.
    const acme = await connected(url, 'acme-1', { protocolVersion: v, clientId: 'sensor' });
    const globex = await connected(url, 'globex-1', { protocolVersion: v, clientId: 'sensor' });
    await acme.subscribeAsync('sensors/#', { qos: 1 });
    await globex.subscribeAsync('sensors/#', { qos: 1 });
    const toAcme = nextMqttMessage(acme);
    const toGlobex = nextMqttMessage(globex);
    const acme2 = await connected(url, 'acme-2', { protocolVersion: v });
    await acme2.publishAsync('sensors/t', 'acme only', { qos: 1 });
    expect(await toAcme).toEqual({ topic: 'sensors/t', payload: 'acme only' });
    // globex's first message is its own: acme's never crossed over.
    await globex.publishAsync('sensors/t', 'globex only', { qos: 1 });
    expect(await toGlobex).toEqual({ topic: 'sensors/t', payload: 'globex only' });
    expect(acme.connected && globex.connected).toBe(true);

    expect(await attempt(url, 'loner', { protocolVersion: v })).toBe(v === 5 ? 0x87 : 5);
  });

  it('--max-connections-per-tenant: CONNACK quota exceeded for the tenant only, counted, room after a close', async () => {
    const quota = v === 5 ? 0x97 : 3;
    const gateway = await start({ maxConnectionsPerTenant: 2 });
    const url = gateway.addresses.mqtt?.url ?? '';
    const first = await connected(url, 'acme-1', { protocolVersion: v });
    await connected(url, 'acme-2', { protocolVersion: v });
    expect(await attempt(url, 'acme-1', { protocolVersion: v })).toBe(quota);
    // Another tenant is not affected.
    await connected(url, 'globex-1', { protocolVersion: v });
    const text = await gateway.metrics.metrics();
    expect(sample(text, 'dragoman_limit_hits_total', { limit: 'connections-per-tenant' })).toBe(1);

    const closed = next(first, 'close');
    first.end(true);
    await closed;
    // The gateway sees the close a moment later: retry on each refusal until the slot is free (bounded).
    let again: MqttClient | number = quota;
    for (let i = 0; i < 50 && again === quota; i++)
      again = await attempt(url, 'acme-1', { protocolVersion: v });
    expect(typeof again).not.toBe('number');
  });
});

describe('users file entries with tenants', () => {
  it('reads { hash, tenant } entries; an entry without a hash names a tenant but cannot log in', async () => {
    const file = join(dir, 'certificate-users.json');
    writeFileSync(file, JSON.stringify({ 'device-1': { tenant: 'acme' }, plain: await hashPassword('x') }));
    const directory = loadUsers(file);
    expect(directory.tenantOf('device-1')).toBe('acme');
    expect(directory.tenantOf('plain')).toBeUndefined();
    expect(await directory.verify('device-1', '')).toBe(false);
    expect(await directory.verify('plain', 'x')).toBe(true);
  });

  it.each([
    [{ u: { hash: 'scrypt$nope' } }, /no valid scrypt hash/],
    [{ u: { tenant: 'a/b' } }, /invalid tenant/],
    [{ u: { tenant: 'acme', role: 'admin' } }, /unknown field 'role'/],
  ])('refuses a bad entry %j', (content, message) => {
    const file = join(dir, 'bad-users.json');
    writeFileSync(file, JSON.stringify(content));
    expect(() => loadUsers(file)).toThrow(message);
  });

  it('users-file tenants need a users file; a tenant quota needs tenants', async () => {
    await expect(startGateway({ tenantFrom: 'users-file' }, { logger: silent })).rejects.toThrow(ConfigError);
    await expect(startGateway({ maxConnectionsPerTenant: 5 }, { logger: silent })).rejects.toThrow(
      /needs tenants/,
    );
  });
});

/**
 * `--acl FILE` on the running gateway: mqtt.js clients (3.1.1 and 5) with user names from a users file are
 * allowed and denied per the ACL, the denials are counted in /metrics, and a bad ACL file is a ConfigError.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, hashPassword, type RunningGateway, startGateway } from '../src/index';
import { mqttConnect, nextMqttMessage, sample } from './support/peers';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'dragoman-acl-'));
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
});

function acked(client: MqttClient, cmd: 'puback' | 'suback'): Promise<Packet> {
  return new Promise((resolve) => {
    const onPacket = (packet: Packet): void => {
      if (packet.cmd !== cmd) return;
      client.off('packetreceive', onPacket);
      resolve(packet);
    };
    client.on('packetreceive', onPacket);
  });
}

describe('--acl', () => {
  let users: string;
  let acl: string;

  beforeAll(async () => {
    users = join(dir, 'users.json');
    writeFileSync(
      users,
      JSON.stringify({
        alice: await hashPassword('a', { N: 1024, r: 8, p: 1 }),
        bob: await hashPassword('b', { N: 1024, r: 8, p: 1 }),
      }),
    );
    acl = join(dir, 'acl');
    writeFileSync(acl, 'user alice\ntopic readwrite alice/#\npattern read shared/%u/#\n');
  });

  it.each([4, 5] as const)(
    'allows and denies per user and topic (MQTT %i); denials are counted',
    async (v) => {
      const gateway = await startGateway(
        { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', users, acl },
        { logger: silent },
      );
      gateways.push(gateway);
      const url = gateway.addresses.mqtt?.url ?? '';
      const alice = await mqttConnect(url, { protocolVersion: v, username: 'alice', password: 'a' });
      const bob = await mqttConnect(url, { protocolVersion: v, username: 'bob', password: 'b' });
      clients.push(alice, bob);

      const suback = acked(bob, 'suback');
      bob.subscribe({ 'alice/#': { qos: 1 }, 'shared/bob/x': { qos: 1 } }, () => {});
      expect(((await suback) as { granted: number[] }).granted).toEqual([v === 5 ? 0x87 : 0x80, 1]);

      const puback = acked(bob, 'puback');
      bob.publish('alice/inbox', 'from bob', { qos: 1 }, () => {});
      expect(((await puback) as { reasonCode?: number }).reasonCode ?? 0).toBe(v === 5 ? 0x87 : 0);

      await alice.subscribeAsync('alice/#', { qos: 1 });
      const message = nextMqttMessage(alice);
      await alice.publishAsync('alice/self', 'own', { qos: 1 });
      // bob's denied message never arrived: the first message alice gets is her own.
      expect(await message).toEqual({ topic: 'alice/self', payload: 'own' });

      const text = await gateway.metrics.metrics();
      expect(sample(text, 'dragoman_authorization_denials_total', { action: 'publish' })).toBe(1);
      expect(sample(text, 'dragoman_authorization_denials_total', { action: 'subscribe' })).toBe(1);
    },
  );

  it('--tenant-from username-prefix: two tenants, same client id and topic, nothing crosses', async () => {
    const tenantUsers = join(dir, 'tenant-users.json');
    const hash = await hashPassword('p', { N: 1024, r: 8, p: 1 });
    writeFileSync(tenantUsers, JSON.stringify({ 'A/dev': hash, 'B/dev': hash }));
    const gateway = await startGateway(
      {
        mqtt: '127.0.0.1:0',
        ws: 'off',
        amqpListen: '127.0.0.1:0',
        users: tenantUsers,
        tenantFrom: 'username-prefix',
      },
      { logger: silent },
    );
    gateways.push(gateway);
    const url = gateway.addresses.mqtt?.url ?? '';
    const a = await mqttConnect(url, {
      clientId: 'same',
      username: 'A/dev',
      password: 'p',
      protocolVersion: 5,
    });
    const b = await mqttConnect(url, {
      clientId: 'same',
      username: 'B/dev',
      password: 'p',
      protocolVersion: 4,
    });
    clients.push(a, b);
    await a.subscribeAsync('#', { qos: 1 });
    await b.subscribeAsync('#', { qos: 1 });
    const toA = nextMqttMessage(a);
    const toB = nextMqttMessage(b);
    await b.publishAsync('t', 'from B', { qos: 1 });
    await a.publishAsync('t', 'from A', { qos: 1 });
    // Each gets its own tenant's message first (nothing from the other in between), without the prefix.
    expect(await toA).toEqual({ topic: 't', payload: 'from A' });
    expect(await toB).toEqual({ topic: 't', payload: 'from B' });
    expect(a.connected && b.connected).toBe(true);
  });

  it('refuses to start with a bad ACL file, naming the line', async () => {
    const bad = join(dir, 'bad-acl');
    writeFileSync(bad, 'user alice\ntopic readwrite a/#/b\n');
    const error = await startGateway(
      { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', acl: bad },
      { logger: silent },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('line 2');
    expect((error as ConfigError).option).toBe('acl');
  });
});

/**
 * Device certificates (`clientCa`, `clientCert`, `certIdentity`) on the MQTT TLS and secure WebSocket
 * listeners, with mqtt.js as the device and certificates made by openssl at test time: the certificate's
 * subject CN (or DN) is the identity the ACL sees (`%u`), a certificate from an unknown CA or none at all
 * fails when certificates are required, and falls back to the users file when they are only requested.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, hashPassword, type RunningGateway, startGateway } from '../src/index';
import { type CertificateFiles, certificateAuthority, issueCertificate } from './support/certificates';
import { mqttConnect, nextMqttMessage, sample, subackCodes, WAIT_MS } from './support/peers';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'dragoman-client-certs-'));
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
});

let server: CertificateFiles;
let serverCa: Buffer;
let devicesCa: string;
let device1: CertificateFiles;
let device2: CertificateFiles;
let rogue: CertificateFiles;
let users: string;
let acl: string;

beforeAll(async () => {
  const serverAuthority = certificateAuthority(dir, 'server-ca');
  server = issueCertificate(dir, serverAuthority, 'server', '/CN=localhost', 'server');
  serverCa = readFileSync(serverAuthority.cert);
  const devices = certificateAuthority(dir, 'devices-ca');
  devicesCa = devices.cert;
  device1 = issueCertificate(dir, devices, 'device-1', '/C=DE/O=Acme/CN=device-1', 'client');
  device2 = issueCertificate(dir, devices, 'device-2', '/C=DE/O=Acme/CN=device-2', 'client');
  // Same subject as device-1, from a CA the gateway does not trust.
  rogue = issueCertificate(dir, certificateAuthority(dir, 'rogue-ca'), 'rogue', '/CN=device-1', 'client');
  users = join(dir, 'users.json');
  writeFileSync(users, JSON.stringify({ alice: await hashPassword('a', { N: 1024, r: 8, p: 1 }) }));
  acl = join(dir, 'acl');
  writeFileSync(acl, 'pattern readwrite devices/%u/#\nuser CN=device-1,O=Acme,C=DE\ntopic readwrite dn/#\n');
});

async function start(options: Parameters<typeof startGateway>[0]): Promise<RunningGateway> {
  const gateway = await startGateway(
    {
      mqtt: '127.0.0.1:0',
      ws: '127.0.0.1:0',
      amqpListen: '127.0.0.1:0',
      mqttCert: server.cert,
      mqttKey: server.key,
      wsCert: server.cert,
      wsKey: server.key,
      ...options,
    },
    { logger: silent },
  );
  gateways.push(gateway);
  return gateway;
}

function tlsOptions(device: CertificateFiles | undefined): IClientOptions {
  return {
    ca: serverCa,
    ...(device !== undefined ? { cert: readFileSync(device.cert), key: readFileSync(device.key) } : {}),
  };
}

async function connect(url: string, device: CertificateFiles | undefined, options: IClientOptions = {}) {
  const client = await mqttConnect(url, { ...tlsOptions(device), ...options });
  clients.push(client);
  return client;
}

/**
 * A connection attempt that must fail: resolves to the error mqtt.js reports, or to 'closed' when the
 * connection just ends (with TLS 1.3 a refused client certificate arrives after mqtt.js saw the handshake end,
 * and mqtt.js then reports no error).
 */
function refused(
  url: string,
  device: CertificateFiles | undefined,
  options: IClientOptions = {},
): Promise<(Error & { code?: number }) | 'closed'> {
  const client = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    ...tlsOptions(device),
    ...options,
  });
  clients.push(client);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('neither refused nor let in in time')), WAIT_MS);
    const settle = (outcome: (Error & { code?: number }) | 'closed' | 'connected'): void => {
      clearTimeout(timer);
      client.removeAllListeners();
      client.on('error', () => {});
      if (outcome === 'connected') reject(new Error('the client was let in'));
      else resolve(outcome);
    };
    client.once('connect', () => settle('connected'));
    client.once('error', (error) => settle(error));
    client.once('close', () => settle('closed'));
  });
}

describe('client certificates required (--client-ca)', () => {
  it.each(['mqtt', 'ws'] as const)(
    'over %s: the subject CN is the identity the ACL sees; its own topics only',
    async (listener) => {
      const gateway = await start({ clientCa: devicesCa, users, acl });
      expect(gateway.config.clientCert).toEqual({ mode: 'require', ca: devicesCa, identity: 'cn' });
      const url = gateway.addresses[listener]?.url ?? '';
      // No user name and no password: the certificate is the credential, even with a users file.
      const one = await connect(url, device1, { protocolVersion: 5 });
      const two = await connect(url, device2, { protocolVersion: 5 });
      expect(await subackCodes(one, ['devices/device-1/#', 'devices/device-2/#'])).toEqual([1, 0x87]);

      const arriving = nextMqttMessage(one);
      await two.publishAsync('devices/device-2/x', 'not for device-1', { qos: 1 }).catch(() => {});
      const denied = await new Promise<number | undefined>((resolve) => {
        two.publish('devices/device-1/cmd', 'intruder', { qos: 1 }, (_error, packet) =>
          resolve((packet as { reasonCode?: number } | undefined)?.reasonCode),
        );
      });
      expect(denied).toBe(0x87);
      await one.publishAsync('devices/device-1/state', 'own', { qos: 1 });
      expect(await arriving).toEqual({ topic: 'devices/device-1/state', payload: 'own' });
      expect(
        sample(await gateway.metrics.metrics(), 'dragoman_authorization_denials_total', {}),
      ).toBeGreaterThan(0);
    },
  );

  it.each(['mqtt', 'ws'] as const)(
    'over %s: a certificate from an unknown CA, or none, fails the TLS handshake',
    async (listener) => {
      const gateway = await start({ clientCa: devicesCa, clientCert: 'require' });
      const url = gateway.addresses[listener]?.url ?? '';
      expect(await refused(url, rogue)).toBeDefined();
      expect(await refused(url, undefined)).toBeDefined();
      const handshakes = sample(await gateway.metrics.metrics(), 'dragoman_errors_total', {
        reason: 'tls-handshake',
      });
      expect(handshakes).toBeGreaterThanOrEqual(listener === 'mqtt' ? 2 : 1);
      // A device with a valid certificate is still served.
      await connect(url, device1);
      expect(
        sample(await gateway.metrics.metrics(), 'dragoman_mqtt_connections', {
          transport: listener === 'mqtt' ? 'tcp' : 'ws',
        }),
      ).toBe(1);
    },
  );

  it.each([4, 5] as const)(
    'MQTT %i: a CONNECT user name other than the certificate identity is refused (0x87 / 5); the same is accepted',
    async (v) => {
      const gateway = await start({ clientCa: devicesCa, ws: 'off' });
      const url = gateway.addresses.mqtt?.url ?? '';
      const error = await refused(url, device1, { protocolVersion: v, username: 'device-2', password: 'x' });
      expect(error !== 'closed' && error.code).toBe(v === 5 ? 0x87 : 5);
      await connect(url, device1, { protocolVersion: v, username: 'device-1' });
      expect(
        sample(await gateway.metrics.metrics(), 'dragoman_errors_total', { reason: 'auth-failed' }),
      ).toBe(1);
    },
  );

  it('--cert-identity dn: the whole subject DN, most specific first, is the identity', async () => {
    const gateway = await start({ clientCa: devicesCa, certIdentity: 'dn', acl, ws: 'off' });
    const one = await connect(gateway.addresses.mqtt?.url ?? '', device1, { protocolVersion: 5 });
    expect(await subackCodes(one, ['dn/#', 'devices/device-1/#'])).toEqual([1, 0x87]);
  });
});

describe('client certificates requested (--client-cert request)', () => {
  it('a valid certificate is the identity; without one, or with an untrusted one, the users file decides', async () => {
    const gateway = await start({ clientCa: devicesCa, clientCert: 'request', users, acl, ws: 'off' });
    const url = gateway.addresses.mqtt?.url ?? '';
    const one = await connect(url, device1, { protocolVersion: 5 });
    expect(await subackCodes(one, ['devices/device-1/#'])).toEqual([1]);

    const alice = await connect(url, undefined, { protocolVersion: 5, username: 'alice', password: 'a' });
    expect(await subackCodes(alice, ['devices/alice/#', 'devices/device-1/#'])).toEqual([1, 0x87]);

    // The rogue certificate claims device-1 but is not trusted: it counts as none.
    const rogueAlone = await refused(url, rogue, { protocolVersion: 5 });
    expect(rogueAlone !== 'closed' && rogueAlone.code).toBe(0x86);
    const rogueAlice = await connect(url, rogue, { protocolVersion: 5, username: 'alice', password: 'a' });
    expect(await subackCodes(rogueAlice, ['devices/device-1/#'])).toEqual([0x87]);
  });

  it('plain WebSocket beside it is allowed (request), but not when certificates are required', async () => {
    await expect(
      startGateway(
        { clientCa: devicesCa, mqttCert: server.cert, mqttKey: server.key, ws: '127.0.0.1:0' },
        { logger: silent },
      ),
    ).rejects.toThrow(ConfigError);
    const gateway = await start({
      clientCa: devicesCa,
      clientCert: 'request',
      wsCert: undefined,
      wsKey: undefined,
    });
    expect(gateway.addresses.ws?.url).toMatch(/^ws:/);
    const plain = await mqttConnect(gateway.addresses.ws?.url ?? '');
    clients.push(plain);
    expect(plain.connected).toBe(true);
  });
});

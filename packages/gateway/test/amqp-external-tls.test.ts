/**
 * `amqpCert` / `amqpKey` (`--amqp-cert`, `--amqp-key`): towards an external AMQP network the gateway presents
 * its own client certificate and authenticates with SASL EXTERNAL. The network is rhea itself, listening on
 * amqps with client certificates required, recording the SASL mechanism, initial response and certificate
 * of every connection.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as amqpConnect } from '@dragoman/amqp';
import type { IClientOptions, MqttClient } from 'mqtt';
import { pino } from 'pino';
import rhea from 'rhea';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type RunningGateway, startGateway } from '../src/index';
import { type CertificateFiles, certificateAuthority, issueCertificate } from './support/certificates';
import { mqttConnect, next } from './support/peers';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'dragoman-amqp-external-'));
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];
const closers: (() => Promise<void>)[] = [];

let ca: CertificateFiles;
let networkCert: CertificateFiles;
let gatewayCert: CertificateFiles;

beforeAll(() => {
  ca = certificateAuthority(dir, 'network-ca');
  networkCert = issueCertificate(dir, ca, 'network', '/CN=localhost', 'server');
  gatewayCert = issueCertificate(dir, ca, 'gateway', '/O=Acme/CN=dragoman-gateway-1', 'client');
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
  // Last opened, first closed: a listener closes only once its connections have.
  for (const close of closers.splice(0).reverse()) await close();
});

interface SaslRecord {
  readonly mechanism: string;
  /** The SASL EXTERNAL initial response: the authorization identity asked for ('' = the certificate's). */
  readonly authzid: string;
  /** CN of the client certificate the TLS layer verified. */
  readonly certificateCn: unknown;
}

/** A rhea AMQP network on amqps that offers only SASL EXTERNAL and records each authentication. */
async function externalNetwork(): Promise<{ url: string; records: SaslRecord[]; events: rhea.Container }> {
  const records: SaslRecord[] = [];
  const container = rhea.create_container({ id: 'external-network' });
  const mechanisms = container.sasl_server_mechanisms as unknown as Record<string, () => unknown>;
  mechanisms.EXTERNAL = () => {
    const mechanism: { outcome?: boolean; username?: string; start(response?: Buffer): void } = {
      start(response) {
        records.push({
          mechanism: 'EXTERNAL',
          authzid: response?.toString('utf8') ?? '',
          certificateCn: undefined,
        });
        mechanism.outcome = true;
        mechanism.username = 'certificate';
      },
    };
    return mechanism;
  };
  container.on('connection_open', (context) => {
    const last = records.at(-1);
    const subject = context.connection.get_peer_certificate()?.subject as { CN?: unknown } | undefined;
    if (last !== undefined) records[records.length - 1] = { ...last, certificateCn: subject?.CN };
  });
  container.on('error', () => {});
  const server = container.listen({
    host: '127.0.0.1',
    port: 0,
    transport: 'tls',
    key: readFileSync(networkCert.key),
    cert: readFileSync(networkCert.cert),
    ca: readFileSync(ca.cert),
    requestCert: true,
    rejectUnauthorized: true,
  });
  await next(server, 'listening');
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  return { url: `amqps://127.0.0.1:${port}`, records, events: container };
}

/** A gateway bridging to `network` with its own certificate (SASL EXTERNAL); closed after the test. */
async function gatewayTowards(
  network: { url: string },
  options: Partial<Parameters<typeof startGateway>[0]> = {},
): Promise<RunningGateway> {
  const gateway = await startGateway(
    {
      mqtt: '127.0.0.1:0',
      ws: 'off',
      amqp: network.url,
      amqpCa: ca.cert,
      amqpCert: gatewayCert.cert,
      amqpKey: gatewayCert.key,
      connectTimeout: 3_000,
      ...options,
    },
    { logger: silent },
  );
  gateways.push(gateway);
  return gateway;
}

/**
 * An MQTT client whose CONNECT the gateway has answered, ended after the test. Waiting for CONNACK keeps the
 * teardown orderly: a client ended while the bridge still opens its per-client AMQP connection makes the
 * bridge abandon that connection, and the network then writes to a reset socket.
 */
async function connectedClient(gateway: RunningGateway, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqttConnect(gateway.addresses.mqtt?.url ?? '', options);
  clients.push(client);
  return client;
}

describe('the gateway towards an external network with its own certificate', () => {
  it('authenticates every AMQP connection with SASL EXTERNAL and its certificate', async () => {
    const network = await externalNetwork();
    const gateway = await gatewayTowards(network);
    // The health monitor's connection answered: EXTERNAL, with the gateway's certificate.
    expect(gateway.health().amqp).toBe('up');
    expect(network.records[0]).toEqual({
      mechanism: 'EXTERNAL',
      authzid: '',
      certificateCn: 'dragoman-gateway-1',
    });

    // An MQTT client makes the bridge open its own (pooled) connection the same way. rhea's defaults (links
    // opened, messages accepted) serve a clean-session CONNECT, which is awaited so none is left half-way.
    const opened = next(network.events, 'connection_open');
    await connectedClient(gateway);
    await opened;
    expect(network.records).toHaveLength(2);
    expect(network.records[1]).toEqual(network.records[0]);
  });

  it('@dragoman/amqp sends an EXTERNAL authorization identity when asked (for per-device connections)', async () => {
    const network = await externalNetwork();
    const connection = await amqpConnect({
      url: network.url,
      tls: {
        ca: readFileSync(ca.cert),
        cert: readFileSync(gatewayCert.cert),
        key: readFileSync(gatewayCert.key),
      },
      sasl: { mechanism: 'EXTERNAL', authzid: 'device-1' },
      reconnect: false,
    });
    closers.push(() => connection.close());
    expect(network.records).toEqual([
      { mechanism: 'EXTERNAL', authzid: 'device-1', certificateCn: 'dragoman-gateway-1' },
    ]);
  });

  it('with amqpIdentity device, opens one connection per MQTT client acting as its identity (authzid)', async () => {
    const network = await externalNetwork();
    const gateway = await gatewayTowards(network, { amqpIdentity: 'device' });
    for (const device of ['device-7', 'device-8']) {
      const opened = next(network.events, 'connection_open');
      await connectedClient(gateway, { username: device, clientId: `${device}-client` });
      await opened;
    }
    // The health monitor's connection acts as the gateway; each client's, as that client.
    expect(network.records.map((r) => r.authzid)).toEqual(['', 'device-7', 'device-8']);
    expect(network.records.every((r) => r.certificateCn === 'dragoman-gateway-1')).toBe(true);
  });

  it('refuses settings that cannot work', async () => {
    const base = { mqtt: '127.0.0.1:0', ws: 'off', amqpCert: gatewayCert.cert, amqpKey: gatewayCert.key };
    for (const options of [
      { ...base, amqp: 'amqp://127.0.0.1:5672' }, // no TLS: no certificate to present
      { ...base, amqp: 'amqps://user:secret@127.0.0.1:5671' }, // PLAIN and EXTERNAL at once
      { ...base }, // the embedded backend
      { ...base, amqp: 'amqps://127.0.0.1:5671', amqpKey: undefined },
      { mqtt: '127.0.0.1:0', ws: 'off', amqp: 'amqps://127.0.0.1:5671', amqpIdentity: 'device' as const }, // no certificate
      {
        ...base,
        amqp: 'amqps://127.0.0.1:5671',
        amqpIdentity: 'device' as const,
        auth: 'pass-through' as const,
      },
    ]) {
      await expect(startGateway(options, { logger: silent })).rejects.toThrow(ConfigError);
    }
  });
});

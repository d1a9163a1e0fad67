import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AmqpConnection, type AmqpListener, connect, InvalidArgumentError, listen } from '../src/index';
import { waitFor } from './helpers';

interface Pki {
  ca: Buffer;
  serverKey: Buffer;
  serverCert: Buffer;
  clientKey: Buffer;
  clientCert: Buffer;
}

let dir: string;
let pki: Pki;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate with CN=device-1. */
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dragoman-amqp-tls-'));
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=test-ca',
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', ['-extfile', 'server.ext']],
    ['client', 'device-1', []],
  ] as const) {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      ...ext,
    );
  }
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  pki = {
    ca: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
  };
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('amqps', () => {
  let listener: AmqpListener | undefined;
  let client: AmqpConnection | undefined;
  afterEach(async () => {
    await client?.close();
    await listener?.close();
    client = undefined;
    listener = undefined;
  });

  it('connects over TLS with the tls options passed through, and exchanges a message', async () => {
    listener = await listen({ tls: { key: pki.serverKey, cert: pki.serverCert } });
    expect(listener.url).toMatch(/^amqps:\/\/127\.0\.0\.1:\d+$/);
    listener.on('connection', (c) =>
      c.on('incomingLink', (l) => l.acceptReceiver().on('delivery', (d) => d.accept())),
    );
    client = await connect(listener.url, { tls: { ca: pki.ca }, reconnect: false });
    const sender = await client.openSender('secure');
    expect(await sender.send({ body: { type: 'value', value: 'over tls' } })).toEqual({ state: 'accepted' });
  });

  it('refuses a server certificate it does not trust', async () => {
    listener = await listen({ tls: { key: pki.serverKey, cert: pki.serverCert } });
    await expect(connect(listener.url, { reconnect: false })).rejects.toThrow(/certificate|connect failed/);
  });

  it('SASL EXTERNAL: the client certificate is the identity', async () => {
    listener = await listen({
      tls: {
        key: pki.serverKey,
        cert: pki.serverCert,
        ca: pki.ca,
        requestCert: true,
        rejectUnauthorized: true,
      },
      sasl: { mechanisms: ['EXTERNAL'] },
    });
    const inbound = waitFor<[AmqpConnection]>(listener, 'connection');
    client = await connect(listener.url, {
      tls: { ca: pki.ca, key: pki.clientKey, cert: pki.clientCert },
      sasl: { mechanism: 'EXTERNAL' },
      reconnect: false,
    });
    const [connection] = await inbound;
    expect(connection.peer.mechanism).toBe('EXTERNAL');
    expect(connection.peer.user).toBe('device-1');
  });

  it('EXTERNAL without TLS is a typed error on both sides', async () => {
    await expect(listen({ sasl: { mechanisms: ['EXTERNAL'] } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      connect({ host: '127.0.0.1', port: 1, sasl: { mechanism: 'EXTERNAL' } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

/**
 * The authentication hook: the example module examples/hmac-auth.mjs loaded through `authModule` (what
 * `--auth-module` does) runs a two-step MQTT 5 AUTH exchange with mqtt.js (`authenticationMethod` in CONNECT,
 * `handleAuth` answering the server's challenge); its identity is what the ACL sees; a wrong answer gets
 * CONNACK 0x87 and a method nobody handles 0x8C. `checkPassword` of a host's hook allows, renames, denies or
 * passes on to the users file.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type IAuthPacket, type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthenticationHook,
  ConfigError,
  hashPassword,
  type RunningGateway,
  startGateway,
} from '../src/index';
import { mqttConnect, next, sample, subackCodes, WAIT_MS } from './support/peers';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'dragoman-enhanced-auth-'));
const exampleModule = resolve(fileURLToPath(import.meta.url), '../../examples/hmac-auth.mjs');
const METHOD = 'dragoman-hmac-sha256';
const deviceKey = randomBytes(32);
const otherKey = randomBytes(32);
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];
let acl: string;
let users: string;
/** The example's answer function, imported once the keys file exists (it reads the keys when loaded). */
let answer: (key: Buffer, nonce: Buffer, device: string) => Buffer;

beforeAll(async () => {
  const keys = join(dir, 'keys.json');
  writeFileSync(
    keys,
    JSON.stringify({ 'device-7': deviceKey.toString('base64'), 'device-8': otherKey.toString('base64') }),
  );
  process.env.DRAGOMAN_HMAC_KEYS = keys;
  ({ answer } = (await import(exampleModule)) as { answer: typeof answer });
  acl = join(dir, 'acl');
  writeFileSync(acl, 'pattern readwrite devices/%u/#\n');
  users = join(dir, 'users.json');
  writeFileSync(users, JSON.stringify({ alice: await hashPassword('a', { N: 1024, r: 8, p: 1 }) }));
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
});

async function start(
  options: Parameters<typeof startGateway>[0],
  authenticate?: AuthenticationHook,
): Promise<string> {
  const gateway = await startGateway(
    { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', ...options },
    { logger: silent, ...(authenticate !== undefined ? { authenticate } : {}) },
  );
  gateways.push(gateway);
  return gateway.addresses.mqtt?.url ?? '';
}

interface Attempt {
  readonly client: MqttClient;
  /** The CONNACK (let in) or the error mqtt.js reports (refused). */
  readonly outcome: Promise<{ connack: Packet } | { error: Error & { code?: number } }>;
  /** AUTH packets the server sent. */
  readonly challenges: IAuthPacket[];
}

/** An MQTT 5 client starting an exchange with `method`, answering challenges with `respond`. */
function attempt(
  url: string,
  method: string,
  device: string,
  respond: (nonce: Buffer) => Buffer,
  options: IClientOptions = {},
): Attempt {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    properties: { authenticationMethod: method, authenticationData: Buffer.from(device) },
    ...options,
  });
  clients.push(client);
  const challenges: IAuthPacket[] = [];
  client.handleAuth = (packet, callback) => {
    challenges.push(packet);
    const nonce = packet.properties?.authenticationData ?? Buffer.alloc(0);
    callback(undefined, {
      cmd: 'auth',
      reasonCode: 0x18,
      properties: { authenticationMethod: method, authenticationData: respond(nonce) },
    });
  };
  const outcome = new Promise<{ connack: Packet } | { error: Error & { code?: number } }>((settle) => {
    client.once('connect', (connack) => settle({ connack }));
    client.once('error', (error) => settle({ error }));
  });
  return { client, outcome, challenges };
}

describe('--auth-module with the example HMAC challenge', () => {
  it('a two-step AUTH exchange lets the device in as the identity it proved', async () => {
    const url = await start({ authModule: exampleModule, acl });
    const device = attempt(url, METHOD, 'device-7', (nonce) => answer(deviceKey, nonce, 'device-7'));
    const outcome = await device.outcome;
    expect('connack' in outcome).toBe(true);
    expect(device.challenges).toHaveLength(1);
    expect(device.challenges[0]?.reasonCode).toBe(0x18);
    expect(device.challenges[0]?.properties?.authenticationData).toHaveLength(32);
    const connack = (outcome as { connack: { properties?: { authenticationMethod?: string } } }).connack;
    expect(connack.properties?.authenticationMethod).toBe(METHOD);
    // The ACL sees the proven identity (device-7); the client sent no user name at all.
    expect(await subackCodes(device.client, ['devices/device-7/#', 'devices/device-8/#'])).toEqual([1, 0x87]);
  });

  it('a wrong answer gets CONNACK 0x87; an unknown device the same, after the same steps', async () => {
    const url = await start({ authModule: exampleModule });
    const wrong = attempt(url, METHOD, 'device-7', (nonce) => answer(randomBytes(32), nonce, 'device-7'));
    const unknown = attempt(url, METHOD, 'device-9', (nonce) => answer(deviceKey, nonce, 'device-9'));
    for (const tried of [wrong, unknown]) {
      const outcome = await tried.outcome;
      expect('error' in outcome && outcome.error.code).toBe(0x87);
      expect(tried.challenges).toHaveLength(1);
    }
  });

  it('a method nobody handles gets CONNACK 0x8C, with or without a module', async () => {
    for (const options of [{ authModule: exampleModule }, {}]) {
      const url = await start(options);
      const outcome = await attempt(url, 'SCRAM-SHA-256', 'x', () => Buffer.alloc(0)).outcome;
      expect('error' in outcome && outcome.error.code).toBe(0x8c);
    }
  });

  it('a module that cannot be loaded, or exports no hook, is a ConfigError', async () => {
    const bad = join(dir, 'bad.mjs');
    writeFileSync(bad, 'export default { methods: { x: 42 } };\n');
    const noHook = join(dir, 'no-hook.mjs');
    writeFileSync(noHook, 'export const something = 1;\n');
    for (const authModule of [bad, noHook, join(dir, 'missing.mjs')]) {
      await expect(start({ authModule })).rejects.toThrow(ConfigError);
    }
    await expect(
      start({ authModule: exampleModule }, { checkPassword: () => ({ result: 'next' }) }),
    ).rejects.toThrow(/exclude each other/);
  });
});

describe('checkPassword of a host hook (startGateway authenticate)', () => {
  it('allows (under another identity), denies with its code, or passes on to the users file', async () => {
    const hook: AuthenticationHook = {
      checkPassword: (client) => {
        if (client.username === 'token') {
          return client.password?.toString() === 'good'
            ? { result: 'allow', identity: 'device-42' }
            : { result: 'deny', reasonCode: 0x8a, reasonString: 'banned token' };
        }
        return { result: 'next' };
      },
    };
    const url = await start({ users, acl }, hook);
    const device = await mqttConnect(url, { protocolVersion: 5, username: 'token', password: 'good' });
    clients.push(device);
    expect(await subackCodes(device, ['devices/device-42/#', 'devices/token/#'])).toEqual([1, 0x87]);

    const banned = await mqttConnect(url, { protocolVersion: 5, username: 'token', password: 'bad' }).catch(
      (error: Error & { code?: number }) => error,
    );
    expect((banned as { code?: number }).code).toBe(0x8a);

    const alice = await mqttConnect(url, { protocolVersion: 5, username: 'alice', password: 'a' });
    clients.push(alice);
    const wrong = await mqttConnect(url, { protocolVersion: 4, username: 'alice', password: 'b' }).catch(
      (error: Error & { code?: number }) => error,
    );
    expect((wrong as { code?: number }).code).toBe(4);
    expect(
      sample(await gateways[0]!.metrics.metrics(), 'dragoman_errors_total', { reason: 'auth-failed' }),
    ).toBe(2);
  });
});

/** A raw MQTT 5 client (mqtt.js cannot re-authenticate): writes packets, reads them one by one. */
class RawClient {
  readonly #socket: Socket;
  readonly #packets: Packet[] = [];
  #waiting: ((packet: Packet) => void) | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (packet) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting !== undefined) waiting(packet);
      else this.#packets.push(packet);
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', () => {});
  }

  static async open(url: string): Promise<RawClient> {
    const { hostname, port } = new URL(url);
    const socket = netConnect(Number(port), hostname);
    await next(socket, 'connect');
    return new RawClient(socket);
  }

  send(packet: Packet): void {
    this.#socket.write(mqttPacket.generate(packet, { protocolVersion: 5 }));
  }

  /** The next packet from the gateway. */
  receive(): Promise<Packet> {
    const queued = this.#packets.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no packet in time')), WAIT_MS);
      this.#waiting = (packet) => {
        clearTimeout(timer);
        resolve(packet);
      };
    });
  }

  /** Answers the gateway's challenge (AUTH 0x18) for `device` with `key`; resolves to the packet that follows. */
  async answer(device: string, key: Buffer): Promise<Packet> {
    const challenge = (await this.receive()) as IAuthPacket;
    expect(challenge.cmd).toBe('auth');
    expect(challenge.reasonCode).toBe(0x18);
    const nonce = challenge.properties?.authenticationData ?? Buffer.alloc(0);
    const properties = { authenticationMethod: METHOD, authenticationData: answer(key, nonce, device) };
    this.send({ cmd: 'auth', reasonCode: 0x18, properties });
    return this.receive();
  }

  close(): void {
    this.#socket.destroy();
  }
}

describe('re-authentication (AUTH 0x19) through the same method', () => {
  it('succeeds for the same identity and disconnects (0x87) a client that would change it', async () => {
    const url = await start({ authModule: exampleModule });
    const client = await RawClient.open(url);
    try {
      const begin = { authenticationMethod: METHOD, authenticationData: Buffer.from('device-7') };
      client.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        clientId: 'raw-device',
        keepalive: 60,
        properties: begin,
      });
      const connack = await client.answer('device-7', deviceKey);
      expect(connack).toMatchObject({ cmd: 'connack', reasonCode: 0 });

      client.send({ cmd: 'auth', reasonCode: 0x19, properties: begin });
      expect(await client.answer('device-7', deviceKey)).toMatchObject({ cmd: 'auth', reasonCode: 0 });

      // device-8's key is right for device-8, but this connection is device-7's.
      const other = { authenticationMethod: METHOD, authenticationData: Buffer.from('device-8') };
      client.send({ cmd: 'auth', reasonCode: 0x19, properties: other });
      expect(await client.answer('device-8', otherKey)).toMatchObject({
        cmd: 'disconnect',
        reasonCode: 0x87,
      });
    } finally {
      client.close();
    }
  });
});

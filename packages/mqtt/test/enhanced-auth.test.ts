/**
 * MQTT 5 enhanced authentication through the `authenticate` hook: a SCRAM-like two-step exchange, failure,
 * no hook, re-authentication, time-out and the protocol rules around AUTH — with mqtt.js 5 as the client
 * where it can drive the exchange, raw packets where it cannot (re-authentication, broken clients).
 */
import type net from 'node:net';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import {
  type AuthenticateHook,
  type AuthenticationStep,
  type CloseReason,
  encodePacket,
  MqttDecoder,
  type MqttEndpoint,
  type MqttPacket,
  MqttServer,
  type MqttServerOptions,
} from '../src/index';
import { client, closedAfterEach, next, rawSocket, startServer, until } from './support/harness';

const opened = closedAfterEach();

const METHOD = 'SCRAM-TEST';

/**
 * A two-step challenge/response in the shape of SCRAM: the client's first message names the user, the
 * server answers with a nonce, the client proves it knows the secret with that nonce, the server signs off.
 */
function scramLikeHook(steps: AuthenticationStep[]): AuthenticateHook {
  return async (step) => {
    steps.push(step);
    if (step.method !== METHOD) return { result: 'failure', reasonCode: 0x8c };
    if (step.step === 0) {
      const user = step.data?.toString().replace(/^n=/, '');
      if (user === undefined) return { result: 'failure' };
      const nonce = `nonce-${step.kind}`;
      step.state.set('user', user);
      step.state.set('nonce', nonce);
      return { result: 'continue', data: Buffer.from(`r=${nonce}`) };
    }
    const expected = `p=${step.state.get('user')}:secret:${step.state.get('nonce')}`;
    if (step.data?.toString() !== expected) return { result: 'failure', reasonString: 'wrong proof' };
    return { result: 'success', data: Buffer.from('v=server-signature') };
  };
}

function mqttJs(port: number, clientFirst: string, proof: (challenge: string) => string): MqttClient {
  const c = client(port, {
    protocolVersion: 5,
    clientId: 'auth',
    properties: { authenticationMethod: METHOD, authenticationData: Buffer.from(clientFirst) },
  });
  // mqtt.js asks this for the answer to each server AUTH 0x18.
  c.handleAuth = (packet, callback) => {
    const challenge = packet.properties?.authenticationData?.toString() ?? '';
    callback(undefined, {
      cmd: 'auth',
      reasonCode: 0x18,
      properties: { authenticationMethod: METHOD, authenticationData: Buffer.from(proof(challenge)) },
    });
  };
  opened.clients.push(c);
  return c;
}

describe('options', () => {
  it('authenticate must be a function', () => {
    expect(() => new MqttServer({ authenticate: 'yes' as unknown as AuthenticateHook })).toThrow(TypeError);
  });
});

describe('mqtt.js 5 at CONNECT', () => {
  it('runs a two-step exchange through the hook, then the host accepts; CONNACK carries method and data', async () => {
    const steps: AuthenticationStep[] = [];
    opened.harness = await startServer({ authenticate: scramLikeHook(steps) });
    const endpointPromise = next<[MqttEndpoint]>(opened.harness.server, 'endpoint');
    const mqttClient = mqttJs(
      opened.harness.port,
      'n=alice',
      (challenge) => `p=alice:secret:${challenge.slice(2)}`,
    );
    const [endpoint] = await endpointPromise;
    // The endpoint is handed over only once the exchange has succeeded.
    expect(steps.map((s) => [s.kind, s.step, s.data?.toString()])).toEqual([
      ['connect', 0, 'n=alice'],
      ['connect', 1, 'p=alice:secret:nonce-connect'],
    ]);
    expect(steps[1]!.state).toBe(steps[0]!.state);
    expect(steps[0]!.endpoint).toBe(endpoint);
    const connack = next<[{ properties?: Record<string, unknown> }]>(mqttClient, 'connect');
    endpoint.accept();
    const [packet] = await connack;
    expect(packet.properties?.authenticationMethod).toBe(METHOD);
    expect(packet.properties?.authenticationData).toEqual(Buffer.from('v=server-signature'));
  });

  it('a failed step gets CONNACK 0x87 (or the code the hook chose) and no endpoint', async () => {
    const steps: AuthenticationStep[] = [];
    opened.harness = await startServer({ authenticate: scramLikeHook(steps) });
    let endpoints = 0;
    opened.harness.server.on('endpoint', () => endpoints++);
    const refused = next<[CloseReason]>(opened.harness.server, 'connectionError');
    const mqttClient = mqttJs(opened.harness.port, 'n=mallory', () => 'p=mallory:guess');
    const [error] = await next<[Error & { code?: number }]>(mqttClient, 'error');
    expect(error.code).toBe(0x87);
    expect((await refused)[0]).toEqual({ kind: 'rejected', reasonCode: 0x87 });
    expect(steps).toHaveLength(2);
    expect(endpoints).toBe(0);
  });

  it('without a hook a CONNECT with an authentication method gets CONNACK 0x8C', async () => {
    opened.harness = await startServer();
    let endpoints = 0;
    opened.harness.server.on('endpoint', () => endpoints++);
    const mqttClient = mqttJs(opened.harness.port, 'n=alice', () => 'unused');
    const [error] = await next<[Error & { code?: number }]>(mqttClient, 'error');
    expect(error.code).toBe(0x8c);
    expect(endpoints).toBe(0);
  });

  it('a CONNECT without an authentication method does not involve the hook', async () => {
    let calls = 0;
    opened.harness = await startServer({
      authenticate: () => {
        calls++;
        return { result: 'failure' };
      },
    });
    const endpointPromise = next<[MqttEndpoint]>(opened.harness.server, 'endpoint');
    const mqttClient = client(opened.harness.port, { protocolVersion: 5, clientId: 'plain' });
    opened.clients.push(mqttClient);
    const [endpoint] = await endpointPromise;
    const connected = next(mqttClient, 'connect');
    endpoint.accept();
    await connected;
    expect(calls).toBe(0);
  });
});

/** A raw MQTT 5 client: writes packets, collects decoded ones. */
async function rawClient(options: MqttServerOptions) {
  opened.harness = await startServer(options);
  const socket: net.Socket = await rawSocket(opened.harness.port);
  const decoder = new MqttDecoder({ protocolVersion: 5 });
  const packets: MqttPacket[] = [];
  socket.on('data', (chunk: Buffer) => packets.push(...decoder.decode(chunk)));
  return {
    packets,
    send: (...list: MqttPacket[]) => socket.write(Buffer.concat(list.map((p) => encodePacket(p, 5)))),
    waitFor: async (predicate: (p: MqttPacket) => boolean, count = 1): Promise<MqttPacket[]> => {
      await until(() => packets.filter(predicate).length >= count, socket, ['data']);
      return packets.filter(predicate);
    },
  };
}

const connectWith = (method?: string, data?: string): MqttPacket => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 5,
  clean: true,
  keepalive: 0,
  clientId: 'raw-auth',
  ...(method !== undefined
    ? {
        properties: {
          authenticationMethod: method,
          ...(data !== undefined ? { authenticationData: Buffer.from(data) } : {}),
        },
      }
    : {}),
});

const auth = (reasonCode: number, data?: string, method = METHOD): MqttPacket => ({
  cmd: 'auth',
  reasonCode,
  properties: {
    authenticationMethod: method,
    ...(data !== undefined ? { authenticationData: Buffer.from(data) } : {}),
  },
});

/** Runs the CONNECT exchange of scramLikeHook for user alice and accepts. */
async function authenticated(steps: AuthenticationStep[], options: MqttServerOptions = {}) {
  const raw = await rawClient({ authenticate: scramLikeHook(steps), ...options });
  const endpointPromise = next<[MqttEndpoint]>(opened.harness!.server, 'endpoint');
  raw.send(connectWith(METHOD, 'n=alice'));
  await raw.waitFor((p) => p.cmd === 'auth');
  raw.send(auth(0x18, 'p=alice:secret:nonce-connect'));
  const [endpoint] = await endpointPromise;
  endpoint.accept();
  await raw.waitFor((p) => p.cmd === 'connack');
  return { ...raw, endpoint };
}

describe('re-authentication (AUTH 0x19 after CONNACK)', () => {
  it('goes through the hook step by step while other packets carry on; success sends AUTH 0x00', async () => {
    const steps: AuthenticationStep[] = [];
    const { endpoint, send, waitFor, packets } = await authenticated(steps);
    endpoint.on('publish', (m) => m.ack());
    const reauthenticated = next(endpoint, 'reauthenticated');
    send(auth(0x19, 'n=alice'));
    await waitFor((p) => p.cmd === 'auth', 2);
    expect(packets.filter((p) => p.cmd === 'auth')[1]).toMatchObject({
      reasonCode: 0x18,
      properties: {
        authenticationMethod: METHOD,
        authenticationData: Buffer.from('r=nonce-re-authenticate'),
      },
    });
    // The connection carries on during the exchange.
    send({
      cmd: 'publish',
      topic: 't',
      payload: Buffer.from('x'),
      qos: 1,
      retain: false,
      dup: false,
      messageId: 1,
    });
    await waitFor((p) => p.cmd === 'puback');
    send(auth(0x18, 'p=alice:secret:nonce-re-authenticate'));
    await reauthenticated;
    const last = (await waitFor((p) => p.cmd === 'auth', 3))[2];
    expect(last).toEqual({
      cmd: 'auth',
      reasonCode: 0,
      properties: { authenticationMethod: METHOD, authenticationData: Buffer.from('v=server-signature') },
    });
    expect(steps.slice(2).map((s) => [s.kind, s.step])).toEqual([
      ['re-authenticate', 0],
      ['re-authenticate', 1],
    ]);
    expect(endpoint.state).toBe('connected');
  });

  it('a failed re-authentication ends the connection with DISCONNECT 0x87', async () => {
    const steps: AuthenticationStep[] = [];
    const { endpoint, send, waitFor } = await authenticated(steps);
    const closed = next<[CloseReason]>(endpoint, 'close');
    send(auth(0x19, 'n=alice'));
    await waitFor((p) => p.cmd === 'auth', 2);
    send(auth(0x18, 'p=alice:wrong'));
    expect((await closed)[0]).toEqual({ kind: 'server-disconnect', reasonCode: 0x87 });
    const [disconnect] = await waitFor((p) => p.cmd === 'disconnect');
    expect(disconnect).toMatchObject({ reasonCode: 0x87, properties: { reasonString: 'wrong proof' } });
  });

  it.each([
    ['AUTH 0x19 naming another method', auth(0x19, 'n=alice', 'OTHER')],
    ['AUTH 0x18 that no server AUTH asked for', auth(0x18, 'x')],
    ['AUTH with reason code 0x00 from the client', auth(0x00)],
  ])('%s is a protocol error (DISCONNECT 0x82)', async (_name, packet) => {
    const { endpoint, send, waitFor } = await authenticated([]);
    const closed = next<[CloseReason]>(endpoint, 'close');
    send(packet);
    expect((await closed)[0]).toMatchObject({ kind: 'protocol-error', reasonCode: 0x82 });
    expect((await waitFor((p) => p.cmd === 'disconnect'))[0]).toMatchObject({ reasonCode: 0x82 });
  });

  it('AUTH 0x19 from a client that connected without a method is a protocol error', async () => {
    const raw = await rawClient({ authenticate: scramLikeHook([]) });
    const endpointPromise = next<[MqttEndpoint]>(opened.harness!.server, 'endpoint');
    raw.send(connectWith());
    const [endpoint] = await endpointPromise;
    endpoint.accept();
    const closed = next<[CloseReason]>(endpoint, 'close');
    raw.send(auth(0x19, 'n=alice'));
    expect((await closed)[0]).toMatchObject({ kind: 'protocol-error', reasonCode: 0x82 });
  });
});

describe('the exchange at CONNECT, raw', () => {
  it('a packet other than AUTH or DISCONNECT before CONNACK is a protocol error (CONNACK 0x82)', async () => {
    const raw = await rawClient({ authenticate: scramLikeHook([]) });
    const refused = next<[CloseReason]>(opened.harness!.server, 'connectionError');
    raw.send(connectWith(METHOD, 'n=alice'));
    await raw.waitFor((p) => p.cmd === 'auth');
    raw.send({ cmd: 'pingreq' });
    expect((await refused)[0]).toMatchObject({ kind: 'protocol-error', reasonCode: 0x82 });
    expect((await raw.waitFor((p) => p.cmd === 'connack'))[0]).toMatchObject({ reasonCode: 0x82 });
  });

  it('a hook that throws fails the CONNECT with 0x80', async () => {
    const raw = await rawClient({
      authenticate: () => {
        throw new Error('directory down');
      },
    });
    raw.send(connectWith(METHOD, 'n=alice'));
    expect((await raw.waitFor((p) => p.cmd === 'connack'))[0]).toMatchObject({
      reasonCode: 0x80,
      properties: { reasonString: 'authentication failed: directory down' },
    });
  });

  it('a hook that never answers is aborted when connectTimeoutMs runs out', async () => {
    let signal: AbortSignal | undefined;
    const raw = await rawClient({
      connectTimeoutMs: 200,
      authenticate: (step) => {
        signal = step.signal;
        return new Promise(() => {
          // Never answers: the endpoint's clock must end the exchange.
        });
      },
    });
    const refused = next<[CloseReason]>(opened.harness!.server, 'connectionError');
    raw.send(connectWith(METHOD, 'n=alice'));
    expect((await refused)[0]).toEqual({ kind: 'connect-timeout' });
    expect(signal?.aborted).toBe(true);
    expect(raw.packets).toEqual([]);
  });

  it('authentication data without a method is a protocol error', async () => {
    const raw = await rawClient({ authenticate: scramLikeHook([]) });
    raw.send({ ...connectWith(), properties: { authenticationData: Buffer.from('x') } } as MqttPacket);
    expect((await raw.waitFor((p) => p.cmd === 'connack'))[0]).toMatchObject({ reasonCode: 0x82 });
  });
});

describe('re-authentication time limit', () => {
  it('a re-authentication the hook never finishes ends with DISCONNECT 0x87 and an aborted signal', async () => {
    const steps: AuthenticationStep[] = [];
    const scram = scramLikeHook(steps);
    let reauthSignal: AbortSignal | undefined;
    const { endpoint, send, waitFor } = await authenticated([], {
      connectTimeoutMs: 2_000,
      authenticate: (step) => {
        if (step.kind === 'connect') return scram(step);
        reauthSignal = step.signal;
        return new Promise(() => {
          // Never answers.
        });
      },
    });
    const closed = next<[CloseReason]>(endpoint, 'close');
    send(auth(0x19, 'n=alice'));
    expect((await closed)[0]).toEqual({ kind: 'server-disconnect', reasonCode: 0x87 });
    expect((await waitFor((p) => p.cmd === 'disconnect'))[0]).toMatchObject({ reasonCode: 0x87 });
    expect(reauthSignal?.aborted).toBe(true);
  });
});

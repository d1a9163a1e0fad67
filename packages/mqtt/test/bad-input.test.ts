/**
 * Bad input over a real TCP connection: each case gets the documented reason code, the documented
 * last packet (MQTT 5: DISCONNECT or CONNACK with the reason code; 3.1.1: nothing, or a CONNACK return
 * code where the specification asks for one) and a closed connection. Nothing crashes.
 */
import { once } from 'node:events';
import type net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CloseReason,
  MqttDecoder,
  type MqttEndpoint,
  type MqttPacket,
  type ProtocolVersion,
  ReasonCode,
} from '../src/index';
import { type Harness, next, rawSocket, startServer, TIMEOUT_MS } from './support/harness';

const MAX_PACKET_SIZE = 1024;

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function gen(packet: Record<string, unknown>, version: ProtocolVersion = 4): Buffer {
  return mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion: version });
}

function connectBytes(version: ProtocolVersion, extra: Record<string, unknown> = {}): Buffer {
  return gen(
    {
      cmd: 'connect',
      protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      clientId: 'bad',
      clean: true,
      keepalive: 0,
      ...extra,
    },
    version,
  );
}

/** A PUBLISH with a raw topic (bytes as given, so it can be ill-formed). */
function publishWithRawTopic(topic: Buffer, version: ProtocolVersion): Buffer {
  const props = version === 5 ? [0] : [];
  const body = Buffer.concat([
    Buffer.from([topic.length >> 8, topic.length & 0xff]),
    topic,
    Buffer.from(props),
    Buffer.from('x'),
  ]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** Reads everything until the server closes; returns the bytes. */
async function readUntilClosed(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'close', { signal: AbortSignal.timeout(TIMEOUT_MS) });
  return Buffer.concat(chunks);
}

function decodeAll(bytes: Buffer, version: ProtocolVersion): MqttPacket[] {
  return new MqttDecoder({ protocolVersion: version }).decode(bytes);
}

interface Case {
  name: string;
  /** The bytes that follow an accepted CONNECT of `version`. */
  bytes: (version: ProtocolVersion) => Buffer;
  reasonCode: number;
  versions: ProtocolVersion[];
}

/** Cases after an accepted CONNECT: MQTT 5 gets DISCONNECT(reasonCode), 3.1.1 just the close. */
const afterConnect: Case[] = [
  { name: 'second CONNECT', bytes: (v) => connectBytes(v), reasonCode: 0x82, versions: [4, 5] },
  {
    name: 'wildcard in a published topic',
    bytes: (v) => gen({ cmd: 'publish', topic: 'a/+/c', payload: 'x', qos: 0 }, v),
    reasonCode: 0x90,
    versions: [4, 5],
  },
  {
    name: 'multi-level wildcard in a published topic',
    bytes: (v) => gen({ cmd: 'publish', topic: 'a/#', payload: 'x', qos: 0 }, v),
    reasonCode: 0x90,
    versions: [4, 5],
  },
  {
    name: 'empty topic without alias',
    bytes: (v) => publishWithRawTopic(Buffer.alloc(0), v),
    reasonCode: 0x90,
    versions: [4, 5],
  },
  {
    name: 'PUBLISH with QoS 3',
    bytes: () => Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  {
    name: 'PUBLISH QoS 0 with DUP',
    bytes: () => Buffer.from([0x38, 0x04, 0x00, 0x01, 0x61, 0x78]),
    reasonCode: 0x81,
    versions: [4],
  },
  {
    name: 'PUBREL with reserved flags 0',
    bytes: () => Buffer.from([0x60, 0x02, 0x00, 0x01]),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  {
    name: 'SUBSCRIBE with reserved flags 0',
    bytes: () => Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]),
    reasonCode: 0x81,
    versions: [4],
  },
  {
    name: 'PINGREQ with a body',
    bytes: () => Buffer.from([0xc0, 0x01, 0x00]),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  {
    name: 'PUBACK with wrong remaining length',
    bytes: () => Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00]),
    reasonCode: 0x81,
    versions: [4],
  },
  {
    name: 'reserved packet type 0',
    bytes: () => Buffer.from([0x00, 0x00]),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  { name: 'AUTH in MQTT 3.1.1', bytes: () => Buffer.from([0xf0, 0x00]), reasonCode: 0x81, versions: [4] },
  {
    name: 'AUTH (enhanced authentication unsupported)',
    bytes: () => Buffer.from([0xf0, 0x02, 0x18, 0x00]),
    reasonCode: 0x82,
    versions: [5],
  },
  {
    name: 'CONNACK sent to a server',
    bytes: (v) => gen({ cmd: 'connack', sessionPresent: false, returnCode: 0, reasonCode: 0 }, v),
    reasonCode: 0x82,
    versions: [4, 5],
  },
  {
    name: 'invalid UTF-8 in a topic',
    bytes: (v) => publishWithRawTopic(Buffer.from([0x61, 0xff, 0xfe]), v),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  {
    name: 'U+0000 in a topic',
    bytes: (v) => publishWithRawTopic(Buffer.from([0x61, 0x00, 0x62]), v),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  {
    name: 'UTF-16 surrogate encoded in a topic',
    bytes: (v) => publishWithRawTopic(Buffer.from([0x61, 0xed, 0xa0, 0x80]), v),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  {
    name: 'truncated PUBLISH (topic longer than the packet)',
    bytes: () => Buffer.from([0x30, 0x03, 0x00, 0x05, 0x61]),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  {
    name: 'PUBLISH QoS 1 with packet identifier 0',
    bytes: (v) => gen({ cmd: 'publish', topic: 'a', payload: 'x', qos: 1, messageId: 0 }, v),
    reasonCode: 0x82,
    versions: [4, 5],
  },
  {
    name: 'oversized packet (rejected from the fixed header alone)',
    bytes: () => Buffer.from([0x30, 0xd0, 0x0f]), // remaining length 2000 > 1024, no body sent
    reasonCode: 0x95,
    versions: [4, 5],
  },
  {
    name: 'remaining length of 5 bytes',
    bytes: () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
    reasonCode: 0x81,
    versions: [4, 5],
  },
  {
    name: 'SUBSCRIBE with invalid topic filter (3.1.1)',
    bytes: (v) => gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#/b', qos: 0 }] }, v),
    reasonCode: 0x81,
    versions: [4],
  },
  {
    name: 'SUBSCRIBE with QoS 3',
    bytes: () => Buffer.from([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03]),
    reasonCode: 0x81,
    versions: [4],
  },
  {
    name: 'topic alias above the maximum',
    bytes: (v) => gen({ cmd: 'publish', topic: 'a', payload: 'x', qos: 0, properties: { topicAlias: 9 } }, v),
    reasonCode: 0x94,
    versions: [5],
  },
  {
    name: 'unknown topic alias',
    bytes: (v) => gen({ cmd: 'publish', topic: '', payload: 'x', qos: 0, properties: { topicAlias: 1 } }, v),
    reasonCode: 0x82,
    versions: [5],
  },
  {
    name: 'PUBLISH with a property not allowed in PUBLISH',
    bytes: () => Buffer.from([0x30, 0x08, 0x00, 0x01, 0x61, 0x03, 0x21, 0x00, 0x05, 0x78]),
    reasonCode: 0x81,
    versions: [5],
  },
  {
    name: 'PUBLISH from a client with a subscription identifier',
    bytes: (v) =>
      gen({ cmd: 'publish', topic: 'a', payload: 'x', qos: 0, properties: { subscriptionIdentifier: 3 } }, v),
    reasonCode: 0x82,
    versions: [5],
  },
  {
    name: 'no local on a shared subscription',
    bytes: (v) =>
      gen({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/a', qos: 0, nl: true }] }, v),
    reasonCode: 0x82,
    versions: [5],
  },
  {
    name: 'DISCONNECT setting a session expiry after CONNECT set 0',
    bytes: (v) => gen({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 10 } }, v),
    reasonCode: 0x82,
    versions: [5],
  },
];

describe('a PUBLISH with a bad topic after good ones on the same topic', () => {
  it.each([4, 5] as const)(
    'version %i: a bad topic after a good one still closes with 0x90',
    async (version) => {
      harness = await startServer({ maxPacketSize: MAX_PACKET_SIZE });
      const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
      const socket = await rawSocket(harness.port);
      socket.write(connectBytes(version));
      const [endpoint] = await endpointPromise;
      const topics: string[] = [];
      endpoint.on('publish', (publish) => topics.push(publish.topic));
      endpoint.accept();
      const closed = next<[CloseReason]>(endpoint, 'close');
      const bytes = readUntilClosed(socket);
      socket.write(
        Buffer.concat([
          gen({ cmd: 'publish', topic: 'a/b/c', payload: 'x', qos: 0 }, version),
          gen({ cmd: 'publish', topic: 'a/b/c', payload: 'y', qos: 0 }, version),
          gen({ cmd: 'publish', topic: 'a/+/c', payload: 'z', qos: 0 }, version),
          gen({ cmd: 'publish', topic: 'a/b/c', payload: 'never', qos: 0 }, version),
        ]),
      );
      const [reason] = await closed;
      expect(reason).toMatchObject({ kind: 'protocol-error', reasonCode: 0x90 });
      expect(topics).toEqual(['a/b/c', 'a/b/c']);
      await bytes;
    },
  );
});

describe.each(afterConnect.flatMap((c) => c.versions.map((v) => [c.name, v, c] as const)))(
  'after CONNECT: %s (version %i)',
  (_name, version, testCase) => {
    it(`closes with reason code 0x${testCase.reasonCode.toString(16)}`, async () => {
      harness = await startServer({ maxPacketSize: MAX_PACKET_SIZE, topicAliasMaximum: 4 });
      const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
      const socket = await rawSocket(harness.port);
      socket.write(connectBytes(version));
      const [endpoint] = await endpointPromise;
      endpoint.on('publish', () => {
        throw new Error('a bad PUBLISH must not reach the host');
      });
      endpoint.accept();
      const closed = next<[CloseReason]>(endpoint, 'close');
      const bytes = readUntilClosed(socket);
      socket.write(testCase.bytes(version));
      const [reason] = await closed;
      expect(reason).toMatchObject({ kind: 'protocol-error', reasonCode: testCase.reasonCode });
      const packets = decodeAll(await bytes, version);
      expect(packets[0]).toMatchObject({ cmd: 'connack' });
      if (version === 5) {
        expect(packets.slice(1)).toMatchObject([{ cmd: 'disconnect', reasonCode: testCase.reasonCode }]);
      } else {
        expect(packets.slice(1)).toEqual([]);
      }
    });
  },
);

interface HandshakeCase {
  name: string;
  bytes: Buffer;
  /** How the connection ends, as reported by the server's 'connectionError' or the endpoint's reason. */
  reason: Partial<CloseReason> & { kind: CloseReason['kind'] };
  /** What the client receives before the close. */
  reply: MqttPacket[];
  replyVersion?: ProtocolVersion;
}

function withRemainingLength(packet: Buffer, remaining: number): Buffer {
  // Only for packets whose remaining length fits one byte.
  const copy = Buffer.from(packet.subarray(0, 2 + remaining));
  copy[1] = remaining;
  return copy;
}

const v4Connect = connectBytes(4);
const handshake: HandshakeCase[] = [
  {
    name: 'packet before CONNECT',
    bytes: Buffer.from([0xc0, 0x00]),
    reason: { kind: 'protocol-error', reasonCode: 0x82 },
    reply: [],
  },
  {
    name: 'PUBLISH before CONNECT',
    bytes: gen({ cmd: 'publish', topic: 'a', payload: 'x', qos: 0 }),
    reason: { kind: 'protocol-error', reasonCode: 0x82 },
    reply: [],
  },
  {
    name: 'unsupported protocol level',
    bytes: (() => {
      const b = Buffer.from(v4Connect);
      b[8] = 6; // protocol level byte after 0x10, len, 0x00 0x04 'MQTT'
      return b;
    })(),
    reason: { kind: 'protocol-error', reasonCode: ReasonCode.UnsupportedProtocolVersion },
    reply: [{ cmd: 'connack', sessionPresent: false, returnCode: 1 }],
  },
  {
    name: 'unknown protocol name',
    bytes: (() => {
      const b = Buffer.from(v4Connect);
      b.write('MQTX', 4);
      return b;
    })(),
    reason: { kind: 'protocol-error', reasonCode: ReasonCode.UnsupportedProtocolVersion },
    reply: [{ cmd: 'connack', sessionPresent: false, returnCode: 1 }],
  },
  {
    name: 'CONNECT reserved flag set',
    bytes: (() => {
      const b = Buffer.from(v4Connect);
      b[9] = (b[9] ?? 0) | 0x01;
      return b;
    })(),
    reason: { kind: 'protocol-error', reasonCode: 0x81 },
    reply: [],
  },
  {
    name: 'CONNECT with reserved fixed-header flags',
    bytes: (() => {
      const b = Buffer.from(v4Connect);
      b[0] = 0x11;
      return b;
    })(),
    reason: { kind: 'protocol-error', reasonCode: 0x81 },
    reply: [],
  },
  {
    name: 'truncated CONNECT (remaining length too short)',
    bytes: withRemainingLength(v4Connect, 9),
    reason: { kind: 'protocol-error', reasonCode: 0x81 },
    reply: [],
  },
  {
    name: 'CONNECT client id with invalid UTF-8',
    bytes: (() => {
      const b = connectBytes(4, { clientId: 'abc' });
      b[b.length - 2] = 0xc3; // 'b' -> a lone lead byte followed by 'c'
      return b;
    })(),
    reason: { kind: 'protocol-error', reasonCode: 0x81 },
    reply: [],
  },
  {
    name: 'CONNECT will QoS 3',
    bytes: (() => {
      const b = connectBytes(4, { will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false } });
      b[9] = (b[9] ?? 0) | 0x18;
      return b;
    })(),
    reason: { kind: 'protocol-error', reasonCode: 0x81 },
    reply: [],
  },
  {
    name: 'oversized CONNECT (rejected from the fixed header alone)',
    bytes: Buffer.from([0x10, 0xd0, 0x0f]),
    reason: { kind: 'protocol-error', reasonCode: 0x95 },
    reply: [],
  },
  {
    name: 'MQTT 5 CONNECT with receive maximum 0',
    bytes: connectBytes(5, { properties: { receiveMaximum: 0 } }),
    reason: { kind: 'protocol-error', reasonCode: 0x82 },
    reply: [{ cmd: 'connack', sessionPresent: false, reasonCode: 0x82 }],
    replyVersion: 5,
  },
  {
    name: 'MQTT 5 will topic with a wildcard',
    bytes: connectBytes(5, { will: { topic: 'w/#', payload: Buffer.from('x'), qos: 0, retain: false } }),
    reason: { kind: 'protocol-error', reasonCode: 0x90 },
    reply: [{ cmd: 'connack', sessionPresent: false, reasonCode: 0x90 }],
    replyVersion: 5,
  },
  {
    name: '3.1.1 will topic with a wildcard',
    bytes: connectBytes(4, { will: { topic: 'w/+', payload: Buffer.from('x'), qos: 0, retain: false } }),
    reason: { kind: 'protocol-error', reasonCode: 0x90 },
    reply: [],
  },
  {
    name: '3.1.1 empty client id without clean session',
    // Built by hand: mqtt-packet refuses to generate it.
    bytes: Buffer.from([0x10, 12, 0, 4, ...Buffer.from('MQTT'), 4, 0x00, 0, 0, 0, 0]),
    reason: { kind: 'rejected', reasonCode: ReasonCode.ClientIdentifierNotValid },
    reply: [{ cmd: 'connack', sessionPresent: false, returnCode: 2 }],
  },
  {
    name: '3.1 empty client id',
    bytes: Buffer.from([0x10, 14, 0, 6, ...Buffer.from('MQIsdp'), 3, 0x02, 0, 0, 0, 0]),
    reason: { kind: 'rejected', reasonCode: ReasonCode.ClientIdentifierNotValid },
    reply: [{ cmd: 'connack', sessionPresent: false, returnCode: 2 }],
  },
];

describe('bad CONNECT and handshake', () => {
  it.each(handshake.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    harness = await startServer({ maxPacketSize: MAX_PACKET_SIZE });
    harness.server.on('endpoint', () => {
      throw new Error('no endpoint may be handed out');
    });
    const socket = await rawSocket(harness.port);
    const failed = next<[CloseReason]>(harness.server, 'connectionError');
    const bytes = readUntilClosed(socket);
    socket.write(testCase.bytes);
    const [reason] = await failed;
    expect(reason).toMatchObject(testCase.reason);
    expect(decodeAll(await bytes, testCase.replyVersion ?? 4)).toEqual(testCase.reply);
  });

  it('closes a connection that sends no CONNECT within connectTimeoutMs', async () => {
    harness = await startServer({ connectTimeoutMs: 200 });
    const socket = await rawSocket(harness.port);
    const failed = next<[CloseReason]>(harness.server, 'connectionError');
    const bytes = readUntilClosed(socket);
    socket.write(Buffer.from([0x10])); // half a fixed header, then silence
    const [reason] = await failed;
    expect(reason).toEqual({ kind: 'connect-timeout' });
    expect((await bytes).length).toBe(0);
  });

  it('closes a connection the host never accepts or rejects within connectTimeoutMs', async () => {
    harness = await startServer({ connectTimeoutMs: 200 });
    const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
    const socket = await rawSocket(harness.port);
    socket.write(connectBytes(4));
    const [endpoint] = await endpointPromise;
    const [reason] = await next<[CloseReason]>(endpoint, 'close');
    expect(reason).toEqual({ kind: 'connect-timeout' });
  });
});

describe('MQTT 5 limits announced in CONNACK', () => {
  it.each([
    ['QoS above maximum QoS', { cmd: 'publish', topic: 'a', payload: 'x', qos: 2, messageId: 1 }, 0x9b],
    [
      'retain while retain is not available',
      { cmd: 'publish', topic: 'a', payload: 'x', qos: 0, retain: true },
      0x9a,
    ],
  ] as const)('%s gets DISCONNECT 0x%s', async (_name, publishPacket, reasonCode) => {
    harness = await startServer();
    const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
    const socket = await rawSocket(harness.port);
    socket.write(connectBytes(5));
    const [endpoint] = await endpointPromise;
    endpoint.accept({ properties: { maximumQoS: 1, retainAvailable: false } });
    const bytes = readUntilClosed(socket);
    socket.write(gen({ ...publishPacket }, 5));
    const [reason] = await next<[CloseReason]>(endpoint, 'close');
    expect(reason).toMatchObject({ kind: 'protocol-error', reasonCode });
    const packets = decodeAll(await bytes, 5);
    expect(packets[0]).toMatchObject({
      cmd: 'connack',
      properties: { maximumQoS: 1, retainAvailable: false },
    });
    expect(packets.slice(1)).toMatchObject([{ cmd: 'disconnect', reasonCode }]);
  });
});

describe('MQTT 5 invalid topic filter', () => {
  it('gets 0x8F in the SUBACK while the valid filters reach the host', async () => {
    harness = await startServer();
    const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
    const socket = await rawSocket(harness.port);
    socket.write(connectBytes(5));
    const [endpoint] = await endpointPromise;
    endpoint.on('subscribe', (request) => {
      expect(request.subscriptions.map((s) => s.topic)).toEqual(['ok/+']);
      request.grant([1]);
    });
    endpoint.accept();
    const decoder = new MqttDecoder({ protocolVersion: 5 });
    const packets: MqttPacket[] = [];
    socket.on('data', (chunk: Buffer) => packets.push(...decoder.decode(chunk)));
    socket.write(
      gen(
        {
          cmd: 'subscribe',
          messageId: 5,
          subscriptions: [
            { topic: 'bad/#/x', qos: 1 },
            { topic: 'ok/+', qos: 1 },
          ],
        },
        5,
      ),
    );
    while (!packets.some((p) => p.cmd === 'suback'))
      await once(socket, 'data', { signal: AbortSignal.timeout(TIMEOUT_MS) });
    expect(packets.find((p) => p.cmd === 'suback')).toEqual({
      cmd: 'suback',
      messageId: 5,
      granted: [0x8f, 1],
    });
    expect(endpoint.state).toBe('connected');
    socket.destroy();
  });
});

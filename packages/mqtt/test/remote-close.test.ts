/**
 * Bytes the client sent before closing its side are not lost: packets already received are handled in
 * order — PUBLISH delivered, DISCONNECT taken as a clean disconnect — even when the host had paused the
 * endpoint and only resumes after the socket has gone (the gateway pauses while a topic's AMQP link
 * attaches).
 */
import { once } from 'node:events';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CloseReason,
  encodePacket,
  type InboundPublish,
  type MqttEndpoint,
  type MqttPacket,
  type ProtocolVersion,
} from '../src/index';
import { type Harness, next, rawSocket, startServer, TIMEOUT_MS } from './support/harness';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const publish = (topic: string, qos: 0 | 1 = 0, messageId = 1): MqttPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(topic),
  qos,
  retain: false,
  dup: false,
  ...(qos > 0 ? { messageId } : {}),
});

const connectPacket = (version: ProtocolVersion): MqttPacket => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: version,
  clean: true,
  keepalive: 0,
  clientId: 'closing',
  will: { topic: 'will', payload: Buffer.from('gone'), qos: 0, retain: false },
});

function bytes(version: ProtocolVersion, ...packets: MqttPacket[]): Buffer {
  return Buffer.concat(packets.map((p) => encodePacket(p, version)));
}

/** The server's side of the only connection so far, once it has fully closed. */
async function serverSocketClosed(h: Harness): Promise<void> {
  const socket = h.sockets[0] as net.Socket;
  if (!socket.destroyed) await once(socket, 'close', { signal: AbortSignal.timeout(TIMEOUT_MS) });
}

/** Connects, accepts, and returns the endpoint and the raw client socket once CONNACK arrived. */
async function connected(
  version: ProtocolVersion,
  options: Parameters<typeof startServer>[0] = {},
): Promise<{ endpoint: MqttEndpoint; socket: net.Socket }> {
  harness = await startServer(options);
  const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
  const socket = await rawSocket(harness.port);
  const connack = once(socket, 'data', { signal: AbortSignal.timeout(TIMEOUT_MS) });
  socket.write(bytes(version, connectPacket(version)));
  const [endpoint] = await endpointPromise;
  endpoint.accept();
  await connack;
  return { endpoint, socket };
}

describe.each([4, 5] as const)(
  'protocol version %i: the client closes right behind its packets',
  (version) => {
    it.each(['end', 'destroy'] as const)(
      'while the host is paused: %s — after resume the host sees every PUBLISH and a clean DISCONNECT',
      async (how) => {
        const { endpoint, socket } = await connected(version);
        const topics: string[] = [];
        endpoint.on('publish', (m: InboundPublish) => {
          topics.push(m.topic);
          // Like the gateway when the topic's link has no credit yet: stop until it has.
          if (topics.length === 1) endpoint.pause();
        });
        const disconnected = next(endpoint, 'disconnect');
        const closed = next<[CloseReason]>(endpoint, 'close');
        const data = bytes(version, publish('a'), publish('b'), { cmd: 'disconnect' });
        if (how === 'end') socket.end(data);
        else socket.write(data, () => socket.destroy()); // destroyed once the bytes are in the kernel
        await serverSocketClosed(harness!);
        expect(endpoint.state).toBe('connected'); // nothing was decided while the host was paused
        expect(topics).toEqual(['a']);
        endpoint.resume();
        await disconnected;
        const [reason] = await closed;
        expect(topics).toEqual(['a', 'b']);
        expect(reason).toMatchObject({ kind: 'client-disconnect', reasonCode: 0 });
      },
    );

    it('packets pipelined behind CONNECT reach the host when it accepts after the socket closed', async () => {
      harness = await startServer();
      const endpointPromise = next<[MqttEndpoint]>(harness.server, 'endpoint');
      const socket = await rawSocket(harness.port);
      socket.end(bytes(version, connectPacket(version), publish('early'), { cmd: 'disconnect' }));
      const [endpoint] = await endpointPromise;
      await serverSocketClosed(harness);
      expect(endpoint.state).toBe('connecting');
      const received = next<[InboundPublish]>(endpoint, 'publish');
      const closed = next<[CloseReason]>(endpoint, 'close');
      endpoint.accept();
      expect((await received)[0].topic).toBe('early');
      expect((await closed)[0]).toMatchObject({ kind: 'client-disconnect' });
    });

    it('without a DISCONNECT: the received PUBLISHes are still delivered, then connection-lost', async () => {
      const { endpoint, socket } = await connected(version);
      const topics: string[] = [];
      endpoint.on('publish', (m) => {
        topics.push(m.topic);
        if (topics.length === 1) endpoint.pause();
      });
      socket.end(bytes(version, publish('first'), publish('last')));
      await serverSocketClosed(harness!);
      const closed = next<[CloseReason]>(endpoint, 'close');
      endpoint.resume();
      expect((await closed)[0]).toEqual({ kind: 'connection-lost' });
      expect(topics).toEqual(['first', 'last']);
    });

    it('handles packets parked behind a full host once it answers, after the socket closed', async () => {
      const { endpoint, socket } = await connected(version, {
        receiveMaximum: 1,
        enforceReceiveMaximum: false,
      });
      const held: InboundPublish[] = [];
      endpoint.on('publish', (m) => held.push(m));
      socket.end(bytes(version, publish('q1', 1, 1), publish('q1b', 1, 2), { cmd: 'disconnect' }));
      await serverSocketClosed(harness!);
      expect(held.map((m) => m.topic)).toEqual(['q1']);
      const closed = next<[CloseReason]>(endpoint, 'close');
      held[0]!.ack(); // room again: the parked PUBLISH is handed over at once
      expect(held.map((m) => m.topic)).toEqual(['q1', 'q1b']);
      held[1]!.ack(); // and then the parked DISCONNECT
      expect((await closed)[0]).toMatchObject({ kind: 'client-disconnect' });
    });

    it('gives up after drainTimeoutMs when the host never resumes', async () => {
      const { endpoint, socket } = await connected(version, { drainTimeoutMs: 50 });
      endpoint.on('publish', () => endpoint.pause());
      const closed = next<[CloseReason]>(endpoint, 'close');
      socket.end(bytes(version, publish('first'), publish('never'), { cmd: 'disconnect' }));
      expect((await closed)[0]).toEqual({ kind: 'connection-lost' });
    });
  },
);

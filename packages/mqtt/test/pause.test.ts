/**
 * pause() holds back only what needs the host: while paused, the client's acknowledgements for our
 * outbound messages and its PINGREQ are still handled, so a host that pauses inbound publishes until it
 * can forward them (the MQTT-over-AMQP bridge without link credit) does not wedge its own outbound flow.
 */
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  encodePacket,
  type InboundPublish,
  type MqttEndpoint,
  type MqttPacket,
  type PublishOutcome,
} from '../src/index';
import {
  client,
  closedAfterEach,
  next,
  nextEndpoint,
  rawSocket,
  startServer,
  TIMEOUT_MS,
  until,
} from './support/harness';

const opened = closedAfterEach();

const PINGRESP = Buffer.from([0xd0, 0x00]);

describe.each([4, 5] as const)('protocol version %i: a paused endpoint', (version) => {
  it('keeps reading the acknowledgements of its outbound messages and parks inbound publishes in order', async () => {
    opened.harness = await startServer({ outboundWindow: 2 });
    const endpointPromise = nextEndpoint(opened.harness.server);
    const mqttClient = client(opened.harness.port, { protocolVersion: version, clientId: 'paused' });
    opened.clients.push(mqttClient);
    const endpoint = await endpointPromise;
    const connack = next(mqttClient, 'connect');
    endpoint.accept();
    await connack;

    const topics: string[] = [];
    endpoint.on('publish', (message: InboundPublish) => {
      topics.push(message.topic);
      message.ack();
      if (topics.length === 1) endpoint.pause(); // like the bridge when the AMQP link has no credit
    });
    const received: string[] = [];
    mqttClient.on('message', (topic) => received.push(topic));

    const first = next<[InboundPublish]>(endpoint, 'publish');
    mqttClient.publish('in/1', 'x', { qos: 1 });
    await first;
    expect(endpoint.isPaused).toBe(true);
    // Written before the client acknowledges anything we send, so read before those acknowledgements.
    mqttClient.publish('in/2', 'x', { qos: 1 });
    mqttClient.publish('in/3', 'x', { qos: 0 });

    // Five QoS 1 messages through a window of two: only the client's PUBACKs can reopen it.
    const outcomes: Promise<PublishOutcome>[] = [];
    for (let i = 1; i <= 5; i++) {
      await endpoint.windowOpen(AbortSignal.timeout(TIMEOUT_MS));
      outcomes.push(endpoint.publish({ topic: `out/${i}`, payload: Buffer.from('y'), qos: 1 }));
    }
    const settled = await Promise.all(outcomes);
    expect(settled).toHaveLength(5);
    expect(endpoint.inFlight).toBe(0);
    await until(() => received.length === 5, mqttClient, ['message']);
    expect(received).toEqual(['out/1', 'out/2', 'out/3', 'out/4', 'out/5']);

    // Still paused: nothing more reached the host although the later publishes were read.
    expect(endpoint.isPaused).toBe(true);
    expect(topics).toEqual(['in/1']);

    endpoint.resume();
    await until(() => topics.length === 3, endpoint, ['publish']);
    expect(topics).toEqual(['in/1', 'in/2', 'in/3']);
    expect(endpoint.state).toBe('connected');
  });

  describe('over a raw socket', () => {
    const bytes = (...packets: MqttPacket[]): Buffer =>
      Buffer.concat(packets.map((p) => encodePacket(p, version)));
    const publish = (topic: string): MqttPacket => ({
      cmd: 'publish',
      topic,
      payload: Buffer.from(topic),
      qos: 0,
      retain: false,
      dup: false,
    });

    /** Everything the server writes to `socket`, as it arrives. */
    function collect(socket: net.Socket): { data: () => Buffer } {
      let all = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        all = Buffer.concat([all, chunk]);
      });
      return { data: () => all };
    }

    async function pausedEndpoint(): Promise<{
      endpoint: MqttEndpoint;
      socket: net.Socket;
      topics: string[];
    }> {
      opened.harness = await startServer();
      const endpointPromise = nextEndpoint(opened.harness.server);
      const socket = await rawSocket(opened.harness.port);
      const received = collect(socket);
      socket.write(
        bytes({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: version,
          clean: true,
          keepalive: 60,
          clientId: 'raw',
        }),
      );
      const endpoint = await endpointPromise;
      endpoint.accept();
      await until(() => received.data().length > 0, socket, ['data']);
      const topics: string[] = [];
      endpoint.on('publish', (message: InboundPublish) => {
        topics.push(message.topic);
        endpoint.pause();
      });
      const first = next(endpoint, 'publish');
      socket.write(bytes(publish('p/1')));
      await first;
      return { endpoint, socket, topics };
    }

    it('answers PINGREQ with PINGRESP while paused and delivers the parked PUBLISH on resume', async () => {
      const { endpoint, socket, topics } = await pausedEndpoint();
      const afterConnack = collect(socket); // CONNACK has arrived; only the answer to the ping follows
      socket.write(bytes(publish('p/2'), { cmd: 'pingreq' }));
      await until(() => afterConnack.data().equals(PINGRESP), socket, ['data']);
      expect(topics).toEqual(['p/1']);
      expect(endpoint.state).toBe('connected');
      endpoint.resume();
      await until(() => topics.length === 2, endpoint, ['publish']);
      expect(topics).toEqual(['p/1', 'p/2']);
    });

    it('stops reading once receiveMaximum packets are parked and goes on after resume', async () => {
      await opened.harness?.close();
      opened.harness = undefined;
      opened.harness = await startServer({ receiveMaximum: 2 });
      const endpointPromise = nextEndpoint(opened.harness.server);
      const socket = await rawSocket(opened.harness.port);
      const received = collect(socket);
      socket.write(
        bytes({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: version,
          clean: true,
          keepalive: 60,
          clientId: 'raw',
        }),
      );
      const endpoint = await endpointPromise;
      endpoint.accept();
      await until(() => received.data().length > 0, socket, ['data']);
      const connackLength = received.data().length;
      const topics: string[] = [];
      endpoint.on('publish', (message: InboundPublish) => {
        topics.push(message.topic);
        if (topics.length === 1) endpoint.pause();
      });
      // p/1 pauses the host; p/2 and p/3 fill the park (2); the PINGREQ behind them is not read yet.
      const serverSocket = opened.harness.sockets[0]!;
      socket.write(bytes(publish('p/1'), publish('p/2'), publish('p/3'), { cmd: 'pingreq' }));
      await until(() => topics.length === 1, endpoint, ['publish']);
      await until(() => serverSocket.isPaused(), serverSocket, ['pause']);
      expect(received.data().length).toBe(connackLength);
      endpoint.resume();
      await until(() => received.data().subarray(connackLength).equals(PINGRESP), socket, ['data']);
      expect(topics).toEqual(['p/1', 'p/2', 'p/3']);
    });
  });
});

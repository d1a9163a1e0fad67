/**
 * SUBSCRIBE / UNSUBSCRIBE topic filters as the protocol version means them: for MQTT 5 `$share/<group>/<filter>`
 * is a shared subscription (malformed ones get 0x8F and never reach the host; the host gets group and filter
 * parsed), for MQTT 3.1.1 it is an ordinary filter.
 */
import { describe, expect, it } from 'vitest';
import {
  type CloseReason,
  encodePacket,
  type InboundSubscribe,
  type InboundUnsubscribe,
  MqttDecoder,
  type MqttEndpoint,
  type MqttPacket,
  type ProtocolVersion,
} from '../src/index';
import {
  client,
  closedAfterEach,
  next,
  nextEndpoint,
  rawSocket,
  startServer,
  until,
} from './support/harness';

const opened = closedAfterEach();

/** Connects a raw client, accepts it, and returns what it needs to exchange packets. */
async function rawConnected(version: ProtocolVersion) {
  opened.harness = await startServer();
  const endpointPromise = nextEndpoint(opened.harness.server);
  const socket = await rawSocket(opened.harness.port);
  const decoder = new MqttDecoder({ protocolVersion: version });
  const packets: MqttPacket[] = [];
  socket.on('data', (chunk: Buffer) => packets.push(...decoder.decode(chunk)));
  const send = (packet: MqttPacket): void => {
    socket.write(encodePacket(packet, version));
  };
  send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: version,
    clean: true,
    keepalive: 0,
    clientId: 'f',
  });
  const endpoint = await endpointPromise;
  endpoint.accept();
  const waitFor = async (cmd: MqttPacket['cmd']): Promise<MqttPacket> => {
    await until(() => packets.some((p) => p.cmd === cmd), socket, ['data']);
    return packets.find((p) => p.cmd === cmd)!;
  };
  await waitFor('connack');
  return { endpoint, send, waitFor };
}

const MALFORMED_SHARED = ['$share/+/a', '$share/g', '$share//a', '$share/g/', '$share/g/a/#/b'];

describe('MQTT 5', () => {
  it('answers malformed shared subscriptions with 0x8F; the host gets the valid ones parsed', async () => {
    const { endpoint, send, waitFor } = await rawConnected(5);
    const requests: InboundSubscribe[] = [];
    endpoint.on('subscribe', (request) => {
      requests.push(request);
      request.grant(request.subscriptions.map((s) => s.qos));
    });
    send({
      cmd: 'subscribe',
      messageId: 7,
      subscriptions: [
        ...MALFORMED_SHARED.map((topic) => ({ topic, qos: 1 as const })),
        { topic: '$share/workers/sensors/+', qos: 1 },
        { topic: 'plain/#', qos: 2 },
      ],
    });
    expect(await waitFor('suback')).toEqual({
      cmd: 'suback',
      messageId: 7,
      granted: [0x8f, 0x8f, 0x8f, 0x8f, 0x8f, 1, 2],
    });
    expect(requests).toHaveLength(1);
    expect(requests[0]!.subscriptions).toEqual([
      {
        topic: '$share/workers/sensors/+',
        qos: 1,
        nl: false,
        rap: false,
        rh: 0,
        filter: 'sensors/+',
        group: 'workers',
      },
      { topic: 'plain/#', qos: 2, nl: false, rap: false, rh: 0, filter: 'plain/#', group: undefined },
    ]);
    expect(endpoint.state).toBe('connected');
  });

  it('answers a SUBSCRIBE of only malformed shared subscriptions without asking the host', async () => {
    const { endpoint, send, waitFor } = await rawConnected(5);
    let asked = false;
    endpoint.on('subscribe', () => {
      asked = true;
    });
    send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: '$share/+/a', qos: 0 }] });
    expect(await waitFor('suback')).toMatchObject({ granted: [0x8f] });
    expect(asked).toBe(false);
  });

  it('UNSUBSCRIBE: 0x8F for a malformed shared filter; the host gets the others with group and filter', async () => {
    const { endpoint, send, waitFor } = await rawConnected(5);
    const requests: InboundUnsubscribe[] = [];
    endpoint.on('unsubscribe', (request) => {
      requests.push(request);
      request.done(request.unsubscriptions.map(() => 0x11));
    });
    send({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['$share//a', '$share/g/x/+', 'y'] });
    expect(await waitFor('unsuback')).toEqual({ cmd: 'unsuback', messageId: 4, granted: [0x8f, 0x11, 0x11] });
    expect(requests[0]!.unsubscriptions).toEqual(['$share/g/x/+', 'y']);
    expect(requests[0]!.filters).toEqual([
      { filter: 'x/+', group: 'g' },
      { filter: 'y', group: undefined },
    ]);
  });

  it('no local on a shared subscription is a protocol error (MQTT-3.8.3-4), on an ordinary one it is not', async () => {
    const { endpoint, send, waitFor } = await rawConnected(5);
    endpoint.on('subscribe', (request) => request.grant(request.subscriptions.map(() => 0)));
    send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'own/#', qos: 0, nl: true }] });
    expect(await waitFor('suback')).toMatchObject({ granted: [0] });
    const closed = next<[CloseReason]>(endpoint, 'close');
    send({
      cmd: 'subscribe',
      messageId: 2,
      subscriptions: [
        { topic: 'other', qos: 0 },
        { topic: '$share/g/own/#', qos: 0, nl: true },
      ],
    });
    expect((await closed)[0]).toMatchObject({ kind: 'protocol-error', reasonCode: 0x82 });
    expect(await waitFor('disconnect')).toMatchObject({ reasonCode: 0x82 });
  });

  it('mqtt.js: shared subscriptions reach the host parsed, malformed ones are refused with 0x8F', async () => {
    opened.harness = await startServer();
    const endpointPromise = nextEndpoint(opened.harness.server);
    const mqttClient = client(opened.harness.port, { protocolVersion: 5, clientId: 'shared' });
    opened.clients.push(mqttClient);
    const endpoint: MqttEndpoint = await endpointPromise;
    const seen: { topic: string; filter: string; group: string | undefined }[] = [];
    endpoint.on('subscribe', (request) => {
      for (const { topic, filter, group } of request.subscriptions) seen.push({ topic, filter, group });
      request.grant(request.subscriptions.map((s) => s.qos));
    });
    endpoint.accept();
    await next(mqttClient, 'connect');
    // mqtt.js reports a SUBACK with a failure code as an error that carries the packet.
    await expect(
      mqttClient.subscribeAsync({ '$share/g1/a/b': { qos: 1 }, '$share/+/a': { qos: 1 } }),
    ).rejects.toMatchObject({ packet: { granted: [1, 0x8f] } });
    expect(seen).toEqual([{ topic: '$share/g1/a/b', filter: 'a/b', group: 'g1' }]);
  });
});

describe('MQTT 3.1.1', () => {
  it('takes $share/… as an ordinary filter: no group, the whole string is the filter', async () => {
    const { endpoint, send, waitFor } = await rawConnected(4);
    const requests: InboundSubscribe[] = [];
    endpoint.on('subscribe', (request) => {
      requests.push(request);
      request.grant(request.subscriptions.map(() => 0));
    });
    const topics = ['$share/+/a', '$share/g', '$share//a', '$share/g/a'];
    send({
      cmd: 'subscribe',
      messageId: 9,
      subscriptions: topics.map((topic) => ({ topic, qos: 0 as const })),
    });
    expect(await waitFor('suback')).toMatchObject({ granted: [0, 0, 0, 0] });
    expect(requests[0]!.subscriptions.map((s) => [s.filter, s.group])).toEqual(
      topics.map((topic) => [topic, undefined]),
    );
  });
});

/**
 * SUBSCRIBE / UNSUBSCRIBE mapping and the MQTT 5 features of the bridge (subscription identifiers, message
 * expiry, topic aliases towards the client, keep-alive cap), against a recording rhea peer.
 */
import type { IConnackPacket } from 'mqtt-packet';
import type { Message } from 'rhea';
import { describe, expect, it } from 'vitest';
import { gatewayOnRecordingPeer, next, runGateway } from './support/harness';
import { RawMqttClient } from './support/raw-client';
import {
  amqpPublish,
  type DetachEvent,
  type MessageEvent,
  type OutcomeEvent,
  publishAddress,
} from './support/recording-peer';

describe('bridge SUBSCRIBE and UNSUBSCRIBE', () => {
  const bridge = gatewayOnRecordingPeer();

  it.each([4, 5] as const)(
    'maps SUBSCRIBE to AMQP_SUBSCRIBE and grants the requested QoS on accepted (v%i)',
    async (v) => {
      const client = await bridge.gw.connect({ clientId: `sub-${v}`, protocolVersion: v });
      const granted = await client.subscribeAsync({ 'a/+': { qos: 1 }, 'b/#': { qos: 2 } });
      expect(granted.map((g) => g.qos)).toEqual([1, 2]);
      const request = bridge.peer.ofKind('message').find((e) => e.subject === 'subscribe') as MessageEvent;
      expect(request.address).toBe('$mqtt.subscriptionservice');
      expect(request.message.correlation_id).toBe(publishAddress(`sub-${v}`));
      expect(typeof request.message.message_id).toBe('number');
      expect(request.message.body).toEqual({ 'a/+': 1, 'b/#': 2 });

      await client.unsubscribeAsync('a/+');
      const unsubscribe = bridge.peer
        .ofKind('message')
        .find((e) => e.subject === 'unsubscribe') as MessageEvent;
      expect(unsubscribe.message.body).toEqual(['a/+']);
      client.end(true);
    },
  );

  it.each([4, 5] as const)('a refused subscription gets the code the service named (v%i)', async (v) => {
    bridge.peer.dispose = (e) =>
      e.subject === 'subscribe'
        ? { reject: { condition: 'amqp:unauthorized-access', info: { 'reason-code': 0x87 } } }
        : 'accept';
    const client = await bridge.gw.connect({ clientId: `refused-sub-${v}`, protocolVersion: v });
    const error = (await client.subscribeAsync('secret/#', { qos: 1 }).catch((e: unknown) => e)) as {
      packet?: { granted?: number[] };
    };
    expect(error.packet?.granted).toEqual([v === 5 ? 0x87 : 0x80]);
    client.end(true);
  });
});

describe('bridge MQTT 5 features towards the client', () => {
  const bridge = gatewayOnRecordingPeer({ maxKeepAliveSeconds: 30 });

  async function connected(clientId: string, properties: Record<string, unknown> = {}) {
    const client = await bridge.gw.connect({ clientId, protocolVersion: 5, properties });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    return client;
  }

  it('caps the keep-alive and says so in CONNACK', async () => {
    const { client, connack } = await bridge.gw.connectAck({
      clientId: 'ka-cap',
      protocolVersion: 5,
      keepalive: 120,
    });
    expect(connack.properties?.serverKeepAlive).toBe(30);
    client.end(true);
    const within = await bridge.gw.connectAck({ clientId: 'ka-ok', protocolVersion: 5, keepalive: 20 });
    expect(within.connack.properties?.serverKeepAlive).toBeUndefined();
    within.client.end(true);
  });

  it('enforces the capped keep-alive on an MQTT 5 client that asked for more', async () => {
    await bridge.gw.close();
    bridge.gw = await runGateway({ amqp: { url: bridge.peer.url }, maxKeepAliveSeconds: 1 });
    const { client, connack } = await RawMqttClient.connect(bridge.gw.port, {
      clientId: 'sleepy',
      protocolVersion: 5,
      clean: true,
      keepalive: 600,
      will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false },
    });
    expect((connack as IConnackPacket).properties?.serverKeepAlive).toBe(1);
    // The client stays silent: the endpoint ends it after 1.5 x the granted second, and the will goes.
    const detach = await bridge.peer.waitFor(
      (e): e is DetachEvent => e.kind === 'detach' && e.name === 'sleepy',
    );
    expect(detach.condition).toBe('amqp:link:detach-forced');
    client.destroy();
  });

  it('copies subscription identifiers and the remaining expiry onto the PUBLISH; drops expired messages', async () => {
    const client = await connected('features');
    const packets: Array<{ topic: string; properties?: Record<string, unknown> }> = [];
    client.on('message', (topic, _payload, packet) => packets.push({ topic, properties: packet.properties }));
    const expired = await bridge.peer.sendToClient(
      'features',
      amqpPublish('old', 'stale', 1, {
        absolute_expiry_time: new Date(Date.now() - 60_000),
      } as Partial<Message>),
    );
    await bridge.peer.waitFor((e): e is OutcomeEvent => e.kind === 'outcome' && e.deliveryId === expired.id);
    const arrived = next(client, 'message');
    await bridge.peer.sendToClient(
      'features',
      amqpPublish('fresh', 'x', 1, {
        ttl: 60_000,
        message_annotations: {
          'x-opt-mqtt-qos': 1,
          'x-opt-retain-message': false,
          'x-opt-mqtt-subscription-identifiers': [7, 9],
        },
      }),
    );
    await arrived;
    expect(packets).toHaveLength(1);
    expect(packets[0]?.topic).toBe('fresh');
    expect(packets[0]?.properties?.subscriptionIdentifier).toEqual([7, 9]);
    const expiry = packets[0]?.properties?.messageExpiryInterval as number;
    expect(expiry).toBeGreaterThan(0);
    expect(expiry).toBeLessThanOrEqual(60);
    client.end(true);
  });

  it('discards a message too large for the client (accepted, not written) and rejects an invalid topic', async () => {
    const client = await connected('small', { maximumPacketSize: 200 });
    const topics: string[] = [];
    client.on('message', (topic) => topics.push(topic));
    const big = await bridge.peer.sendToClient('small', amqpPublish('big', 'x'.repeat(1000), 1));
    const bigOutcome = await bridge.peer.waitFor(
      (e): e is OutcomeEvent => e.kind === 'outcome' && e.deliveryId === big.id,
    );
    expect(bigOutcome.state).toBe('accepted');
    const wild = await bridge.peer.sendToClient('small', amqpPublish('not/+/valid', 'x', 1));
    const wildOutcome = await bridge.peer.waitFor(
      (e): e is OutcomeEvent => e.kind === 'outcome' && e.deliveryId === wild.id,
    );
    expect(wildOutcome.state).toBe('rejected');
    const fits = await bridge.peer.sendToClient('small', amqpPublish('fits', 'x', 1));
    await bridge.peer.waitFor(
      (e) => e.kind === 'outcome' && e.deliveryId === fits.id && e.state === 'accepted',
    );
    expect(topics).toEqual(['fits']);
    // Every window slot is free again.
    expect(bridge.gw.gateway.bridge('small')?.stats().heldDeliveries).toBe(0);
    client.end(true);
  });

  it('with outbound topic aliases on, every message still arrives on its topic', async () => {
    // The MQTT endpoint does not write outbound aliases (it strips them and refuses an empty topic): the
    // bridge must fall back to full topics without losing a message. Aliases the client sees, if any, are
    // ones it was told about (mqtt.js would reject anything else).
    await bridge.gw.close();
    bridge.gw = await runGateway({ amqp: { url: bridge.peer.url }, outboundTopicAliases: true });
    const client = await connected('aliased', { topicAliasMaximum: 1 });
    const topics: string[] = [];
    const aliases: Array<number | undefined> = [];
    client.on('message', (topic) => topics.push(topic));
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'publish') aliases.push(packet.properties?.topicAlias);
    });
    for (const topic of ['t/a', 't/a', 't/b', 't/a']) {
      const arrived = next(client, 'message');
      await bridge.peer.sendToClient('aliased', amqpPublish(topic, 'x', 1));
      await arrived;
    }
    expect(topics).toEqual(['t/a', 't/a', 't/b', 't/a']);
    expect(aliases.every((a) => a === undefined || a === 1)).toBe(true);
    client.end(true);
  });
});

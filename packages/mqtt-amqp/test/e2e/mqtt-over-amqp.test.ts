/**
 * End to end: mqtt.js clients (3.1.1 and 5) → MqttServer → BridgeGateway → AMQP → embedded backend
 * (Will and Subscription services) → AMQP → bridge → mqtt.js clients.
 */
import { connect as netConnect } from 'node:net';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { next } from '../bridge/support/harness';
import { RawMqttClient } from '../bridge/support/raw-client';
import { pollUntil } from '../support/poll';
import { receivedCount, STACK_TRANSPORTS, type Stack, startStack } from './harness';

interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

/** Collects the messages a client receives. */
function collect(client: MqttClient): Received[] {
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    received.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
  });
  return received;
}

/** A publish through the whole stack and back: when it arrives, everything published before it has too. */
async function marker(publisher: MqttClient, subscriber: MqttClient, received: Received[], topic: string) {
  const before = received.length;
  await publisher.publishAsync(topic, 'marker', { qos: 1 });
  await receivedCount(subscriber, received, before + 1);
  const last = received.pop();
  expect(last?.topic).toBe(topic);
}

describe.each(STACK_TRANSPORTS)('bridge to backend over %s', (transport) => {
  describe.each([4, 5] as const)(
    'MQTT over AMQP end to end (MQTT protocol version %i)',
    (protocolVersion) => {
      let stack: Stack;

      beforeEach(async () => {
        stack = await startStack({ transport });
      });

      afterEach(async () => {
        await stack.close();
      });

      const client = (clientId: string, options: Parameters<Stack['connect']>[0] = {}) =>
        stack.connect({ clientId, protocolVersion, ...options });
      // MQTT 5 keeps a session past its connection only with a session expiry interval (3.1.1: clean false).
      const persistent = protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3_600 } } : {};

      it('carries QoS 0, 1 and 2 both ways, each at the lower of publish and subscription QoS', async () => {
        const sub = await client('sub');
        const received = collect(sub);
        await sub.subscribeAsync({ 'q/two': { qos: 2 }, 'q/one': { qos: 1 } });
        const pub = await client('pub');
        for (const qos of [0, 1, 2] as const) {
          await pub.publishAsync('q/two', `two-${qos}`, { qos });
          await pub.publishAsync('q/one', `one-${qos}`, { qos });
        }
        await receivedCount(sub, received, 6);
        const byPayload = Object.fromEntries(received.map((m) => [m.payload, m.qos]));
        expect(byPayload).toEqual({ 'two-0': 0, 'two-1': 1, 'two-2': 2, 'one-0': 0, 'one-1': 1, 'one-2': 1 });
        // Per topic and QoS the order is kept.
        expect(received.filter((m) => m.topic === 'q/two').map((m) => m.payload)).toEqual([
          'two-0',
          'two-1',
          'two-2',
        ]);
      });

      it('keeps retained messages: set, replace, delete; delivered to new subscribers only, through wildcards', async () => {
        const pub = await client('retainer');
        const live = await client('live');
        const liveReceived = collect(live);
        await live.subscribeAsync('r/#', { qos: 1 });
        await pub.publishAsync('r/a', 'first', { qos: 1, retain: true });
        await pub.publishAsync('r/a', 'second', { qos: 1, retain: true });
        await pub.publishAsync('r/b', 'gone', { qos: 1, retain: true });
        await pub.publishAsync('r/b', '', { qos: 1, retain: true });
        await receivedCount(live, liveReceived, 4);

        const late = await client('late');
        const lateReceived = collect(late);
        await late.subscribeAsync('r/+', { qos: 1 });
        await marker(pub, late, lateReceived, 'r/zz-marker');
        expect(lateReceived).toEqual([{ topic: 'r/a', payload: 'second', qos: 1, retain: true }]);
        // The live subscriber got no copy of the retained message on the late one's subscribe.
        await marker(pub, live, liveReceived, 'r/zz-live-marker');
        expect(liveReceived.filter((m) => m.payload === 'second')).toHaveLength(1);
      });

      it('publishes the will when the socket is lost, not after DISCONNECT', async () => {
        const watcher = await client('watcher');
        const received = collect(watcher);
        await watcher.subscribeAsync('wills/#', { qos: 1 });
        const will = (topic: string) => ({
          topic,
          payload: Buffer.from(`gone:${topic}`),
          qos: 1 as const,
          retain: false,
        });

        const polite = await client('polite', { will: will('wills/polite') });
        await polite.endAsync();
        const rude = await client('rude', { will: will('wills/rude') });
        rude.stream.destroy();
        await receivedCount(watcher, received, 1);
        const pub = await client('marker-pub');
        await marker(pub, watcher, received, 'wills/zz-marker');
        expect(received.map((m) => m.topic)).toEqual(['wills/rude']);
      });

      it('publishes the will when the keep-alive expires', async () => {
        const watcher = await client('ka-watcher');
        const received = collect(watcher);
        await watcher.subscribeAsync('ka/#', { qos: 1 });
        const socket = netConnect(stack.port, '127.0.0.1');
        await next(socket, 'connect');
        socket.on('data', () => {});
        socket.on('error', () => {});
        socket.write(
          mqttPacket.generate(
            {
              cmd: 'connect',
              protocolId: 'MQTT',
              protocolVersion,
              clean: true,
              clientId: 'silent',
              keepalive: 1,
              will: { topic: 'ka/silent', payload: Buffer.from('timed out'), qos: 1, retain: false },
            } as mqttPacket.IConnectPacket,
            { protocolVersion },
          ),
        );
        await receivedCount(watcher, received, 1);
        expect(received[0]).toMatchObject({ topic: 'ka/silent', payload: 'timed out' });
        socket.destroy();
      });

      it('keeps a persistent session: subscriptions and offline QoS 1 messages, in order, session present', async () => {
        const first = await stack.connectAck({
          clientId: 'durable',
          protocolVersion,
          clean: false,
          ...persistent,
        });
        expect(first.connack.sessionPresent).toBe(false);
        await first.client.subscribeAsync('offline/#', { qos: 1 });
        await first.client.endAsync();

        const pub = await client('offline-pub');
        for (let i = 1; i <= 5; i++) await pub.publishAsync('offline/x', `m${i}`, { qos: 1 });

        const again = await stack.connectAck({
          clientId: 'durable',
          protocolVersion,
          clean: false,
          ...persistent,
        });
        expect(again.connack.sessionPresent).toBe(true);
        const received = collect(again.client);
        await receivedCount(again.client, received, 5);
        expect(received.map((m) => m.payload)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
        await again.client.endAsync();

        const clean = await stack.connectAck({ clientId: 'durable', protocolVersion, clean: true });
        expect(clean.connack.sessionPresent).toBe(false);
        await clean.client.endAsync();
        const after = await stack.connectAck({ clientId: 'durable', protocolVersion, clean: false });
        expect(after.connack.sessionPresent).toBe(false);
      });

      it('stops delivery after UNSUBSCRIBE', async () => {
        const sub = await client('unsub');
        const received = collect(sub);
        await sub.subscribeAsync('u/#', { qos: 1 });
        const pub = await client('unsub-pub');
        await pub.publishAsync('u/1', 'before', { qos: 1 });
        await receivedCount(sub, received, 1);
        await sub.unsubscribeAsync('u/#');
        await pub.publishAsync('u/1', 'after', { qos: 1 });
        await sub.subscribeAsync('marker/#', { qos: 1 });
        await marker(pub, sub, received, 'marker/u');
        expect(received.map((m) => m.payload)).toEqual(['before']);
      });

      it('does not match $-topics with #', async () => {
        const sub = await client('dollar');
        const received = collect(sub);
        await sub.subscribeAsync('#', { qos: 1 });
        const pub = await client('dollar-pub');
        await pub.publishAsync('$SYS/x', 'hidden', { qos: 1 });
        await marker(pub, sub, received, 'plain/marker');
        expect(received.filter((m) => m.topic.startsWith('$'))).toEqual([]);
      });

      it('delivers a message matching overlapping subscriptions at the highest granted QoS', async () => {
        const sub = await client('overlap');
        const received = collect(sub);
        await sub.subscribeAsync({ 'o/#': { qos: 0 }, 'o/x': { qos: 1 } });
        const pub = await client('overlap-pub');
        await pub.publishAsync('o/x', 'both', { qos: 1 });
        await pub.publishAsync('o/y', 'one', { qos: 1 });
        await receivedCount(sub, received, 2);
        await marker(pub, sub, received, 'o/zz-marker');
        const both = received.filter((m) => m.payload === 'both');
        expect(both.length).toBeGreaterThanOrEqual(1);
        expect(Math.max(...both.map((m) => m.qos))).toBe(1);
      });

      it('takes a client id over: the first connection ends, the second gets the messages', async () => {
        const watcher = await client('takeover-watcher');
        const wills = collect(watcher);
        await watcher.subscribeAsync('takeover-will/#', { qos: 1 });
        const first = await client('same', {
          clean: false,
          ...persistent,
          will: { topic: 'takeover-will/same', payload: Buffer.from('first gone'), qos: 1, retain: false },
        });
        await first.subscribeAsync('takeover/#', { qos: 1 });
        const gone = next(first, 'close');
        const second = await client('same', { clean: false, ...persistent });
        await gone;
        const received = collect(second);
        const pub = await client('takeover-pub');
        await pub.publishAsync('takeover/1', 'to the second', { qos: 1 });
        await receivedCount(second, received, 1);
        expect(received[0]?.payload).toBe('to the second');
        // The first connection did not DISCONNECT: its will is published.
        await receivedCount(watcher, wills, 1);
        expect(wills[0]).toMatchObject({ topic: 'takeover-will/same', payload: 'first gone' });
        expect(stack.gateway.stats().clients).toBe(3);
      });
    },
  );

  describe('MQTT over AMQP end to end: redelivery', () => {
    let stack: Stack;

    afterEach(async () => {
      await stack.close();
    });

    it('redelivers a QoS 1 message the client never acknowledged when its session resumes', async () => {
      stack = await startStack({ transport });
      const first = await RawMqttClient.connect(stack.port, {
        clientId: 'forgetful',
        protocolVersion: 4,
        clean: false,
        keepalive: 0,
      });
      first.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'redo/#', qos: 1 }] });
      await first.client.next((p) => p.cmd === 'suback');
      const pub = await stack.connect({ clientId: 'redo-pub', protocolVersion: 4 });
      await pub.publishAsync('redo/1', 'again', { qos: 1 });
      const original = (await first.client.next((p) => p.cmd === 'publish')) as mqttPacket.IPublishPacket;
      expect(original.dup).toBe(false);
      // Gone without PUBACK.
      first.client.destroy();
      await pollUntil(() => stack.gateway.bridge('forgetful') === undefined, 'the bridge to be gone', 10_000);

      const second = await RawMqttClient.connect(stack.port, {
        clientId: 'forgetful',
        protocolVersion: 4,
        clean: false,
        keepalive: 0,
      });
      expect((second.connack as mqttPacket.IConnackPacket).sessionPresent).toBe(true);
      const again = (await second.client.next((p) => p.cmd === 'publish')) as mqttPacket.IPublishPacket;
      expect(again.payload.toString()).toBe('again');
      // A redelivery: the same packet id (the session numbers its messages), DUP set.
      expect([again.messageId, again.dup]).toEqual([original.messageId, true]);
      second.client.send({ cmd: 'puback', messageId: again.messageId as number });
      second.client.destroy();
    });
  });

  describe('MQTT over AMQP end to end: back-pressure', () => {
    let stack: Stack;

    afterEach(async () => {
      await stack.close();
    });

    it('a slow subscriber and a fast publisher keep the gateway buffers bounded', async () => {
      const window = 4;
      // mqtt.js 5 does not count the receive maximum it is given: push back instead of DISCONNECT 0x93.
      stack = await startStack({
        transport,
        mqtt: { outboundWindow: window, enforceReceiveMaximum: false },
        backend: { maxInMemoryPerClient: 16 },
      });
      // The slow subscriber never acknowledges.
      const { client: slow } = await RawMqttClient.connect(stack.port, {
        clientId: 'slow',
        protocolVersion: 4,
        clean: true,
        keepalive: 0,
      });
      slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood', qos: 1 }] });
      await slow.next((p) => p.cmd === 'suback');
      const pub = await stack.connect({ clientId: 'fast', protocolVersion: 5 });
      // Never acknowledged, the flood cannot all be taken: once the session's memory is full the backend holds
      // the publisher (nothing PUBACKed is dropped).
      let pubacked = 0;
      for (let i = 0; i < 200; i++) {
        pub.publishAsync('flood', `m${i}`, { qos: 1 }).then(
          () => {
            pubacked += 1;
          },
          () => {},
        );
      }
      await slow.next(() => slow.publishes().length >= window);
      // The backend's counters emit nothing: looked at now and then.
      await pollUntil(
        () => stack.backend.stats().heldPublisherLinks === 1,
        'the publisher link to be held',
        10_000,
      );
      expect(stack.backend.stats().heldPublisherLinks).toBe(1);
      expect(pubacked).toBeLessThanOrEqual(16);
      await slow.roundTrip();
      const slowStats = stack.gateway.bridge('slow')?.stats();
      expect(slow.publishes()).toHaveLength(window);
      expect(stack.gateway.stats().heldDeliveriesHighWater).toBeLessThanOrEqual(window);
      // What the slow client's bridge holds plus the credit it has given never exceed the client's window.
      expect(slowStats?.heldDeliveries).toBe(window);
      expect(slowStats?.outstandingCredit).toBe(0);
      expect(stack.backend.stats().subscriptions.buffered).toBeLessThanOrEqual(16);
      slow.destroy();
    });
  });

  describe('MQTT over AMQP end to end: MQTT 5 features', () => {
    let stack: Stack;

    beforeEach(async () => {
      stack = await startStack({
        transport,
        backend: {
          authorizeSubscription: (_clientId, filter) => !filter.startsWith('secret/'),
          refusedSubscriptionReasonCode: 0x87,
        },
      });
    });

    afterEach(async () => {
      await stack.close();
    });

    const client = (clientId: string, options: Parameters<Stack['connect']>[0] = {}) =>
      stack.connect({ clientId, protocolVersion: 5, ...options });

    it('answers a refused subscription with the configured reason code', async () => {
      const sub = await client('refused');
      const error = (await sub.subscribeAsync('secret/x', { qos: 1 }).catch((e: unknown) => e)) as {
        packet?: { granted?: number[] };
      };
      expect(error.packet?.granted).toEqual([0x87]);
      const granted = await sub.subscribeAsync('open/x', { qos: 1 });
      expect(granted[0]?.qos).toBe(1);
    });

    it('carries subscription identifiers and the message expiry interval', async () => {
      const sub = await client('ids');
      const packets: Array<Record<string, unknown> | undefined> = [];
      sub.on('message', (_topic, _payload, packet) => packets.push(packet.properties));
      await sub.subscribeAsync('ids/#', { qos: 1, properties: { subscriptionIdentifier: 42 } });
      const pub = await client('ids-pub');
      const arrived = next(sub, 'message');
      await pub.publishAsync('ids/a', 'x', { qos: 1, properties: { messageExpiryInterval: 120 } });
      await arrived;
      const ids = packets[0]?.subscriptionIdentifier;
      expect(Array.isArray(ids) ? ids : [ids]).toEqual([42]);
      const expiry = packets[0]?.messageExpiryInterval as number;
      expect(expiry).toBeGreaterThan(0);
      expect(expiry).toBeLessThanOrEqual(120);
    });

    it('honours no-local: a client does not get its own publications back', async () => {
      const self = await client('narcissus');
      const received = collect(self);
      await self.subscribeAsync({ 'echo/#': { qos: 1, nl: true }, 'other/#': { qos: 1 } });
      await self.publishAsync('echo/1', 'mine', { qos: 1 });
      const pub = await client('echo-pub');
      await pub.publishAsync('echo/1', 'theirs', { qos: 1 });
      await receivedCount(self, received, 1);
      await marker(pub, self, received, 'other/marker');
      expect(received.map((m) => m.payload)).toEqual(['theirs']);
    });

    it('publishes the will after DISCONNECT with reason 0x04 (disconnect with will message)', async () => {
      const watcher = await client('will-watcher');
      const received = collect(watcher);
      await watcher.subscribeAsync('w4/#', { qos: 1 });
      const leaving = await client('leaving', {
        will: { topic: 'w4/leaving', payload: Buffer.from('bye'), qos: 1, retain: false },
      });
      await new Promise<void>((resolve) => leaving.end(false, { reasonCode: 0x04 }, () => resolve()));
      await receivedCount(watcher, received, 1);
      expect(received[0]).toMatchObject({ topic: 'w4/leaving', payload: 'bye' });
    });
  });
});

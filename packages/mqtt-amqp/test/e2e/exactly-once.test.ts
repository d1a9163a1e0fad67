/**
 * QoS 2 from mqtt.js through the bridge to the embedded backend, following the spec's settlement steps: the
 * AMQP delivery stays unsettled after the backend's `accepted` (PUBREC), is settled on the client's PUBREL,
 * and PUBCOMP is written only once the backend has settled too — by then it has forgotten the packet id. And
 * the retained-store limit answered with PUBREC/PUBACK 0x97 to an MQTT 5 client.
 */
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_AWAITING_PUBREL } from '../../src/bridge/client-publishes';
import { createMemoryStores } from '../../src/index';
import { RawMqttClient } from '../bridge/support/raw-client';
import { pollUntil } from '../support/poll';
import { STACK_TRANSPORTS, type Stack, startStack } from './harness';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** The next packet of kind `cmd` the client receives. */
function nextPacket(client: MqttClient, cmd: string): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${cmd} within 10 s`)), 10_000);
    const onPacket = (packet: Packet): void => {
      if (packet.cmd !== cmd) return;
      clearTimeout(timer);
      client.off('packetreceive', onPacket);
      resolve(packet);
    };
    client.on('packetreceive', onPacket);
  });
}

describe.each(STACK_TRANSPORTS)('bridge to backend over %s', (transport) => {
  describe.each([4, 5] as const)('QoS 2 from an MQTT client (protocol version %i)', (protocolVersion) => {
    it('PUBCOMP comes once the backend has settled: nothing is left remembered', async () => {
      stack = await startStack({ transport });
      const subscriber = await stack.connect({ protocolVersion, clientId: `eo-sub-${protocolVersion}` });
      await subscriber.subscribeAsync('eo/#', { qos: 2 });
      const received: string[] = [];
      subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
      const publisher = await stack.connect({ protocolVersion, clientId: `eo-pub-${protocolVersion}` });
      for (let i = 0; i < 20; i++) {
        await publisher.publishAsync('eo/t', `m${i}`, { qos: 2 });
        // PUBCOMP is written after the backend settled, and it forgets the packet id before settling.
        expect(stack.backend.stats().unreleasedQos2).toBe(0);
      }
      const marker = nextPacket(subscriber, 'publish');
      await publisher.publishAsync('eo/marker', 'end', { qos: 2 });
      await marker;
      expect(stack.backend.stats().duplicatesNotRouted).toBe(0);
      expect(received.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    });
  });

  describe.each([4, 5] as const)(
    'a PUBREL on the next connection (protocol version %i)',
    (protocolVersion) => {
      it('releases the packet id in the backend before PUBCOMP: the same content under that id is new again', async () => {
        stack = await startStack({ transport });
        const subscriber = await stack.connect({ protocolVersion, clientId: `pr-sub-${protocolVersion}` });
        await subscriber.subscribeAsync('pr/t', { qos: 2 });
        const received: string[] = [];
        subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
        const device = { clientId: `pr-dev-${protocolVersion}`, protocolVersion, clean: false, keepalive: 0 };
        const publish = {
          cmd: 'publish',
          topic: 'pr/t',
          payload: Buffer.from('same'),
          qos: 2,
          messageId: 5,
          retain: false,
          dup: false,
        } as const;

        const { client: first } = await RawMqttClient.connect(stack.port, device);
        first.send(publish);
        await first.next((p) => p.cmd === 'pubrec' && p.messageId === 5);
        first.destroy(); // before its PUBREL: the backend remembers (client, 5)
        await pollUntil(
          () => stack?.gateway.bridge(device.clientId) === undefined,
          'the bridge to go',
          10_000,
        );
        expect(stack.backend.stats().unreleasedQos2).toBe(1);

        const { client: second } = await RawMqttClient.connect(stack.port, device);
        second.send({ cmd: 'pubrel', messageId: 5 });
        const pubcomp = await second.next((p) => p.cmd === 'pubcomp' && p.messageId === 5);
        if (protocolVersion === 5) expect(pubcomp).toMatchObject({ reasonCode: 0 });
        expect(stack.backend.stats().unreleasedQos2).toBe(0);
        // The packet id is free: the same content under it is a new message, routed again.
        second.send(publish);
        await second.next((p) => p.cmd === 'pubrec' && p.messageId === 5 && p !== undefined);
        await pollUntil(() => received.length === 2, 'the second message', 10_000);
        expect(received).toEqual(['same', 'same']);
        second.destroy();
      });
    },
  );

  /** Packet ids of the `cmd` packets `client` has received. */
  function idsOf(client: RawMqttClient, cmd: string): Set<number> {
    const ids = new Set<number>();
    for (const packet of client.packets) {
      if (packet.cmd === cmd && packet.messageId !== undefined) ids.add(packet.messageId);
    }
    return ids;
  }

  function qos2Publish(topic: string, messageId: number, dup = false): Packet {
    return {
      cmd: 'publish',
      topic,
      payload: Buffer.from(String(messageId)),
      qos: 2,
      messageId,
      retain: false,
      dup,
    };
  }

  describe('a client that sends many QoS 2 PUBLISHes before any PUBREL', () => {
    it(`gets every PUBREC beyond the ${MAX_AWAITING_PUBREL} held exchanges without being paused, then PUBCOMP after its PUBRELs; each message arrives once`, async () => {
      stack = await startStack({ transport });
      const subscriber = await stack.connect({ protocolVersion: 4, clientId: 'np-sub' });
      await subscriber.subscribeAsync('np/t', { qos: 2 });
      const received: string[] = [];
      subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
      const device = { clientId: 'no-pubrel', protocolVersion: 4 as const, clean: true, keepalive: 0 };
      const { client } = await RawMqttClient.connect(stack.port, device);
      const total = MAX_AWAITING_PUBREL + 40;
      for (let id = 1; id <= total; id++) client.send(qos2Publish('np/t', id));
      await pollUntil(() => idsOf(client, 'pubrec').size === total, `${total} PUBRECs`, 20_000);
      const bridge = stack.gateway.bridge('no-pubrel');
      expect(bridge?.stats().paused).toBe(false);
      expect(bridge?.stats().qos2InProgress).toEqual({ held: MAX_AWAITING_PUBREL, explicit: 40 });
      expect(bridge?.stats().qos2ReleasedAtPubrec).toBe(0);
      // The backend remembers every packet id until its PUBREL: the held ones and the explicitly released ones.
      expect(stack.backend.stats().unreleasedQos2).toBe(total);
      expect(idsOf(client, 'pubcomp').size).toBe(0);

      for (let id = 1; id <= total; id++) client.send({ cmd: 'pubrel', messageId: id });
      await pollUntil(() => idsOf(client, 'pubcomp').size === total, `${total} PUBCOMPs`, 20_000);
      expect(stack.backend.stats().unreleasedQos2).toBe(0);
      await pollUntil(() => received.length >= total, 'every message', 20_000);
      expect([...received].sort()).toEqual(Array.from({ length: total }, (_, i) => String(i + 1)).sort());
      expect(stack.backend.stats().duplicatesNotRouted).toBe(0);
      client.destroy();
    });

    it('an exchange beyond the held ones is remembered across connections until PUBREL: its re-send is not routed again', async () => {
      stack = await startStack({ transport });
      const subscriber = await stack.connect({ protocolVersion: 4, clientId: 'xr-sub' });
      await subscriber.subscribeAsync('xr/t', { qos: 2 });
      const received: string[] = [];
      subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
      const device = { clientId: 'xr-dev', protocolVersion: 4 as const, clean: false, keepalive: 0 };
      const total = MAX_AWAITING_PUBREL + 1; // the last one is released explicitly
      const { client: first } = await RawMqttClient.connect(stack.port, device);
      for (let id = 1; id <= total; id++) first.send(qos2Publish('xr/t', id));
      await pollUntil(() => idsOf(first, 'pubrec').size === total, `${total} PUBRECs`, 20_000);
      first.destroy(); // before any PUBREL
      await pollUntil(() => stack?.gateway.bridge(device.clientId) === undefined, 'the bridge to go', 10_000);
      expect(stack.backend.stats().unreleasedQos2).toBe(total);

      // The client did not see that PUBREC: it sends the PUBLISH again (DUP), then releases everything.
      const { client: second } = await RawMqttClient.connect(stack.port, device);
      second.send(qos2Publish('xr/t', total, true));
      await second.next((p) => p.cmd === 'pubrec' && p.messageId === total);
      // In batches below the receive maximum: the endpoint passes on at most that many PUBRELs of an earlier
      // connection at once (and answers the rest itself, leaving the backend's entry to be replaced later).
      for (let from = 1; from <= total; from += 32) {
        const to = Math.min(total, from + 31);
        for (let id = from; id <= to; id++) second.send({ cmd: 'pubrel', messageId: id });
        await pollUntil(() => idsOf(second, 'pubcomp').size === to, `${to} PUBCOMPs`, 20_000);
      }
      expect(stack.backend.stats().unreleasedQos2).toBe(0);
      expect(stack.backend.stats().duplicatesNotRouted).toBe(1);
      await pollUntil(() => received.length >= total, 'every message', 20_000);
      const marker = nextPacket(subscriber, 'publish');
      const publisher = await stack.connect({ protocolVersion: 4, clientId: 'xr-marker' });
      await publisher.publishAsync('xr/t', 'end', { qos: 2 });
      await marker;
      expect(received.filter((payload) => payload === String(total))).toEqual([String(total)]);
      second.destroy();
    });
  });

  describe.each([4, 5] as const)(
    'mqtt.js publishing 500 QoS 2 messages at once (protocol version %i)',
    (protocolVersion) => {
      it('every publish is completed and every message arrives exactly once', async () => {
        stack = await startStack(
          // MQTT 5: a receive maximum above the held bound, so that the explicit release is used here too.
          protocolVersion === 5 ? { transport, mqtt: { receiveMaximum: 1000 } } : { transport },
        );
        const subscriber = await stack.connect({ protocolVersion, clientId: `burst-sub-${protocolVersion}` });
        await subscriber.subscribeAsync('burst/#', { qos: 2 });
        const received: string[] = [];
        // The marker (burst/marker) is not counted: its publisher's PUBCOMP may come after the subscriber had it.
        subscriber.on('message', (topic, payload) => {
          if (topic === 'burst/t') received.push(payload.toString());
        });
        const publisher = await stack.connect({ protocolVersion, clientId: `burst-pub-${protocolVersion}` });
        const count = 500;
        // Not awaited one by one: mqtt.js writes every PUBLISH before its first PUBREL.
        await Promise.all(
          Array.from({ length: count }, (_, i) => publisher.publishAsync('burst/t', `m${i}`, { qos: 2 })),
        );
        await pollUntil(() => received.length >= count, `${count} messages`, 20_000);
        const marker = nextPacket(subscriber, 'publish');
        await publisher.publishAsync('burst/marker', 'end', { qos: 2 });
        await marker;
        expect(received.length).toBe(count);
        expect(new Set(received).size).toBe(count);
        expect(stack.backend.stats().unreleasedQos2).toBe(0);
        expect(stack.gateway.bridge(`burst-pub-${protocolVersion}`)?.stats().paused).toBe(false);
      });
    },
  );

  describe('a retained message the retained store cannot keep', () => {
    /** A stack whose retained store keeps one message, a subscriber on `rl/#` noting topics, and a publisher. */
    async function retainedStoreOfOne(protocolVersion: 4 | 5, subscriberId: string, publisherId: string) {
      stack = await startStack({ transport, backend: { store: createMemoryStores({ maxRetained: 1 }) } });
      stack.backend.on('error', () => {});
      const subscriber = await stack.connect({ protocolVersion, clientId: subscriberId });
      await subscriber.subscribeAsync('rl/#', { qos: 1 });
      const topics: string[] = [];
      subscriber.on('message', (topic) => topics.push(topic));
      const client = await stack.connect({ protocolVersion, clientId: publisherId });
      await client.publishAsync('rl/1', 'one', { qos: 1, retain: true });
      return { stack, subscriber, topics, client };
    }

    /** After a marker: only what was kept (and the marker) was delivered, and the publisher is still connected. */
    async function expectOnlyKeptDelivered({
      stack,
      subscriber,
      topics,
      client,
    }: Awaited<ReturnType<typeof retainedStoreOfOne>>): Promise<void> {
      const marker = nextPacket(subscriber, 'publish');
      await client.publishAsync('rl/marker', 'm', { qos: 1 });
      await marker;
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(topics).toEqual(['rl/1', 'rl/marker']);
      expect(client.connected).toBe(true);
      expect(stack.backend.stats().rejectedRetained).toBe(2);
    }

    it('MQTT 5: PUBACK / PUBREC 0x97, not delivered; the client stays connected', async () => {
      const limited = await retainedStoreOfOne(5, 'rl-sub', 'rl-pub');
      for (const qos of [1, 2] as const) {
        const answer = nextPacket(limited.client, qos === 1 ? 'puback' : 'pubrec');
        limited.client.publish(`rl/${qos + 1}`, 'too many', { qos, retain: true }, () => {});
        expect(((await answer) as { reasonCode?: number }).reasonCode).toBe(0x97);
      }
      await expectOnlyKeptDelivered(limited);
    });

    it('MQTT 3.1.1: acknowledged and dropped, as a denied PUBLISH (no negative acknowledgement); still connected', async () => {
      const limited = await retainedStoreOfOne(4, 'rl-311-sub', 'rl-311');
      await limited.client.publishAsync('rl/2', 'too many', { qos: 1, retain: true });
      await limited.client.publishAsync('rl/3', 'too many', { qos: 2, retain: true });
      await expectOnlyKeptDelivered(limited);
    });
  });
});

/**
 * QoS 2 from mqtt.js through the bridge to the embedded backend, following the spec's settlement steps: the
 * AMQP delivery stays unsettled after the backend's `accepted` (PUBREC), is settled on the client's PUBREL,
 * and PUBCOMP is written only once the backend has settled too — by then it has forgotten the packet id. And
 * the retained-store limit answered with PUBREC/PUBACK 0x97 to an MQTT 5 client.
 */
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStores } from '../../src/index';
import { type Stack, startStack } from './harness';

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

describe.each([4, 5] as const)('QoS 2 from an MQTT client (protocol version %i)', (protocolVersion) => {
  it('PUBCOMP comes once the backend has settled: nothing is left remembered', async () => {
    stack = await startStack();
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

describe('a retained message the retained store cannot keep', () => {
  it('MQTT 5: PUBACK / PUBREC 0x97, not delivered; the client stays connected', async () => {
    stack = await startStack({ backend: { store: createMemoryStores({ maxRetained: 1 }) } });
    stack.backend.on('error', () => {});
    const subscriber = await stack.connect({ protocolVersion: 5, clientId: 'rl-sub' });
    await subscriber.subscribeAsync('rl/#', { qos: 1 });
    const topics: string[] = [];
    subscriber.on('message', (topic) => topics.push(topic));
    const client = await stack.connect({ protocolVersion: 5, clientId: 'rl-pub' });
    await client.publishAsync('rl/1', 'one', { qos: 1, retain: true });
    for (const qos of [1, 2] as const) {
      const answer = nextPacket(client, qos === 1 ? 'puback' : 'pubrec');
      client.publish(`rl/${qos + 1}`, 'too many', { qos, retain: true }, () => {});
      expect(((await answer) as { reasonCode?: number }).reasonCode).toBe(0x97);
    }
    const marker = nextPacket(subscriber, 'publish');
    await client.publishAsync('rl/marker', 'm', { qos: 1 });
    await marker;
    // Only what was kept (and the marker) was delivered.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(topics).toEqual(['rl/1', 'rl/marker']);
    expect(client.connected).toBe(true);
    expect(stack.backend.stats().rejectedRetained).toBe(2);
  });

  it('MQTT 3.1.1: acknowledged and dropped, as a denied PUBLISH (no negative acknowledgement); still connected', async () => {
    stack = await startStack({ backend: { store: createMemoryStores({ maxRetained: 1 }) } });
    stack.backend.on('error', () => {});
    const subscriber = await stack.connect({ protocolVersion: 4, clientId: 'rl-311-sub' });
    await subscriber.subscribeAsync('rl/#', { qos: 1 });
    const topics: string[] = [];
    subscriber.on('message', (topic) => topics.push(topic));
    const client = await stack.connect({ protocolVersion: 4, clientId: 'rl-311' });
    await client.publishAsync('rl/1', 'one', { qos: 1, retain: true });
    await client.publishAsync('rl/2', 'too many', { qos: 1, retain: true });
    await client.publishAsync('rl/3', 'too many', { qos: 2, retain: true });
    const marker = nextPacket(subscriber, 'publish');
    await client.publishAsync('rl/marker', 'm', { qos: 1 });
    await marker;
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(topics).toEqual(['rl/1', 'rl/marker']);
    expect(client.connected).toBe(true);
    expect(stack.backend.stats().rejectedRetained).toBe(2);
  });
});

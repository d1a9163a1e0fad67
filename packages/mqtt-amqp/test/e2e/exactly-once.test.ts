/**
 * QoS 2 from mqtt.js through the bridge to the embedded backend, following the spec's settlement steps: the
 * AMQP delivery stays unsettled after the backend's `accepted` (PUBREC), is settled on the client's PUBREL,
 * and PUBCOMP is written only once the backend has settled too — by then it has forgotten the packet id. And
 * the retained-store limit answered with PUBREC/PUBACK 0x97 to an MQTT 5 client.
 */
import { connect as netConnect } from 'node:net';
import type { MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_AWAITING_PUBREL } from '../../src/bridge/client-publishes';
import { createMemoryStores } from '../../src/index';
import { RawMqttClient } from '../bridge/support/raw-client';
import { pollUntil } from '../support/poll';
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

describe.each([4, 5] as const)('a PUBREL on the next connection (protocol version %i)', (protocolVersion) => {
  it('releases the packet id in the backend before PUBCOMP: the same content under that id is new again', async () => {
    stack = await startStack();
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
    await pollUntil(() => stack?.gateway.bridge(device.clientId) === undefined, 'the bridge to go', 10_000);
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
});

describe('a client that does not send PUBREL', () => {
  it(`is held after ${MAX_AWAITING_PUBREL} QoS 2 exchanges awaiting PUBREL, and goes on as it releases`, async () => {
    stack = await startStack();
    const socket = netConnect(stack.port, '127.0.0.1');
    socket.on('error', () => {});
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const pubrecs = new Set<number>();
    const pubcomps = new Set<number>();
    let connacked = false;
    let onPacket: () => void = () => {};
    parser.on('packet', (packet: Packet) => {
      if (packet.cmd === 'connack') connacked = true;
      if (packet.cmd === 'pubrec' && packet.messageId !== undefined) pubrecs.add(packet.messageId);
      if (packet.cmd === 'pubcomp' && packet.messageId !== undefined) pubcomps.add(packet.messageId);
      onPacket();
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    const until = (check: () => boolean, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
        onPacket = () => {
          if (!check()) return;
          clearTimeout(timer);
          resolve();
        };
        onPacket();
      });
    const write = (packet: Record<string, unknown>): void => {
      socket.write(mqttPacket.generate(packet as unknown as Packet, { protocolVersion: 4 }));
    };
    write({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'no-pubrel',
      keepalive: 0,
    });
    await until(() => connacked, 'CONNACK');
    const total = MAX_AWAITING_PUBREL + 2;
    for (let id = 1; id <= total; id++) {
      write({
        cmd: 'publish',
        topic: 'np/t',
        payload: Buffer.from(String(id)),
        qos: 2,
        messageId: id,
        retain: false,
        dup: false,
      });
    }
    await until(() => pubrecs.size >= MAX_AWAITING_PUBREL, `${MAX_AWAITING_PUBREL} PUBRECs`);
    const bridge = stack.gateway.bridge('no-pubrel');
    // The rest waits: the bridge stopped reading the client, with exactly the bound answered.
    await pollUntil(() => bridge?.stats().paused === true, 'the client to be paused', 10_000);
    expect(pubrecs.size).toBe(MAX_AWAITING_PUBREL);
    write({ cmd: 'pubrel', messageId: 1 });
    write({ cmd: 'pubrel', messageId: 2 });
    await until(() => pubrecs.size === total && pubcomps.has(1) && pubcomps.has(2), 'the rest answered');
    socket.destroy();
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

/**
 * The bridge's per-client limits end to end (mqtt.js 3.1.1 and 5): subscriptions per client (restored session
 * included), topic length and topic levels. Each hit gives its documented code, is reported through `onLimit`,
 * and the client stays connected and served.
 */
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BridgeLimit } from '../../src/bridge/types';
import { type Stack, startStack } from './harness';

function answer(client: MqttClient, cmd: 'puback' | 'suback'): Promise<Packet> {
  return new Promise((resolve) => {
    const onPacket = (packet: Packet): void => {
      if (packet.cmd !== cmd) return;
      client.off('packetreceive', onPacket);
      resolve(packet);
    };
    client.on('packetreceive', onPacket);
  });
}

async function subackCodes(client: MqttClient, filters: string[]): Promise<number[]> {
  const suback = answer(client, 'suback');
  client.subscribe(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])), () => {});
  return ((await suback) as { granted: number[] }).granted;
}

async function pubackCode(client: MqttClient, topic: string): Promise<number> {
  const puback = answer(client, 'puback');
  client.publish(topic, 'x', { qos: 1 }, () => {});
  return ((await puback) as { reasonCode?: number }).reasonCode ?? 0;
}

describe.each([4, 5] as const)('bridge limits (MQTT protocol version %i)', (protocolVersion) => {
  let stack: Stack;
  let hits: BridgeLimit[];
  const failure = (code: number) => (protocolVersion === 5 ? code : 0x80);

  beforeEach(async () => {
    hits = [];
    stack = await startStack({
      bridge: {
        maxSubscriptionsPerClient: 2,
        maxTopicLength: 24,
        maxTopicLevels: 3,
        onLimit: (limit) => hits.push(limit),
      },
    });
  });

  afterEach(async () => {
    await stack.close();
  });

  it('refuses subscriptions beyond the per-client quota with SUBACK 0x97 (3.1.1: 0x80)', async () => {
    const client = await stack.connect({ clientId: 'subs', protocolVersion });
    expect(await subackCodes(client, ['a', 'b', 'c'])).toEqual([1, 1, failure(0x97)]);
    // Re-subscribing a held filter is not a new one; after an UNSUBSCRIBE there is room again.
    expect(await subackCodes(client, ['a'])).toEqual([1]);
    await client.unsubscribeAsync('b');
    expect(await subackCodes(client, ['c', 'd'])).toEqual([1, failure(0x97)]);
    expect(hits).toEqual(['subscriptions-per-client', 'subscriptions-per-client']);
    expect(client.connected).toBe(true);
  });

  it('counts the subscriptions a resumed session brings back', async () => {
    const options = {
      clientId: 'resumed',
      protocolVersion,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
    };
    const first = await stack.connect(options);
    expect(await subackCodes(first, ['x', 'y'])).toEqual([1, 1]);
    await first.endAsync();
    const again = await stack.connectAck(options);
    expect(again.connack.sessionPresent).toBe(true);
    expect(await subackCodes(again.client, ['z'])).toEqual([failure(0x97)]);
  });

  it('answers topics beyond the length and level limits (0x90 / 0x8F), and keeps serving', async () => {
    const client = await stack.connect({ clientId: 'topics', protocolVersion });
    const long = 'x'.repeat(25);
    expect(await subackCodes(client, [long, 'a/b/c/d', 'a/+/#', 'ok/#'])).toEqual([
      failure(0x8f),
      failure(0x8f),
      1,
      1,
    ]);
    const dropped = protocolVersion === 5 ? 0x90 : 0;
    expect(await pubackCode(client, long)).toBe(dropped);
    expect(await pubackCode(client, 'a/b/c/d')).toBe(dropped);
    const message = new Promise<string>((resolve) => client.once('message', (topic) => resolve(topic)));
    expect(await pubackCode(client, 'ok/fine')).toBe(0);
    // The over-long messages were dropped: the first to arrive is the one within the limits.
    expect(await message).toBe('ok/fine');
    expect(hits).toEqual(['topic-length', 'topic-levels', 'topic-length', 'topic-levels']);
  });
});

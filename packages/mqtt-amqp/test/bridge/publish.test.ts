/**
 * Publish in both directions at QoS 0/1/2, acknowledgement timing and back-pressure, against a recording
 * AMQP peer (rhea used directly) and mqtt.js clients.
 */

import type { IPublishPacket } from 'mqtt-packet';
import type { Delivery } from 'rhea';
import { describe, expect, it } from 'vitest';
import { gatewayOnRecordingPeer, next, type RunningGateway, runGateway, track } from './support/harness';
import { RawMqttClient } from './support/raw-client';
import {
  type AttachEvent,
  amqpPublish,
  bodyBytes,
  type FlowEvent,
  type MessageEvent,
  type OutcomeEvent,
  publishAddress,
  RecordingPeer,
} from './support/recording-peer';

const isTopicMessage = (topic: string) => (e: { kind: string; address?: string | undefined }) =>
  e.kind === 'message' && e.address === topic;

describe.each([4, 5] as const)('bridge publish (MQTT protocol version %i)', (protocolVersion) => {
  const bridge = gatewayOnRecordingPeer();

  async function connected(clientId: string, options: Parameters<RunningGateway['connect']>[0] = {}) {
    const client = await bridge.gw.connect({ clientId, protocolVersion, ...options });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    return client;
  }

  it('QoS 0 and 1 go on one unsettled/first link per topic, QoS 2 on an unsettled/second link', async () => {
    const client = await connected(`links-${protocolVersion}`);
    await client.publishAsync('t/a', 'zero', { qos: 0 });
    await client.publishAsync('t/a', 'one', { qos: 1 });
    await client.publishAsync('t/a', 'two', { qos: 2 });
    const attaches = bridge.peer.ofKind('attach').filter((e) => e.address === 't/a');
    expect(attaches).toHaveLength(2);
    expect(attaches.map((a) => [a.sndSettleMode, a.rcvSettleMode]).sort()).toEqual([
      [0, 0],
      [0, 1],
    ]);
    const messages = bridge.peer.ofKind('message').filter((e) => e.address === 't/a');
    expect(messages.map((m) => bodyBytes(m.message).toString())).toEqual(['zero', 'one', 'two']);
    expect(messages.map((m) => m.message.message_annotations?.['x-opt-mqtt-qos'])).toEqual([0, 1, 2]);
    expect(messages[1]?.message.durable).toBe(true);
    client.end(true);
  });

  it('writes PUBACK only after the AMQP peer accepted the delivery', async () => {
    const client = await connected(`puback-${protocolVersion}`);
    bridge.peer.dispose = (e) => (e.address === 'held/1' ? 'hold' : 'accept');
    const publishing = track(client.publishAsync('held/1', 'payload', { qos: 1 }));
    const message = await bridge.peer.waitFor((e): e is MessageEvent => isTopicMessage('held/1')(e));
    // A PINGREQ round trip: anything the bridge had written before it has reached the client.
    await pingRoundTrip(client);
    expect(publishing.settled).toBe(false);
    message.delivery.accept();
    await publishing.promise;
    client.end(true);
  });

  it('QoS 2 from the client: PUBREC after the disposition, PUBCOMP after the FE settled', async () => {
    const client = await connected(`qos2-in-${protocolVersion}`);
    bridge.peer.dispose = (e) => (e.address === 'exactly/once' ? 'hold' : 'accept');
    const publishing = track(client.publishAsync('exactly/once', 'payload', { qos: 2 }));
    const message = await bridge.peer.waitFor((e): e is MessageEvent => isTopicMessage('exactly/once')(e));
    const link = bridge.peer.ofKind('attach').find((e) => e.name === message.link) as AttachEvent;
    expect(link.rcvSettleMode).toBe(1);
    await pingRoundTrip(client);
    expect(publishing.settled).toBe(false);
    message.delivery.accept(); // mode second: the outcome goes unsettled
    await publishing.promise; // PUBREC, PUBREL, PUBCOMP
    const settled = await bridge.peer.waitFor((e) => e.kind === 'settled' && e.link === message.link);
    expect(settled.seq).toBeGreaterThan(message.seq);
    client.end(true);
  });

  it('a refused QoS 1 publish: MQTT 5 gets a failure PUBACK, 3.1.1 is disconnected', async () => {
    const client = await connected(`refused-${protocolVersion}`);
    bridge.peer.dispose = (e) => (e.address === 'forbidden' ? 'reject' : 'accept');
    if (protocolVersion === 5) {
      const error = await client
        .publishAsync('forbidden', 'x', { qos: 1 })
        .catch((e: Error & { code?: number }) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as { code?: number }).code).toBe(0x80);
      expect(client.connected).toBe(true);
    } else {
      const closed = next(client, 'close');
      client.publish('forbidden', 'x', { qos: 1 });
      await closed;
    }
    client.end(true);
  });

  it("refuses publishes to the spec's own addresses (services, other clients' queues)", async () => {
    const client = await connected(`intruder-${protocolVersion}`);
    if (protocolVersion === 5) {
      for (const topic of ['$mqtt.willservice', '$mqtt.to.victim.publish', '$mqtt.victim.pubrel']) {
        const error = (await client.publishAsync(topic, 'x', { qos: 1 }).catch((e: unknown) => e)) as {
          code?: number;
        };
        expect(error.code).toBe(0x87);
      }
    } else {
      const closed = next(client, 'close');
      client.publish('$mqtt.to.victim.publish', 'x', { qos: 1 });
      await closed;
    }
    expect(bridge.peer.ofKind('attach').some((e) => e.address === '$mqtt.to.victim.publish')).toBe(false);
    client.end(true);
  });

  it('QoS 0 and QoS 1 to the client: QoS 0 settled at once, QoS 1 settled on PUBACK', async () => {
    const clientId = `down-${protocolVersion}`;
    const { client } = await RawMqttClient.connect(bridge.gw.port, {
      clientId,
      protocolVersion,
      clean: true,
      keepalive: 0,
    });
    await bridge.peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
    const zero = await bridge.peer.sendToClient(clientId, amqpPublish('down/0', 'a', 0));
    await bridge.peer.waitFor(
      (e) => e.kind === 'outcome' && e.deliveryId === zero.id && e.state === 'accepted',
    );
    const one = await bridge.peer.sendToClient(clientId, amqpPublish('down/1', 'b', 1));
    const publish = (await client.next((p) => p.cmd === 'publish' && p.topic === 'down/1')) as IPublishPacket;
    await client.roundTrip();
    expect(bridge.peer.ofKind('outcome').some((e) => e.deliveryId === one.id)).toBe(false);
    client.send({ cmd: 'puback', messageId: publish.messageId as number });
    const outcome = await bridge.peer.waitFor(
      (e): e is OutcomeEvent => e.kind === 'outcome' && e.deliveryId === one.id,
    );
    expect(outcome.state).toBe('accepted');
    expect(client.publishes().map((p) => `${p.topic}:${p.payload.toString()}:${p.qos}`)).toEqual([
      'down/0:a:0',
      'down/1:b:1',
    ]);
    client.destroy();
  });

  it('QoS 2 to the client: AMQP_PUBREL accepted before the delivery is settled', async () => {
    const clientId = `qos2-out-${protocolVersion}`;
    const client = await connected(clientId);
    const got = next<[string, Buffer]>(client, 'message');
    bridge.peer.dispose = (e) => (e.subject === 'pubrel' ? 'hold' : 'accept');
    const delivery = await bridge.peer.sendToClient(
      clientId,
      amqpPublish('down/2', 'c', 2, { message_id: 77 }),
    );
    const pubrel = await bridge.peer.waitFor(
      (e): e is MessageEvent => e.kind === 'message' && e.subject === 'pubrel',
    );
    expect(pubrel.address).toBe(`$mqtt.${clientId}.pubrel`);
    expect(pubrel.message.message_id).toBe(77);
    expect(bridge.peer.ofKind('outcome').some((e) => e.deliveryId === delivery.id)).toBe(false);
    pubrel.delivery.accept();
    const outcome = await bridge.peer.waitFor(
      (e): e is OutcomeEvent => e.kind === 'outcome' && e.deliveryId === delivery.id,
    );
    expect(outcome.state).toBe('accepted');
    const [topic, payload] = await got;
    expect(topic).toBe('down/2');
    expect(payload.toString()).toBe('c');
    client.end(true);
  });

  it('pauses the client socket while a topic has no AMQP credit', async () => {
    await bridge.peer.close();
    bridge.peer = await RecordingPeer.start({ topicCredit: 1 });
    bridge.peer.topUpTopicCredit = false;
    await bridge.gw.close();
    bridge.gw = await runGateway({ amqp: { url: bridge.peer.url } });
    const clientId = `paused-${protocolVersion}`;
    const client = await connected(clientId);
    const acks = [1, 2, 3].map((n) => client.publishAsync('slow', `m${n}`, { qos: 1 }));
    const first = await bridge.peer.waitFor((e): e is MessageEvent => isTopicMessage('slow')(e));
    await waitFor(() => bridge.gw.gateway.bridge(clientId)?.stats().paused === true);
    expect(bridge.peer.ofKind('message').filter((e) => e.address === 'slow')).toHaveLength(1);
    bridge.peer.grant(first.link, 5);
    await Promise.all(acks);
    expect(bridge.gw.gateway.bridge(clientId)?.stats().paused).toBe(false);
    expect(
      bridge.peer
        .ofKind('message')
        .filter((e) => e.address === 'slow')
        .map((m) => bodyBytes(m.message).toString()),
    ).toEqual(['m1', 'm2', 'm3']);
    client.end(true);
  });

  it('never gives more credit on the publish address than the client has free window', async () => {
    await bridge.gw.close();
    bridge.gw = await runGateway({ amqp: { url: bridge.peer.url } }, { outboundWindow: 3 });
    const clientId = `window-${protocolVersion}`;
    const { client } = await RawMqttClient.connect(bridge.gw.port, {
      clientId,
      protocolVersion,
      clean: true,
      keepalive: 0,
    });
    const address = publishAddress(clientId);
    await bridge.peer.waitFor(
      (e): e is FlowEvent => e.kind === 'flow' && e.address === address && e.credit > 0,
    );
    const sends = [1, 2, 3, 4, 5].map((n) =>
      bridge.peer.sendToClient(clientId, amqpPublish('w', `m${n}`, 1)),
    );
    await client.next(() => client.publishes().length === 3);
    await client.roundTrip();
    // Three in flight, the window is full: no credit, so the fourth has not been sent.
    expect(client.publishes()).toHaveLength(3);
    expect(bridge.peer.senderFor(address)?.sendable()).toBe(false);
    for (const p of client.publishes()) client.send({ cmd: 'puback', messageId: p.messageId as number });
    await Promise.all(sends);
    await client.next(() => client.publishes().length === 5);
    const credits = bridge.peer.ofKind('flow').filter((e) => e.address === address);
    expect(Math.max(...credits.map((f) => f.credit))).toBeLessThanOrEqual(3);
    client.destroy();
  });
});

describe('bridge publish links', () => {
  const bridge = gatewayOnRecordingPeer({ maxPublishLinksPerClient: 2 });

  it('keeps at most maxPublishLinksPerClient topic links, detaching the least recently used', async () => {
    const client = await bridge.gw.connect({ clientId: 'lru', protocolVersion: 5 });
    await client.publishAsync('one', 'x', { qos: 1 });
    await client.publishAsync('two', 'x', { qos: 1 });
    await client.publishAsync('one', 'x', { qos: 1 });
    await client.publishAsync('three', 'x', { qos: 1 });
    const detach = await bridge.peer.waitFor((e) => e.kind === 'detach' && e.address === 'two');
    expect(detach.kind).toBe('detach');
    expect(bridge.peer.ofKind('detach').some((e) => e.address === 'one')).toBe(false);
    expect(bridge.gw.gateway.bridge('lru')?.stats().publishLinks).toBeLessThanOrEqual(2);
    client.end(true);
  });
});

/** Resolves after a PINGREQ/PINGRESP round trip: everything written before by the server has arrived. */
async function pingRoundTrip(client: import('mqtt').MqttClient): Promise<void> {
  const pong = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no PINGRESP')), 10_000);
    const onPacket = (packet: { cmd: string }): void => {
      if (packet.cmd !== 'pingresp') return;
      clearTimeout(timer);
      client.off('packetreceive', onPacket);
      resolve();
    };
    client.on('packetreceive', onPacket);
  });
  (client as unknown as { _sendPacket(p: object): void })._sendPacket({ cmd: 'pingreq' });
  await pong;
}

/** Waits until `check` holds, re-checking on each turn of the event loop (bounded). */
async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export type { Delivery };

/**
 * The network-to-client path and packet ids, against a recording AMQP peer (rhea) acting as the Subscription
 * service and a raw MQTT client: the AMQP message-id becomes the PUBLISH packet id when it is one, DUP
 * follows delivery-count, other message-ids (or one in flight already) get an id of the endpoint's; a QoS 2
 * delivery is settled on PUBCOMP, after AMQP_PUBREL was accepted; a PUBREL request is answered with PUBREL
 * and accepted on PUBCOMP.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { Message } from 'rhea';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningGateway, runGateway } from './support/harness';
import { RawMqttClient } from './support/raw-client';
import {
  amqpPublish,
  type MessageEvent,
  type OutcomeEvent,
  publishAddress,
  RecordingPeer,
} from './support/recording-peer';

describe.each([4, 5] as const)(
  'bridge deliveries and packet ids (MQTT protocol version %i)',
  (protocolVersion) => {
    let peer: RecordingPeer;
    let gw: RunningGateway;
    const clients: RawMqttClient[] = [];

    beforeEach(async () => {
      peer = await RecordingPeer.start();
      gw = await runGateway({ amqp: { url: peer.url } });
    });

    afterEach(async () => {
      for (const client of clients.splice(0)) client.destroy();
      await gw.close();
      await peer.close();
    });

    async function connected(clientId: string): Promise<RawMqttClient> {
      const { client } = await RawMqttClient.connect(gw.port, {
        clientId,
        protocolVersion,
        clean: true,
        keepalive: 0,
      });
      clients.push(client);
      await peer.waitFor((e) => e.kind === 'attach' && e.address === publishAddress(clientId));
      return client;
    }

    const outcomeOf =
      (id: number) =>
      (e: { kind: string; deliveryId?: number }): e is OutcomeEvent =>
        e.kind === 'outcome' && e.deliveryId === id;
    const publishOf = (payload: string) => (p: { cmd: string; payload?: unknown }) =>
      p.cmd === 'publish' && String(p.payload) === payload;
    const ack = (messageId: number) => ({ cmd: 'puback' as const, messageId });

    it('message-id 1..65535 is the packet id; delivery-count > 0 sets DUP', async () => {
      const clientId = `ids-${protocolVersion}`;
      const client = await connected(clientId);
      const first = await peer.sendToClient(clientId, amqpPublish('d/1', 'first', 1, { message_id: 4321 }));
      const again = await peer.sendToClient(
        clientId,
        amqpPublish('d/1', 'again', 2, { message_id: 65535, delivery_count: 1 }),
      );
      const one = (await client.next(publishOf('first'))) as IPublishPacket;
      const two = (await client.next(publishOf('again'))) as IPublishPacket;
      expect([one.messageId, one.dup, one.qos]).toEqual([4321, false, 1]);
      expect([two.messageId, two.dup, two.qos]).toEqual([65535, true, 2]);
      client.send(ack(4321));
      expect((await peer.waitFor(outcomeOf(first.id))).state).toBe('accepted');
      client.send({ cmd: 'pubrec', messageId: 65535 });
      const pubrel = await peer.waitFor(
        (e): e is MessageEvent => e.kind === 'message' && e.subject === 'pubrel',
      );
      expect(pubrel.message.message_id).toBe(65535);
      expect(peer.ofKind('outcome').some((e) => e.deliveryId === again.id)).toBe(false);
    });

    it('a message-id that is no packet id, or one in flight already, gets an id of the endpoint', async () => {
      const clientId = `fallback-${protocolVersion}`;
      const client = await connected(clientId);
      const named = await peer.sendToClient(
        clientId,
        amqpPublish('d/2', 'named', 1, { message_id: 'order-17' }),
      );
      const first = await peer.sendToClient(clientId, amqpPublish('d/2', 'five', 1, { message_id: 5 }));
      const clash = await peer.sendToClient(clientId, amqpPublish('d/2', 'five again', 1, { message_id: 5 }));
      const zero = await peer.sendToClient(clientId, amqpPublish('d/2', 'zero', 1, { message_id: 0 }));
      const packets = await Promise.all(
        ['named', 'five', 'five again', 'zero'].map((p) => client.next(publishOf(p))),
      );
      const ids = (packets as IPublishPacket[]).map((p) => p.messageId as number);
      expect(ids[1]).toBe(5);
      expect(new Set(ids).size).toBe(4);
      expect(ids.every((id) => id >= 1 && id <= 65535)).toBe(true);
      for (const id of ids) client.send(ack(id));
      for (const delivery of [named, first, clash, zero]) {
        expect((await peer.waitFor(outcomeOf(delivery.id))).state).toBe('accepted');
      }
    });

    it('QoS 2: PUBREC → AMQP_PUBREL; once accepted, PUBREL; the delivery is settled on PUBCOMP', async () => {
      const clientId = `qos2-${protocolVersion}`;
      const client = await connected(clientId);
      peer.dispose = (e) => (e.subject === 'pubrel' ? 'hold' : 'accept');
      const delivery = await peer.sendToClient(
        clientId,
        amqpPublish('d/3', 'exactly once', 2, { message_id: 12 }),
      );
      const publish = (await client.next(publishOf('exactly once'))) as IPublishPacket;
      expect(publish.messageId).toBe(12);
      client.send({ cmd: 'pubrec', messageId: 12 });
      const pubrel = await peer.waitFor(
        (e): e is MessageEvent => e.kind === 'message' && e.subject === 'pubrel',
      );
      expect(pubrel.message.message_id).toBe(12);
      await client.roundTrip();
      expect(client.packets.some((p) => p.cmd === 'pubrel')).toBe(false); // not before the AMQP_PUBREL is accepted
      pubrel.delivery.accept();
      await client.next((p) => p.cmd === 'pubrel' && p.messageId === 12);
      await client.roundTrip();
      expect(peer.ofKind('outcome').some((e) => e.deliveryId === delivery.id)).toBe(false); // held until PUBCOMP
      client.send({ cmd: 'pubcomp', messageId: 12 });
      expect((await peer.waitFor(outcomeOf(delivery.id))).state).toBe('accepted');
    });

    it('a PUBREL request is written as PUBREL and accepted on PUBCOMP; a malformed one is rejected', async () => {
      const clientId = `request-${protocolVersion}`;
      const client = await connected(clientId);
      const request = await peer.sendToClient(clientId, {
        subject: 'pubrel',
        message_id: 300,
        to: 'd/4',
      } as Message);
      await client.next((p) => p.cmd === 'pubrel' && p.messageId === 300);
      await client.roundTrip();
      expect(peer.ofKind('outcome').some((e) => e.deliveryId === request.id)).toBe(false);
      expect(client.publishes()).toEqual([]);
      client.send({ cmd: 'pubcomp', messageId: 300 });
      expect((await peer.waitFor(outcomeOf(request.id))).state).toBe('accepted');

      const bad = await peer.sendToClient(clientId, {
        subject: 'pubrel',
        message_id: 'not-a-packet-id',
      } as Message);
      expect((await peer.waitFor(outcomeOf(bad.id))).state).toBe('rejected');
      await client.roundTrip();
      expect(client.packets.filter((p) => p.cmd === 'pubrel')).toHaveLength(1);
    });
  },
);

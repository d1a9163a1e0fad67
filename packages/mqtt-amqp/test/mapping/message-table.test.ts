/**
 * Every row of the spec's message table, checked on the wire: each mapped message is sent by a rhea client
 * on the link the mapping's link spec describes, to a recording rhea peer, which decodes the raw transfer
 * with rhea's type reader. The tests assert the subject, each field's AMQP type and value, header `durable`,
 * the body section, and the link's name and settle modes as attached.
 */
import {
  controlLink,
  createAddresses,
  decodeClose,
  decodeList,
  decodePubrel,
  decodeSubscribe,
  decodeSubscriptions,
  decodeUnsubscribe,
  decodeWill,
  encodeClose,
  encodeList,
  encodePublish,
  encodePubrel,
  encodeSubscribe,
  encodeSubscriptions,
  encodeUnsubscribe,
  encodeWill,
  encodeWillClear,
  type LinkSpec,
  publishLink,
  pubrelLink,
  subscriptionServiceLink,
  topicLink,
  willLink,
} from '@dragoman/mqtt-amqp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCi } from '../../../../test/support/peers';
import { protonAvailable, protonView, rheaView } from './support/proton';
import { RecordingPeer, WireClient, type WireDelivery, type WireValue, wireMap } from './support/wire-peer';

const addresses = createAddresses();
const CLIENT = 'client-1';

let peer: RecordingPeer;
let client: WireClient;

beforeAll(async () => {
  peer = await RecordingPeer.start();
  client = await WireClient.connect(peer.port);
});

afterAll(async () => {
  await client?.close();
  await peer?.close();
});

/** Attaches the link, sends one message on it, and returns what the peer received. */
async function roundTrip(
  link: LinkSpec,
  message: Parameters<WireClient['send']>[1],
  presettled = false,
): Promise<WireDelivery> {
  await client.attach(link);
  const before = peer.deliveries.length;
  client.send(link, message, presettled);
  const deliveries = await peer.waitForDeliveries(before + 1);
  return deliveries[before]!;
}

const w = (type: string, value: unknown): WireValue => ({ type, value });

function expectLink(
  delivery: WireDelivery,
  link: LinkSpec,
  expected: { name: string; snd: string; rcv: string },
) {
  expect(delivery.link).toEqual({
    name: expected.name,
    role: 'sender',
    address: link.address,
    senderSettleMode: expected.snd,
    receiverSettleMode: expected.rcv,
  });
}

describe('the spec message table on the wire', () => {
  it('AMQP_WILL: subject will, to = will topic, retain and QoS annotations, durable, Data body; link named by client id', async () => {
    const link = willLink(CLIENT, addresses);
    const d = await roundTrip(
      link,
      encodeWill({ topic: 'devices/c1/status', payload: Buffer.from('offline'), qos: 1, retain: true }),
    );
    expectLink(d, link, { name: CLIENT, snd: 'unsettled', rcv: 'first' });
    expect(d.link.address).toBe('$mqtt.willservice');
    expect(d.settled).toBe(false);
    expect(d.wire.properties).toEqual({ to: w('string', 'devices/c1/status'), subject: w('string', 'will') });
    expect(d.wire.messageAnnotations?.entries).toEqual({
      'x-opt-retain-message': w('boolean', true),
      'x-opt-mqtt-qos': w('int', 1),
    });
    expect(d.wire.messageAnnotations?.keyTypes).toEqual(['symbol', 'symbol']);
    expect(d.wire.header?.durable).toEqual(w('boolean', true));
    expect(d.wire.body).toEqual([{ section: 'data', content: w('binary', Buffer.from('offline')) }]);
    expect(d.wire.applicationProperties).toBeUndefined();
    expect(decodeWill(d.message)).toEqual({
      message: { topic: 'devices/c1/status', payload: Buffer.from('offline'), qos: 1, retain: true },
      delayInterval: 0,
    });
  });

  it('AMQP_WILL with QoS 0: durable false, QoS annotation int 0', async () => {
    const link = willLink(CLIENT, addresses);
    const d = await roundTrip(
      link,
      encodeWill({ topic: 'w', payload: Buffer.alloc(0), qos: 0, retain: false }),
    );
    expect(d.wire.header?.durable ?? w('boolean', false)).toEqual(w('boolean', false));
    expect(d.wire.messageAnnotations?.entries).toEqual({
      'x-opt-retain-message': w('boolean', false),
      'x-opt-mqtt-qos': w('int', 0),
    });
    expect(d.wire.body).toEqual([{ section: 'data', content: w('binary', Buffer.alloc(0)) }]);
  });

  it('AMQP_WILL_CLEAR: subject will-clear and nothing else, on the will link', async () => {
    const link = willLink(CLIENT, addresses);
    const d = await roundTrip(link, encodeWillClear());
    expect(d.link.name).toBe(CLIENT);
    // rhea always writes a header, and an amqp-value null for a message without body.
    expect(d.wire.sections).toEqual(['header', 'properties', 'amqp-value']);
    expect(d.wire.properties).toEqual({ subject: w('string', 'will-clear') });
    expect(d.wire.messageAnnotations).toBeUndefined();
    expect(d.wire.body).toEqual([{ section: 'amqp-value', content: w('null', null) }]);
  });

  it('AMQP_LIST: correlation-id = publish address, reply-to = control address, on the SS link', async () => {
    const link = subscriptionServiceLink(CLIENT, addresses);
    const d = await roundTrip(link, encodeList(CLIENT, addresses));
    expectLink(d, link, { name: `${CLIENT}/subscription-service`, snd: 'unsettled', rcv: 'first' });
    expect(d.link.address).toBe('$mqtt.subscriptionservice');
    expect(d.wire.sections).toEqual(['header', 'properties', 'amqp-value']);
    expect(d.wire.properties).toEqual({
      subject: w('string', 'list'),
      'reply-to': w('string', `$mqtt.to.${CLIENT}.control`),
      'correlation-id': w('string', `$mqtt.to.${CLIENT}.publish`),
    });
    expect(decodeList(d.message, addresses)).toEqual({
      clientId: CLIENT,
      replyTo: `$mqtt.to.${CLIENT}.control`,
    });
  });

  it('AMQP_CLOSE: correlation-id = publish address', async () => {
    const link = subscriptionServiceLink(CLIENT, addresses);
    const d = await roundTrip(link, encodeClose(CLIENT, addresses));
    expect(d.wire.properties).toEqual({
      subject: w('string', 'close'),
      'correlation-id': w('string', `$mqtt.to.${CLIENT}.publish`),
    });
    expect(decodeClose(d.message, addresses)).toEqual({ clientId: CLIENT });
  });

  it('AMQP_SUBSCRIBE: message-id = packet id (ulong), body = AMQP map filter → QoS (int)', async () => {
    const link = subscriptionServiceLink(CLIENT, addresses);
    const d = await roundTrip(
      link,
      encodeSubscribe(
        {
          messageId: 42,
          subscriptions: [
            { topic: 'a/+', qos: 1 },
            { topic: 'b/#', qos: 2, nl: true, rap: true, rh: 2 },
            { topic: 'c', qos: 0 },
          ],
          properties: { subscriptionIdentifier: 77 },
        },
        CLIENT,
        addresses,
      ),
    );
    expect(d.wire.properties).toEqual({
      'message-id': w('ulong', 42),
      subject: w('string', 'subscribe'),
      'correlation-id': w('string', `$mqtt.to.${CLIENT}.publish`),
    });
    expect(d.wire.body).toHaveLength(1);
    expect(d.wire.body[0]?.section).toBe('amqp-value');
    const body = wireMap(d.wire.body[0]!.content);
    expect(body.keyTypes).toEqual(['string', 'string', 'string']);
    expect(body.entries).toEqual({ 'a/+': w('int', 1), 'b/#': w('int', 2), c: w('int', 0) });
    // MQTT 5 options ride annotations, so the body stays exactly the spec's map.
    const options = d.wire.messageAnnotations!.entries;
    expect(options['x-opt-mqtt-subscription-identifier']).toEqual(w('uint', 77));
    const perFilter = wireMap(options['x-opt-mqtt-subscription-options']!).entries;
    expect(Object.keys(perFilter)).toEqual(['b/#']);
    expect(wireMap(perFilter['b/#']!).entries).toEqual({
      'no-local': w('boolean', true),
      'retain-as-published': w('boolean', true),
      'retain-handling': w('ubyte', 2),
    });
    expect(decodeSubscribe(d.message, addresses)).toEqual({
      clientId: CLIENT,
      messageId: 42,
      subscriptions: [
        { filter: 'a/+', qos: 1, subscriptionIdentifier: 77 },
        {
          filter: 'b/#',
          qos: 2,
          noLocal: true,
          retainAsPublished: true,
          retainHandling: 2,
          subscriptionIdentifier: 77,
        },
        { filter: 'c', qos: 0, subscriptionIdentifier: 77 },
      ],
    });
  });

  it('AMQP_UNSUBSCRIBE: message-id = packet id, body = AMQP list of filters', async () => {
    const link = subscriptionServiceLink(CLIENT, addresses);
    const d = await roundTrip(
      link,
      encodeUnsubscribe({ messageId: 7, unsubscriptions: ['a/+', 'b/#'] }, CLIENT, addresses),
    );
    expect(d.wire.properties).toEqual({
      'message-id': w('ulong', 7),
      subject: w('string', 'unsubscribe'),
      'correlation-id': w('string', `$mqtt.to.${CLIENT}.publish`),
    });
    expect(d.wire.body).toEqual([
      { section: 'amqp-value', content: w('list', [w('string', 'a/+'), w('string', 'b/#')]) },
    ]);
    expect(decodeUnsubscribe(d.message, addresses)).toEqual({
      clientId: CLIENT,
      messageId: 7,
      filters: ['a/+', 'b/#'],
    });
  });

  it('AMQP_SUBSCRIPTIONS: subject subscriptions, body = AMQP map filter → QoS', async () => {
    // Sent by the SS towards the client's control address; the wire format is the same from any sender.
    const control = controlLink(CLIENT, addresses);
    const ssSide: LinkSpec = { ...control, role: 'sender', name: 'ss-to-control' };
    const d = await roundTrip(
      ssSide,
      encodeSubscriptions(
        new Map([
          ['a/+', { qos: 1 as const }],
          ['x', { qos: 2 as const, subscriptionIdentifier: 5, noLocal: true }],
        ]),
      ),
    );
    expect(d.link.address).toBe(`$mqtt.to.${CLIENT}.control`);
    expect(d.wire.properties).toEqual({ subject: w('string', 'subscriptions') });
    expect(d.wire.body[0]?.section).toBe('amqp-value');
    expect(wireMap(d.wire.body[0]!.content).entries).toEqual({ 'a/+': w('int', 1), x: w('int', 2) });
    expect(decodeSubscriptions(d.message).subscriptions).toEqual(
      new Map([
        ['a/+', { qos: 1 }],
        ['x', { qos: 2, subscriptionIdentifier: 5, noLocal: true }],
      ]),
    );
  });

  it('AMQP_PUBLISH QoS 1: no subject, to = topic, message-id, retain/QoS annotations, durable, delivery-count, Data body', async () => {
    const link = topicLink(CLIENT, 'sensors/t1', 1);
    const { message, presettled, address } = encodePublish({
      topic: 'sensors/t1',
      payload: Buffer.from([1, 2, 3]),
      qos: 1,
      retain: true,
      dup: true,
      messageId: 513,
    });
    expect(address).toBe('sensors/t1');
    const d = await roundTrip(link, message, presettled);
    expectLink(d, link, { name: `${CLIENT}/topic-qos01/sensors/t1`, snd: 'unsettled', rcv: 'first' });
    expect(d.settled).toBe(false);
    expect(d.wire.properties).toEqual({ 'message-id': w('ulong', 513), to: w('string', 'sensors/t1') });
    expect(d.wire.messageAnnotations?.entries).toEqual({
      'x-opt-retain-message': w('boolean', true),
      'x-opt-mqtt-qos': w('int', 1),
    });
    expect(d.wire.header).toEqual({ durable: w('boolean', true), 'delivery-count': w('uint', 1) });
    expect(d.wire.body).toEqual([{ section: 'data', content: w('binary', Buffer.from([1, 2, 3])) }]);
  });

  it('AMQP_PUBLISH QoS 0: durable false, QoS int 0, sent unsettled on the QoS 0/1 link', async () => {
    const link = topicLink(CLIENT, 'sensors/t1', 0);
    const { message, presettled } = encodePublish({
      topic: 'sensors/t1',
      payload: Buffer.from('x'),
      qos: 0,
      retain: false,
    });
    const d = await roundTrip(link, message, presettled);
    expect(d.link.name).toBe(`${CLIENT}/topic-qos01/sensors/t1`);
    expect(d.settled).toBe(false);
    expect(d.wire.properties).toEqual({ to: w('string', 'sensors/t1') });
    expect(d.wire.header?.durable ?? w('boolean', false)).toEqual(w('boolean', false));
    expect(d.wire.messageAnnotations?.entries['x-opt-mqtt-qos']).toEqual(w('int', 0));
  });

  it('AMQP_PUBLISH QoS 2: its own link with receiver settle mode second', async () => {
    const link = topicLink(CLIENT, 'sensors/t1', 2);
    const { message } = encodePublish({
      topic: 'sensors/t1',
      payload: Buffer.from('x'),
      qos: 2,
      retain: false,
      messageId: 9,
    });
    const d = await roundTrip(link, message);
    expectLink(d, link, { name: `${CLIENT}/topic-qos2/sensors/t1`, snd: 'unsettled', rcv: 'second' });
    expect(d.wire.messageAnnotations?.entries['x-opt-mqtt-qos']).toEqual(w('int', 2));
    expect(d.wire.header?.durable).toEqual(w('boolean', true));
  });

  it('AMQP_PUBREL: subject pubrel, message-id of the released AMQP_PUBLISH, on $mqtt.<id>.pubrel', async () => {
    const link = pubrelLink(CLIENT, addresses);
    const d = await roundTrip(link, encodePubrel(513));
    expectLink(d, link, { name: `${CLIENT}/pubrel`, snd: 'unsettled', rcv: 'first' });
    expect(d.link.address).toBe(`$mqtt.${CLIENT}.pubrel`);
    expect(d.wire.properties).toEqual({ 'message-id': w('ulong', 513), subject: w('string', 'pubrel') });
    expect(decodePubrel(d.message)).toEqual({ messageId: 513 });
  });

  it('the receiver links: control and publish at-least-once, publish mixed when asked', async () => {
    for (const link of [
      controlLink(CLIENT, addresses),
      publishLink(CLIENT, addresses),
      publishLink('client-2', addresses, { mixed: true }),
    ]) {
      await client.attach(link);
    }
    const receivers = peer.attaches.filter((a) => a.role === 'receiver');
    expect(receivers).toEqual([
      {
        name: `${CLIENT}/control`,
        role: 'receiver',
        address: `$mqtt.to.${CLIENT}.control`,
        senderSettleMode: 'unsettled',
        receiverSettleMode: 'first',
      },
      {
        name: `${CLIENT}/publish`,
        role: 'receiver',
        address: `$mqtt.to.${CLIENT}.publish`,
        senderSettleMode: 'unsettled',
        receiverSettleMode: 'first',
      },
      {
        name: 'client-2/publish',
        role: 'receiver',
        address: '$mqtt.to.client-2.publish',
        senderSettleMode: 'mixed',
        receiverSettleMode: 'first',
      },
    ]);
  });

  // Skipped only where Python's Qpid Proton binding is not installed; on CI, which installs python3-qpid-proton,
  // it runs anyway and fails without it.
  it.skipIf(!protonAvailable() && !isCi())(
    'Qpid Proton (C) decodes every message above to the same AMQP types as rhea, and reads it as a message',
    () => {
      const deliveries = peer.deliveries;
      expect(deliveries.length).toBeGreaterThanOrEqual(12);
      const views = protonView(deliveries.map((d) => d.raw));
      views.forEach((view, i) => {
        expect(view.sections).toEqual(rheaView(deliveries[i]!.raw));
      });
      // What a Python/Proton consumer of an AMQP_PUBLISH and an AMQP_WILL sees.
      const publish = views[deliveries.findIndex((d) => d.wire.properties?.['message-id']?.value === 513)]!;
      expect(publish.message).toEqual({
        address: 'sensors/t1',
        subject: null,
        durable: true,
        annotationTypes: { 'x-opt-retain-message': 'bool', 'x-opt-mqtt-qos': 'int32' },
        bodyType: 'bytes',
      });
      expect(views[0]!.message).toMatchObject({ subject: 'will', durable: true, bodyType: 'bytes' });
    },
  );
});

/**
 * Decoding messages the gateway did not write: plain AMQP senders (rhea used directly, in its own message
 * format) reaching an MQTT client, and malformed control messages, which must fail with a precise
 * `MappingError` (code and field), never a crash.
 */
import {
  createAddresses,
  decodeControl,
  decodeList,
  decodePublish,
  decodePubrel,
  decodeSubscribe,
  decodeSubscriptions,
  decodeUnsubscribe,
  decodeWill,
  encodeClose,
  encodeList,
  encodePubrel,
  encodeSubscribe,
  encodeSubscriptions,
  encodeUnsubscribe,
  encodeWill,
  encodeWillClear,
  type LinkSpec,
  MappingError,
  publishLink,
} from '@dragoman/mqtt-amqp';
import rhea from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingPeer, WireClient, type WireDelivery } from './support/wire-peer';

const addresses = createAddresses();
const NOW = 1_700_000_000_000;
const now = () => NOW;

describe('messages from plain AMQP senders', () => {
  let peer: RecordingPeer;
  let client: WireClient;
  // A native application sending to a client's publish address (as the SS routes topic messages there).
  const link: LinkSpec = { ...publishLink('dev-1', addresses), role: 'sender', name: 'native-app' };

  beforeAll(async () => {
    peer = await RecordingPeer.start();
    client = await WireClient.connect(peer.port);
    await client.attach(link);
  });

  afterAll(async () => {
    await client?.close();
    await peer?.close();
  });

  async function sendNative(message: Record<string, unknown>, presettled = false): Promise<WireDelivery> {
    const before = peer.deliveries.length;
    client.sendRaw(link, message, presettled);
    return (await peer.waitForDeliveries(before + 1))[before]!;
  }

  it('a string body becomes UTF-8 bytes with payload format indicator 1; no annotations and not durable is QoS 0', async () => {
    const d = await sendNative({ to: 'cmd/dev-1', body: 'reboot ✓' });
    expect(d.wire.body[0]?.section).toBe('amqp-value');
    expect(decodePublish(d.message, { now })).toEqual({
      topic: 'cmd/dev-1',
      payload: Buffer.from('reboot ✓'),
      qos: 0,
      retain: false,
      dup: false,
      messageId: undefined,
      expired: false,
      properties: { payloadFormatIndicator: true },
    });
  });

  it('durable without the QoS annotation is QoS 1 (the spec fallback); a ttl becomes the expiry interval', async () => {
    const d = await sendNative({
      to: 'cmd/dev-1',
      durable: true,
      ttl: 2_500,
      message_id: 'm-1',
      application_properties: { n: 5, ok: true, bin: Buffer.from([1, 2]), when: new Date(0), nothing: null },
      body: rhea.message.data_section(Buffer.from([9, 9])),
    });
    const decoded = decodePublish(d.message, { now });
    expect(decoded).toMatchObject({ qos: 1, payload: Buffer.from([9, 9]), messageId: 'm-1', expired: false });
    expect(decoded.properties).toEqual({
      messageExpiryInterval: 3,
      userProperties: { n: '5', ok: 'true', bin: 'AQI=', when: '1970-01-01T00:00:00.000Z', nothing: '' },
    });
  });

  it('artemis reads a message without mqtt.qos.level as QoS 2; hono reads QoS from the settlement', async () => {
    const d = await sendNative({ to: 'a.b', body: rhea.message.data_section(Buffer.from('x')) }, true);
    expect(d.settled).toBe(true);
    expect(decodePublish(d.message, { dialect: 'artemis' })).toMatchObject({ topic: 'a/b', qos: 2 });
    expect(decodePublish(d.message, { dialect: 'hono', settled: d.settled })).toMatchObject({ qos: 0 });
    expect(decodePublish(d.message, { dialect: 'hono', settled: false })).toMatchObject({ qos: 1 });
    // Settlement unknown: the durable rule.
    expect(decodePublish(d.message, { dialect: 'hono' })).toMatchObject({ qos: 0 });
  });

  it('no `to`: the link address is the topic; a binary amqp-value and a missing body are payloads too', async () => {
    const d = await sendNative({ body: Buffer.from('bin') });
    expect(decodePublish(d.message, { linkAddress: 'fallback/topic' })).toMatchObject({
      topic: 'fallback/topic',
      payload: Buffer.from('bin'),
    });
    expect(() => decodePublish(d.message)).toThrow(
      expect.objectContaining({ name: 'MappingError', code: 'missing-field', field: 'properties.to' }),
    );
    const empty = await sendNative({ to: 't' });
    expect(decodePublish(empty.message).payload).toEqual(Buffer.alloc(0));
  });

  it('an expired message is flagged, not delivered', async () => {
    const d = await sendNative({ to: 't', absolute_expiry_time: new Date(NOW - 1), body: 'late' });
    expect(decodePublish(d.message, { now })).toMatchObject({ expired: true });
    expect(decodePublish(d.message, { now }).properties?.messageExpiryInterval).toBeUndefined();
  });

  it('a map, list or number body, a bad QoS, a bad retain flag, or a topic with wildcards is a MappingError', async () => {
    const map = await sendNative({ to: 't', body: { a: 1 } });
    expect(() => decodePublish(map.message)).toThrow(
      expect.objectContaining({ code: 'unsupported-body', field: 'body' }),
    );
    const list = await sendNative({ to: 't', body: rhea.message.sequence_section([1, 2]) });
    expect(() => decodePublish(list.message)).toThrow(expect.objectContaining({ code: 'unsupported-body' }));
    const number = await sendNative({ to: 't', body: 42 });
    expect(() => decodePublish(number.message)).toThrow(
      expect.objectContaining({ code: 'unsupported-body' }),
    );
    const qos3 = await sendNative({ to: 't', message_annotations: { 'x-opt-mqtt-qos': 3 }, body: 'x' });
    expect(() => decodePublish(qos3.message)).toThrow(
      expect.objectContaining({ code: 'invalid-field', field: 'message-annotations.x-opt-mqtt-qos' }),
    );
    const retain = await sendNative({
      to: 't',
      message_annotations: { 'x-opt-retain-message': 'maybe' },
      body: 'x',
    });
    expect(() => decodePublish(retain.message)).toThrow(
      expect.objectContaining({ code: 'invalid-field', field: 'message-annotations.x-opt-retain-message' }),
    );
    const wildcard = await sendNative({ to: 'a/+', body: 'x' });
    expect(() => decodePublish(wildcard.message)).toThrow(
      expect.objectContaining({ code: 'unmappable-topic' }),
    );
    const azure = await sendNative({ to: 't', application_properties: { 'mqtt-qos': 'high' }, body: 'x' });
    expect(() => decodePublish(azure.message, { dialect: 'azure' })).toThrow(
      expect.objectContaining({ code: 'invalid-field', field: 'application-properties.mqtt-qos' }),
    );
  });

  it("EnMasse's own subscription maps (QoS as decimal strings) are read", async () => {
    const d = await sendNative({
      subject: 'subscribe',
      message_id: 3,
      correlation_id: '$mqtt.to.dev-1.publish',
      body: { 'a/#': '1', b: '0' },
    });
    expect(decodeSubscribe(d.message, addresses)).toEqual({
      clientId: 'dev-1',
      messageId: 3,
      subscriptions: [
        { filter: 'a/#', qos: 1 },
        { filter: 'b', qos: 0 },
      ],
    });
  });
});

describe('control messages: decoding and precise errors', () => {
  it('decodeControl dispatches every subject', () => {
    const subjects = [
      encodeWill({ topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false }),
      encodeWillClear(),
      encodeList('c', addresses),
      encodeSubscriptions([['a', { qos: 1 }]]),
      encodeClose('c', addresses),
      encodeSubscribe({ messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] }, 'c', addresses),
      encodeUnsubscribe({ messageId: 2, unsubscriptions: ['a'] }, 'c', addresses),
      encodePubrel(5),
    ].map((m) => decodeControl(m, addresses).subject);
    expect(subjects).toEqual([
      'will',
      'will-clear',
      'list',
      'subscriptions',
      'close',
      'subscribe',
      'unsubscribe',
      'pubrel',
    ]);
    expect(() => decodeControl({ properties: { to: 'a' } }, addresses)).toThrow(
      expect.objectContaining({ code: 'unexpected-subject', field: 'properties.subject' }),
    );
  });

  it('MQTT 5 will properties: delay and expiry as annotations, the rest as on a publish', () => {
    const encoded = encodeWill({
      topic: 'w/1',
      payload: Buffer.from('gone'),
      qos: 2,
      retain: true,
      properties: {
        willDelayInterval: 30,
        messageExpiryInterval: 600,
        contentType: 'text/plain',
        userProperties: { a: 'b' },
      },
    });
    expect(encoded.header?.ttl).toBeUndefined();
    expect(encoded.properties?.absoluteExpiryTime).toBeUndefined();
    expect(decodeWill(encoded)).toEqual({
      message: {
        topic: 'w/1',
        payload: Buffer.from('gone'),
        qos: 2,
        retain: true,
        properties: { messageExpiryInterval: 600, contentType: 'text/plain', userProperties: { a: 'b' } },
      },
      delayInterval: 30,
    });
  });

  it('wrong subject, missing or foreign correlation-id, wrong body, missing message-id', () => {
    const expectError = (fn: () => unknown, code: string, field: string) => {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MappingError);
      expect(error).toMatchObject({ code, field });
    };
    expectError(
      () => decodeList(encodeClose('c', addresses), addresses),
      'unexpected-subject',
      'properties.subject',
    );
    expectError(
      () => decodeList({ properties: { subject: 'list' } }, addresses),
      'missing-field',
      'properties.correlation-id',
    );
    expectError(
      () => decodeList({ properties: { subject: 'list', correlationId: 'elsewhere' } }, addresses),
      'invalid-field',
      'properties.correlation-id',
    );
    const subscribe = encodeSubscribe(
      { messageId: 1, subscriptions: [{ topic: 'a', qos: 1 }] },
      'c',
      addresses,
    );
    expectError(
      () => decodeSubscribe({ ...subscribe, body: { type: 'value', value: ['a'] } }, addresses),
      'invalid-field',
      'body',
    );
    expectError(
      () => decodeSubscribe({ ...subscribe, body: { type: 'value', value: { a: 7 } } }, addresses),
      'invalid-field',
      'body[a]',
    );
    expectError(
      () => decodeSubscribe({ ...subscribe, body: { type: 'data', data: Buffer.alloc(1) } }, addresses),
      'invalid-field',
      'body',
    );
    const unsubscribe = encodeUnsubscribe({ messageId: 1, unsubscriptions: ['a'] }, 'c', addresses);
    expectError(
      () => decodeUnsubscribe({ ...unsubscribe, body: { type: 'value', value: [1] } }, addresses),
      'invalid-field',
      'body',
    );
    expectError(
      () => decodeSubscriptions({ properties: { subject: 'subscriptions' } }),
      'invalid-field',
      'body',
    );
    expectError(
      () => decodePubrel({ properties: { subject: 'pubrel' } }),
      'missing-field',
      'properties.message-id',
    );
    expectError(
      () => decodeWill({ properties: { subject: 'will' }, body: { type: 'data', data: Buffer.alloc(0) } }),
      'missing-field',
      'properties.to',
    );
  });

  it('reads the client id back from custom address templates, whatever the id contains', () => {
    const custom = createAddresses({ clientPublish: 'clients/{clientId}/in' });
    const id = 'a.b/$mqtt.to.x.publish';
    expect(decodeList(encodeList(id, custom), custom)).toEqual({
      clientId: id,
      replyTo: `$mqtt.to.${id}.control`,
    });
  });
});

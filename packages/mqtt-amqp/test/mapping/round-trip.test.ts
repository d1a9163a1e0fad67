/**
 * MQTT → AMQP → MQTT round trips for every dialect, with fast-check: in memory for many inputs, and through a
 * real AMQP connection (rhea client → recording rhea peer) for fewer. What a dialect does not carry degrades
 * exactly as its `carries` says (e.g. rabbitmq: QoS 2 → 1, no retain, no DUP); everything else survives.
 */

import type { QoS } from '@dragoman/mqtt';
import {
  createAddresses,
  type DecodedPublish,
  DIALECT_NAMES,
  type DialectName,
  decodePublish,
  decodeSubscribe,
  decodeSubscriptions,
  decodeUnsubscribe,
  decodeWill,
  encodePublish,
  encodeSubscribe,
  encodeSubscriptions,
  encodeUnsubscribe,
  encodeWill,
  type LinkSpec,
  type MessageProperties,
  type PublishInput,
  resolveDialect,
  topicLink,
} from '@dragoman/mqtt-amqp';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingPeer, WireClient } from './support/wire-peer';

const NOW = 1_700_000_000_000;
const now = () => NOW;

// Characters that stress the mappings: separators of other systems, percent signs, non-ASCII, a `$`.
const levelChars = (dotted: boolean) =>
  fc.constantFrom(
    ...['a', 'b', 'Z', '0', ' ', '-', '_', '~', '%', '*', '$', 'é', '💡', ...(dotted ? [] : ['.'])],
  );

/** A valid MQTT topic name; for `.`-separated dialects without `.` (they alias it with `/`, as documented). */
const topicArb = (dotted: boolean) =>
  fc
    .array(fc.string({ unit: levelChars(dotted), maxLength: 4 }), { minLength: 1, maxLength: 4 })
    .map((levels) => levels.join('/'))
    .filter((topic) => topic.length > 0);

const userPropertiesArb = fc.dictionary(
  fc.constantFrom('k', 'trace-id', 'ünï', '', 'mqtt-qos', 'mqtt.qos.level', 'x-opt-mqtt-qos'),
  fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.array(fc.string({ maxLength: 4 }), { minLength: 2, maxLength: 3 }),
  ),
  { maxKeys: 4 },
);

const propertiesArb = (dotted: boolean): fc.Arbitrary<MessageProperties> =>
  fc.record(
    {
      payloadFormatIndicator: fc.constant(true),
      messageExpiryInterval: fc.integer({ min: 1, max: 0xffff_ffff }),
      contentType: fc.oneof(
        fc.constantFrom('application/json', 'text/plain; charset=utf-8'),
        fc.string({ maxLength: 8 }),
      ),
      correlationData: fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
      responseTopic: topicArb(dotted),
      userProperties: userPropertiesArb,
      subscriptionIdentifier: fc.oneof(
        fc.integer({ min: 1, max: 268_435_455 }),
        fc.array(fc.integer({ min: 1, max: 268_435_455 }), { minLength: 2, maxLength: 3 }),
      ),
    },
    { requiredKeys: [] },
  );

const publishArb = (dotted: boolean): fc.Arbitrary<PublishInput> =>
  fc
    .record({
      topic: topicArb(dotted),
      payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      qos: fc.constantFrom<QoS>(0, 1, 2),
      retain: fc.boolean(),
      dup: fc.boolean(),
      messageId: fc.integer({ min: 1, max: 65_535 }),
      properties: fc.option(propertiesArb(dotted), { nil: undefined }),
    })
    .map(({ messageId, properties, ...rest }) => ({
      ...rest,
      ...(rest.qos > 0 ? { messageId } : {}),
      ...(properties === undefined ? {} : { properties }),
    }));

const isDotted = (name: DialectName) => name === 'artemis' || name === 'rabbitmq';

/** What the dialect delivers for an input: its documented degradation, and MQTT's own normal forms. */
function expected(name: DialectName, input: PublishInput): DecodedPublish {
  const { carries } = resolveDialect(name);
  const out: DecodedPublish = {
    topic: input.topic,
    payload: input.payload,
    qos: carries.qos === 'all' ? input.qos : (Math.min(input.qos, 1) as QoS),
    retain: carries.retain ? input.retain : false,
    dup: carries.dup ? (input.dup ?? false) : false,
    messageId: input.messageId,
    expired: false,
  };
  const p = input.properties;
  if (p !== undefined && Object.keys(p).length > 0) {
    const props: MessageProperties = { ...p };
    if (p.userProperties !== undefined) {
      if (Object.keys(p.userProperties).length === 0) delete props.userProperties;
    }
    if (Array.isArray(p.subscriptionIdentifier) && p.subscriptionIdentifier.length === 1) {
      props.subscriptionIdentifier = p.subscriptionIdentifier[0];
    }
    if (Object.keys(props).length > 0) out.properties = props;
  }
  return out;
}

describe('round trips in memory', () => {
  for (const name of DIALECT_NAMES) {
    it(`${name}: decode(encode(publish)) keeps what the dialect carries`, () => {
      fc.assert(
        fc.property(publishArb(isDotted(name)), (input) => {
          const encoded = encodePublish(input, { dialect: name, now });
          // The delivery is pre-settled exactly when the dialect asks for it (hono QoS 0).
          const decoded = decodePublish(encoded.message, { dialect: name, now, settled: encoded.presettled });
          expect(decoded).toEqual(expected(name, input));
        }),
        { numRuns: 300 },
      );
    });
  }
});

describe('round trips over an AMQP connection', () => {
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

  for (const name of DIALECT_NAMES) {
    it(`${name}: what arrives on the wire decodes to what was published`, async () => {
      // One link per QoS class, as the bridge attaches them; `to` carries each message's own address.
      const links: Record<'qos01' | 'qos2', LinkSpec> = {
        qos01: { ...topicLink(`rt-${name}`, 'round-trip', 0, { dialect: name }), address: 'round-trip' },
        qos2: { ...topicLink(`rt-${name}`, 'round-trip', 2, { dialect: name }), address: 'round-trip' },
      };
      await client.attach(links.qos01);
      await client.attach(links.qos2);
      await fc.assert(
        fc.asyncProperty(publishArb(isDotted(name)), async (input) => {
          const encoded = encodePublish(input, { dialect: name, now });
          const before = peer.deliveries.length;
          client.send(input.qos === 2 ? links.qos2 : links.qos01, encoded.message, encoded.presettled);
          const delivery = (await peer.waitForDeliveries(before + 1))[before]!;
          expect(delivery.settled).toBe(encoded.presettled);
          const decoded = decodePublish(delivery.message, { dialect: name, now, settled: delivery.settled });
          expect(decoded).toEqual(expected(name, input));
        }),
        { numRuns: 40 },
      );
    });
  }
});

describe('control message round trips in memory', () => {
  const addresses = createAddresses();
  const clientIdArb = fc.string({ unit: levelChars(false), minLength: 1, maxLength: 8 });
  const filterArb = fc
    .tuple(
      fc.array(fc.oneof(fc.string({ unit: levelChars(false), maxLength: 3 }), fc.constant('+')), {
        maxLength: 3,
      }),
      fc.boolean(),
    )
    .map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('/'))
    .filter((f) => f.length > 0);
  const subscriptionArb = fc.record(
    {
      qos: fc.constantFrom<QoS>(0, 1, 2),
      noLocal: fc.constant(true),
      retainAsPublished: fc.constant(true),
      retainHandling: fc.constantFrom<1 | 2>(1, 2),
      subscriptionIdentifier: fc.integer({ min: 1, max: 268_435_455 }),
    },
    { requiredKeys: ['qos'] },
  );

  it('AMQP_WILL: the will and its MQTT 5 properties come back', () => {
    fc.assert(
      fc.property(
        publishArb(false),
        fc.option(fc.integer({ min: 1, max: 0xffff_ffff }), { nil: undefined }),
        (input, delay) => {
          const { dup: _dup, messageId: _id, ...will } = input;
          const { subscriptionIdentifier: _sid, ...properties } = will.properties ?? {};
          const withDelay = {
            ...will,
            properties: { ...properties, ...(delay === undefined ? {} : { willDelayInterval: delay }) },
          };
          const decoded = decodeWill(encodeWill(withDelay));
          expect(decoded.delayInterval).toBe(delay ?? 0);
          const expectedProperties = expected('enmasse', { ...will, properties }).properties;
          expect(decoded.message).toEqual({
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            ...(expectedProperties === undefined ? {} : { properties: expectedProperties }),
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('AMQP_SUBSCRIBE / AMQP_UNSUBSCRIBE / AMQP_SUBSCRIPTIONS: filters, QoS and MQTT 5 options come back', () => {
    fc.assert(
      fc.property(
        clientIdArb,
        fc.integer({ min: 1, max: 65_535 }),
        fc.uniqueArray(fc.tuple(filterArb, subscriptionArb), {
          minLength: 1,
          maxLength: 5,
          selector: ([f]) => f,
        }),
        fc.option(fc.integer({ min: 1, max: 268_435_455 }), { nil: undefined }),
        (clientId, messageId, entries, identifier) => {
          const packet = {
            messageId,
            subscriptions: entries.map(([topic, s]) => ({
              topic,
              qos: s.qos,
              ...(s.noLocal ? { nl: true } : {}),
              ...(s.retainAsPublished ? { rap: true } : {}),
              ...(s.retainHandling === undefined ? {} : { rh: s.retainHandling }),
            })),
            ...(identifier === undefined ? {} : { properties: { subscriptionIdentifier: identifier } }),
          };
          const subscribe = decodeSubscribe(encodeSubscribe(packet, clientId, addresses), addresses);
          expect(subscribe.clientId).toBe(clientId);
          expect(subscribe.messageId).toBe(messageId);
          const byFilter = new Map(subscribe.subscriptions.map(({ filter, ...s }) => [filter, s]));
          for (const [filter, s] of entries) {
            const { subscriptionIdentifier: _ignored, ...options } = s;
            expect(byFilter.get(filter)).toEqual({
              ...options,
              ...(identifier === undefined ? {} : { subscriptionIdentifier: identifier }),
            });
          }
          const filters = entries.map(([f]) => f);
          const unsubscribe = decodeUnsubscribe(
            encodeUnsubscribe({ messageId, unsubscriptions: filters }, clientId, addresses),
            addresses,
          );
          expect(unsubscribe).toEqual({ clientId, messageId, filters });
          const session = new Map(entries);
          expect(decodeSubscriptions(encodeSubscriptions(session)).subscriptions).toEqual(session);
        },
      ),
      { numRuns: 200 },
    );
  });
});

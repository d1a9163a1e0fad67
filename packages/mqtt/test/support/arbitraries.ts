/**
 * fast-check arbitraries for every MQTT packet type, per protocol version, in the normalised shape the
 * decoder returns (optional fields absent rather than undefined; MQTT 5 acknowledgements always carry
 * a reason code).
 */
import fc from 'fast-check';
import type { MqttPacket, ProtocolVersion, PublishPacket, QoS, UserProperties } from '../../src/index';

/** UTF-8 encodable strings without U+0000 (MQTT-1.5.4-2). */
export const mqttString = (maxLength = 12): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', maxLength }).filter((s) => !s.includes('\u0000'));

const nonEmpty = (maxLength = 12) => mqttString(maxLength).filter((s) => s.length > 0);
export const topicName = nonEmpty(20).filter((s) => !/[+#]/.test(s));
const buffer = (maxLength = 32) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.integer({ min: 1, max: 0xffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const varInt = fc.integer({ min: 1, max: 0x0fffffff });

const userProperties: fc.Arbitrary<UserProperties> = fc
  .array(
    fc.tuple(
      mqttString(8).filter((k) => k !== '__proto__'),
      // Repeated names use non-empty values: mqtt-packet 9 (which decodes every packet but PUBLISH, and is
      // the reference for PUBLISH) drops a repeated value that follows an empty one.
      fc.oneof(mqttString(8), fc.array(nonEmpty(8), { minLength: 2, maxLength: 3 })),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((entries) => {
    const out = Object.create(null) as UserProperties;
    for (const [k, v] of entries) out[k] = v;
    return out;
  });

/** A record of optional properties; undefined when empty (an empty property list decodes as absent). */
function props<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T | undefined> {
  return fc
    .record(model, { requiredKeys: [] })
    .map((r) => (Object.keys(r).length > 0 ? (r as T) : undefined));
}

function withOptional<T extends object>(base: T, extra: Record<string, unknown>): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out as unknown as T;
}

const ackProperties = props({ reasonString: mqttString(), userProperties });

export const publishProperties = props({
  payloadFormatIndicator: fc.boolean(),
  messageExpiryInterval: u32,
  topicAlias: fc.integer({ min: 1, max: 0xffff }),
  responseTopic: topicName,
  correlationData: buffer(16),
  userProperties,
  subscriptionIdentifier: fc.oneof(varInt, fc.array(varInt, { minLength: 2, maxLength: 3 })),
  contentType: mqttString(),
});

export function publish(version: ProtocolVersion): fc.Arbitrary<PublishPacket> {
  return fc
    .record({
      topic: topicName,
      payload: buffer(64),
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      messageId: packetId,
      properties: version === 5 ? publishProperties : fc.constant(undefined),
    })
    .map(({ qos: q, dup, messageId, properties, ...rest }) =>
      withOptional<PublishPacket>(
        { cmd: 'publish', ...rest, qos: q, dup: q > 0 && dup },
        { messageId: q > 0 ? messageId : undefined, properties },
      ),
    );
}

function connect(version: ProtocolVersion): fc.Arbitrary<MqttPacket> {
  const v5 = version === 5;
  return fc
    .record({
      clean: fc.boolean(),
      keepalive: u16,
      clientId: version === 3 ? nonEmpty(23) : mqttString(23),
      credentials: fc.option(
        fc.record({ username: mqttString(), password: fc.option(buffer(16), { nil: undefined }) }),
        {
          nil: undefined,
        },
      ),
      will: fc.option(
        fc.record({
          topic: topicName,
          payload: buffer(16),
          qos,
          retain: fc.boolean(),
          properties: v5
            ? props({
                willDelayInterval: u32,
                payloadFormatIndicator: fc.boolean(),
                messageExpiryInterval: u32,
                contentType: mqttString(),
                responseTopic: topicName,
                correlationData: buffer(8),
                userProperties,
              })
            : fc.constant(undefined),
        }),
        { nil: undefined },
      ),
      properties: v5
        ? props({
            sessionExpiryInterval: u32,
            receiveMaximum: fc.integer({ min: 1, max: 0xffff }),
            maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }),
            topicAliasMaximum: u16,
            requestResponseInformation: fc.boolean(),
            requestProblemInformation: fc.boolean(),
            userProperties,
            authenticationMethod: mqttString(),
            authenticationData: buffer(8),
          })
        : fc.constant(undefined),
    })
    .map(({ clean, clientId, credentials, will, properties, keepalive }) => {
      const id = clientId === '' && !clean ? 'id' : clientId;
      return withOptional<MqttPacket>(
        {
          cmd: 'connect',
          protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
          protocolVersion: version,
          clean,
          keepalive,
          clientId: id,
        },
        {
          username: credentials?.username,
          password: credentials?.password,
          will:
            will === undefined
              ? undefined
              : withOptional({ ...will, properties: undefined }, { properties: will.properties }),
          properties,
        },
      );
    });
}

const v5Codes = {
  connack: [0x00, 0x80, 0x81, 0x82, 0x84, 0x85, 0x86, 0x87, 0x88, 0x8a, 0x9f],
  puback: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrel: [0x00, 0x92],
  suback: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
  unsuback: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
  disconnect: [0x00, 0x04, 0x80, 0x81, 0x82, 0x8b, 0x8d, 0x8e, 0x93, 0x94, 0x95, 0xa2],
  auth: [0x00, 0x18, 0x19],
};

function ack(
  cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp',
  version: ProtocolVersion,
): fc.Arbitrary<MqttPacket> {
  if (version !== 5) return packetId.map((messageId) => ({ cmd, messageId }) as MqttPacket);
  const codes = cmd === 'puback' || cmd === 'pubrec' ? v5Codes.puback : v5Codes.pubrel;
  return fc
    .record({ messageId: packetId, reasonCode: fc.constantFrom(...codes), properties: ackProperties })
    .map(({ properties, ...rest }) =>
      withOptional<MqttPacket>({ cmd, ...rest } as MqttPacket, { properties }),
    );
}

export function packet(version: ProtocolVersion): fc.Arbitrary<MqttPacket> {
  const v5 = version === 5;
  const arbitraries: fc.Arbitrary<MqttPacket>[] = [
    connect(version),
    fc
      .record({
        sessionPresent: fc.boolean(),
        code: v5 ? fc.constantFrom(...v5Codes.connack) : fc.integer({ min: 0, max: 5 }),
        properties: v5
          ? props({
              sessionExpiryInterval: u32,
              receiveMaximum: fc.integer({ min: 1, max: 0xffff }),
              maximumQoS: fc.integer({ min: 0, max: 1 }),
              retainAvailable: fc.boolean(),
              maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }),
              assignedClientIdentifier: mqttString(),
              topicAliasMaximum: u16,
              reasonString: mqttString(),
              userProperties,
              wildcardSubscriptionAvailable: fc.boolean(),
              subscriptionIdentifiersAvailable: fc.boolean(),
              sharedSubscriptionAvailable: fc.boolean(),
              serverKeepAlive: u16,
              responseInformation: mqttString(),
              serverReference: mqttString(),
            })
          : fc.constant(undefined),
      })
      .map(({ sessionPresent, code, properties }) =>
        withOptional<MqttPacket>(
          { cmd: 'connack', sessionPresent, ...(v5 ? { reasonCode: code } : { returnCode: code }) },
          { properties },
        ),
      ),
    publish(version),
    ack('puback', version),
    ack('pubrec', version),
    ack('pubrel', version),
    ack('pubcomp', version),
    fc
      .record({
        messageId: packetId,
        subscriptions: fc.array(
          fc.record({
            topic: nonEmpty(16),
            qos,
            nl: fc.boolean(),
            rap: fc.boolean(),
            rh: fc.integer({ min: 0, max: 2 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        properties: v5 ? props({ subscriptionIdentifier: varInt, userProperties }) : fc.constant(undefined),
      })
      .map(({ messageId, subscriptions, properties }) =>
        withOptional<MqttPacket>(
          {
            cmd: 'subscribe',
            messageId,
            subscriptions: subscriptions.map((s) => (v5 ? s : { topic: s.topic, qos: s.qos })),
          },
          { properties },
        ),
      ),
    fc
      .record({
        messageId: packetId,
        granted: fc.array(v5 ? fc.constantFrom(...v5Codes.suback) : fc.constantFrom(0, 1, 2, 0x80), {
          minLength: 1,
          maxLength: 4,
        }),
        properties: v5 ? ackProperties : fc.constant(undefined),
      })
      .map(({ properties, ...rest }) => withOptional<MqttPacket>({ cmd: 'suback', ...rest }, { properties })),
    fc
      .record({
        messageId: packetId,
        unsubscriptions: fc.array(nonEmpty(16), { minLength: 1, maxLength: 4 }),
        properties: v5 ? props({ userProperties }) : fc.constant(undefined),
      })
      .map(({ properties, ...rest }) =>
        withOptional<MqttPacket>({ cmd: 'unsubscribe', ...rest }, { properties }),
      ),
    v5
      ? fc
          .record({
            messageId: packetId,
            granted: fc.array(fc.constantFrom(...v5Codes.unsuback), { minLength: 1, maxLength: 4 }),
            properties: ackProperties,
          })
          .map(({ properties, ...rest }) =>
            withOptional<MqttPacket>({ cmd: 'unsuback', ...rest }, { properties }),
          )
      : packetId.map((messageId) => ({ cmd: 'unsuback', messageId }) as MqttPacket),
    fc.constant({ cmd: 'pingreq' } as MqttPacket),
    fc.constant({ cmd: 'pingresp' } as MqttPacket),
    v5
      ? fc
          .record({
            reasonCode: fc.constantFrom(...v5Codes.disconnect),
            properties: props({
              sessionExpiryInterval: u32,
              reasonString: mqttString(),
              userProperties,
              serverReference: mqttString(),
            }),
          })
          .map(({ properties, reasonCode }) =>
            withOptional<MqttPacket>({ cmd: 'disconnect', reasonCode }, { properties }),
          )
      : fc.constant({ cmd: 'disconnect' } as MqttPacket),
  ];
  if (v5) {
    arbitraries.push(
      fc
        .record({
          reasonCode: fc.constantFrom(...v5Codes.auth),
          properties: props({
            authenticationMethod: mqttString(),
            authenticationData: buffer(8),
            reasonString: mqttString(),
            userProperties,
          }),
        })
        .map(({ properties, reasonCode }) =>
          withOptional<MqttPacket>({ cmd: 'auth', reasonCode }, { properties }),
        ),
    );
  }
  return fc.oneof(...arbitraries);
}

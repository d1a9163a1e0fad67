import type { AmqpBody, AmqpHeader, AmqpMessage, ApplicationPropertyValue } from '@dragoman/amqp';
import { resolveDialect } from '../dialects/index';
import { MappingError } from '../errors';
import type {
  DecodedPublish,
  DecodePublishOptions,
  DeliveryContext,
  Dialect,
  EncodedPublish,
  FlagFields,
  MappingOptions,
  MqttMessage,
  PublishFlags,
  PublishInput,
} from '../types';
import { decodePropertiesWith, encodeProperties } from './properties';

/**
 * MQTT PUBLISH → AMQP_PUBLISH: `to` = the dialect's address for the topic, `message-id` = the packet id (ulong),
 * header `durable` = QoS > 0 (every dialect: it is AMQP's own persistence flag), QoS/retain/DUP as the dialect
 * spells them, MQTT 5 properties on AMQP's fields, body = payload as one Data section. No subject.
 */
export function encodePublish(input: PublishInput, options: MappingOptions = {}): EncodedPublish {
  return encodePublishTo(input.topic, input, input.dup ?? false, input.messageId, options);
}

/**
 * `encodePublish` of `message` to `topic` (its own topic is not read), its DUP flag and packet id given apart:
 * for a caller that has them in another object (the bridge's PUBLISH, every message), so that none is made.
 */
export function encodePublishTo(
  topic: string,
  message: MqttMessage,
  dup: boolean,
  messageId: number | undefined,
  options: MappingOptions = {},
): EncodedPublish {
  const dialect = resolveDialect(options.dialect);
  const address = dialect.topicToAddress(topic);
  const encoded = buildPublish(dialect, address, message, dup, messageId, options.now);
  return { message: encoded, address, presettled: dialect.presettled(message.qos) };
}

/**
 * `encodePublish`'s message alone, for an MQTT message whose DUP flag and packet id come apart (the embedded
 * backend's deliveries, one per message: no input object and no answer object made for it).
 */
export function encodePublishMessage(
  message: MqttMessage,
  dup: boolean,
  messageId: number | undefined,
  options: MappingOptions = {},
): AmqpMessage {
  const dialect = resolveDialect(options.dialect);
  return buildPublish(dialect, dialect.topicToAddress(message.topic), message, dup, messageId, options.now);
}

function buildPublish(
  dialect: Dialect,
  address: string,
  input: MqttMessage,
  dup: boolean,
  messageId: number | undefined,
  clock: (() => number) | undefined,
): AmqpMessage {
  const flags = freshFlags(input.qos > 0);
  WRITTEN.qos = input.qos;
  WRITTEN.retain = input.retain;
  WRITTEN.dup = dup;
  dialect.writeFlags(WRITTEN, flags);
  const header: { -readonly [K in keyof AmqpHeader]: AmqpHeader[K] } = { durable: flags.durable ?? false };
  if (flags.deliveryCount !== undefined) header.deliveryCount = flags.deliveryCount;
  const message: { -readonly [K in keyof AmqpMessage]: AmqpMessage[K] } = { header };

  if (input.properties === undefined || !hasValues(input.properties)) {
    // No MQTT 5 properties (every MQTT 3.1.1 message): only the dialect's flags, in objects of their own.
    message.properties = messageId !== undefined ? { messageId, to: address } : { to: address };
    message.body = { type: 'data', data: input.payload };
    // Handed over when written to: the next call needs new ones.
    const annotations = flags.messageAnnotations;
    if (hasKeys(annotations)) {
      message.messageAnnotations = annotations;
      flags.messageAnnotations = {};
    }
    const applicationProperties = flags.applicationProperties;
    if (hasKeys(applicationProperties)) {
      message.applicationProperties = applicationProperties as Record<string, ApplicationPropertyValue>;
      flags.applicationProperties = {};
    }
    flagsWritten = false;
    return message;
  }

  const now = (clock ?? Date.now)();
  const extra = encodeProperties(input.properties, { dialect, now, expiry: 'amqp' });
  if (extra.ttl !== undefined) header.ttl = extra.ttl;
  message.properties = {
    ...(messageId !== undefined ? { messageId } : {}),
    to: address,
    ...extra.properties,
  };
  message.body = { type: 'data', data: input.payload };
  const annotations = { ...flags.messageAnnotations, ...extra.messageAnnotations };
  const applicationProperties = { ...extra.applicationProperties, ...flags.applicationProperties };
  // Copied from: the next call needs them empty.
  if (hasKeys(flags.messageAnnotations)) flags.messageAnnotations = {};
  if (hasKeys(flags.applicationProperties)) flags.applicationProperties = {};
  flagsWritten = false;
  if (hasKeys(annotations)) message.messageAnnotations = annotations;
  if (hasKeys(applicationProperties)) {
    // Typed numbers (e.g. Artemis' int QoS) are encoded by rhea like any other application-property value.
    message.applicationProperties = applicationProperties as Record<string, ApplicationPropertyValue>;
  }
  return message;
}

/**
 * The dialect's flags of one `encodePublish`, in one object reused by every call: a dialect writes into it
 * synchronously, and `encodePublish` replaces the two maps once it has kept or copied what they hold, so they
 * are empty here (made anew should a dialect, or what follows it, have thrown half-way: `flagsWritten`).
 */
const FLAGS: FlagFields = {
  durable: false,
  deliveryCount: undefined,
  messageAnnotations: {},
  applicationProperties: {},
};

/** What a dialect is asked to write, in one object reused by every call (`writeFlags` reads it at once). */
const WRITTEN: PublishFlags = { qos: 0, retain: false, dup: false };

/** `FLAGS` was handed to a dialect and its maps have not been dealt with since (set until `buildPublish` ends). */
let flagsWritten = false;

function freshFlags(durable: boolean): FlagFields {
  FLAGS.durable = durable;
  FLAGS.deliveryCount = undefined;
  if (flagsWritten) {
    // The last call stopped half-way: its maps may hold what it wrote.
    if (hasKeys(FLAGS.messageAnnotations)) FLAGS.messageAnnotations = {};
    if (hasKeys(FLAGS.applicationProperties)) FLAGS.applicationProperties = {};
  }
  flagsWritten = true;
  return FLAGS;
}

/** Whether some own enumerable key has a value other than undefined (an empty `{}` carries nothing). */
function hasValues(object: Readonly<Record<string, unknown>>): boolean {
  for (const key in object) if (Object.hasOwn(object, key) && object[key] !== undefined) return true;
  return false;
}

/** Whether the object has an own enumerable key (without building the list of keys). */
function hasKeys(object: Readonly<Record<string, unknown>>): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}

/**
 * AMQP_PUBLISH (from the gateway or from any AMQP sender) → MQTT terms. The topic is read from `to` (else where
 * the dialect's system keeps it, else the link's address), QoS/retain/DUP as the dialect spells them (with its fallback when absent), the MQTT 5
 * properties from AMQP's fields. The payload is the Data section; an amqp-value string (what most AMQP clients
 * send) becomes its UTF-8 bytes with payload format indicator 1, a binary amqp-value its bytes, no body an empty
 * payload. Throws `MappingError` for anything else (map, list, number bodies; a missing or unmappable `to`).
 */
export function decodePublish(message: AmqpMessage, options: DecodePublishOptions = {}): DecodedPublish {
  return decodePublishWith(
    message,
    resolveDialect(options.dialect),
    (options.now ?? Date.now)(),
    options.settled,
    options.linkAddress,
  );
}

/**
 * `decodePublish` with its options given one by one (the dialect resolved, the clock read): for the codecs,
 * which decode every message and would otherwise make an options object for each.
 */
export function decodePublishWith(
  message: AmqpMessage,
  dialect: Dialect,
  now: number,
  settled: boolean | undefined,
  linkAddress: string | undefined,
): DecodedPublish {
  const to = message.properties?.to;
  const topic =
    to !== undefined
      ? dialect.addressToTopic(to)
      : (dialect.topicOf?.(message) ??
        (linkAddress !== undefined ? dialect.addressToTopic(linkAddress) : undefined));
  if (topic === undefined) {
    throw new MappingError('missing-field', 'AMQP_PUBLISH has no `to` and no link address', {
      field: 'properties.to',
    });
  }
  const flags = dialect.readFlags(message, deliveryContext(settled));
  const body = message.body;
  const payload = payloadOf(body);
  const utf8 = body?.type === 'value' && typeof body.value === 'string';
  const decoded = decodePropertiesWith(message, dialect, now);
  let properties = decoded.properties;
  if (utf8 && properties?.payloadFormatIndicator !== true) {
    properties = { ...properties, payloadFormatIndicator: true };
  }
  const result: DecodedPublish = {
    topic,
    payload,
    qos: flags.qos,
    retain: flags.retain,
    dup: flags.dup,
    messageId: message.properties?.messageId,
    expired: decoded.expired,
  };
  if (properties !== undefined) result.properties = properties;
  return result;
}

/** What the dialect is told about a delivery: one frozen object per case, not one per message. */
const DELIVERY_CONTEXTS = {
  unknown: Object.freeze({}),
  settled: Object.freeze({ settled: true }),
  unsettled: Object.freeze({ settled: false }),
} as const;

function deliveryContext(settled: boolean | undefined): DeliveryContext {
  if (settled === undefined) return DELIVERY_CONTEXTS.unknown;
  return settled ? DELIVERY_CONTEXTS.settled : DELIVERY_CONTEXTS.unsettled;
}

/** The MQTT payload of a body (a string amqp-value as its UTF-8 bytes). */
function payloadOf(body: AmqpBody | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (body.type === 'data') return body.data;
  if (body.type === 'value') {
    const value = body.value;
    if (value === null || value === undefined) return Buffer.alloc(0);
    if (typeof value === 'string') return Buffer.from(value, 'utf8');
    if (Buffer.isBuffer(value)) return value;
    if (value instanceof Uint8Array) return Buffer.from(value);
  }
  throw new MappingError('unsupported-body', `an AMQP ${describeBody(body)} body has no MQTT payload`, {
    field: 'body',
  });
}

function describeBody(body: AmqpBody): string {
  if (body.type === 'sequence') return 'amqp-sequence';
  const value = body.type === 'value' ? body.value : undefined;
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'map';
  return `${typeof value} value`;
}

/**
 * Message annotation on an AMQP_PUBLISH of a QoS 2 PUBLISH (beyond the original design): `explicit` asks the
 * receiver to remember (client id, packet id, content) after the sender has settled the delivery, until an
 * AMQP_PUBLISH_RELEASED for that packet id arrives. The front end settles such a delivery as soon as the
 * receiver's outcome arrives (instead of holding it until PUBREL), so that a client that pipelines many QoS 2
 * PUBLISHes ahead of its PUBRELs holds no AMQP delivery while it does. A receiver that does not know the
 * annotation forgets at settlement: at worst a re-send after a reconnect is routed twice, never a loss.
 */
export const RELEASE_ANNOTATION = 'x-opt-mqtt-release';
export const EXPLICIT_RELEASE = 'explicit';

/** `message` with the explicit-release annotation (a copy; the original is left as it is). */
export function withExplicitRelease(message: AmqpMessage): AmqpMessage {
  return {
    ...message,
    messageAnnotations: { ...message.messageAnnotations, [RELEASE_ANNOTATION]: EXPLICIT_RELEASE },
  };
}

/** Whether the AMQP_PUBLISH asks to be remembered until AMQP_PUBLISH_RELEASED (see `RELEASE_ANNOTATION`). */
export function releasesExplicitly(message: AmqpMessage): boolean {
  return message.messageAnnotations?.[RELEASE_ANNOTATION] === EXPLICIT_RELEASE;
}

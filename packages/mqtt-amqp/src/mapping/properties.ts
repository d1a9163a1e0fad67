/**
 * MQTT 5 message properties ⇄ AMQP's own fields (docs/mqtt-over-amqp-mapping.md, "MQTT 5 properties").
 */
import type { AmqpMessage, AmqpProperties } from '@dragoman/amqp';
import type { UserProperties } from '@dragoman/mqtt';
import type { Dialect, MessageProperties } from '../types';
import { amqpUint, booleanOf, integerOf } from './amqp-values';
import { ANNOTATIONS } from './subjects';

/** AMQP `ttl` is a uint of milliseconds: intervals above this many seconds only travel as absolute expiry. */
const MAX_TTL_SECONDS = Math.floor(0xffff_ffff / 1000);

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as a string when they are UTF-8 without NUL (so they read back byte for byte), else undefined. */
function utf8Text(bytes: Buffer): string | undefined {
  try {
    const text = strictUtf8.decode(bytes);
    return text.includes('\0') ? undefined : text;
  } catch {
    return undefined;
  }
}

/** AMQP fields written for a set of MQTT 5 properties. */
export interface EncodedProperties {
  ttl?: number;
  properties: { -readonly [K in keyof AmqpProperties]?: AmqpProperties[K] };
  messageAnnotations: Record<string, unknown>;
  applicationProperties: Record<string, unknown>;
}

export interface EncodePropertiesOptions {
  dialect: Dialect;
  now: number;
  /**
   * `amqp`: message expiry as `absolute-expiry-time` and `ttl` (a published message: AMQP nodes expire it).
   * `annotation`: as `x-opt-mqtt-message-expiry-interval` (a will, whose expiry counts from publication).
   */
  expiry: 'amqp' | 'annotation';
}

export function encodeProperties(
  properties: MessageProperties | undefined,
  options: EncodePropertiesOptions,
): EncodedProperties {
  const out: EncodedProperties = { properties: {}, messageAnnotations: {}, applicationProperties: {} };
  if (properties === undefined) return out;
  if (properties.payloadFormatIndicator === true)
    out.messageAnnotations[ANNOTATIONS.payloadFormatIndicator] = true;

  const expiry = properties.messageExpiryInterval;
  if (expiry !== undefined) {
    if (options.expiry === 'annotation') {
      out.messageAnnotations[ANNOTATIONS.messageExpiryInterval] = amqpUint(expiry);
    } else {
      out.properties.absoluteExpiryTime = new Date(options.now + expiry * 1000);
      if (expiry <= MAX_TTL_SECONDS) out.ttl = expiry * 1000;
    }
  }

  const contentType = properties.contentType;
  if (contentType !== undefined) {
    if (PRINTABLE_ASCII.test(contentType)) out.properties.contentType = contentType;
    else out.messageAnnotations[ANNOTATIONS.contentType] = contentType;
  }

  const correlation = properties.correlationData;
  if (correlation !== undefined) {
    // A Buffer message id is written as a 16-byte uuid by rhea, so binary correlation data rides an annotation.
    const text = utf8Text(correlation);
    if (text !== undefined) out.properties.correlationId = text;
    else out.messageAnnotations[ANNOTATIONS.correlationData] = Buffer.from(correlation);
  }

  if (properties.responseTopic !== undefined) {
    out.properties.replyTo = options.dialect.topicToAddress(properties.responseTopic);
  }

  if (properties.userProperties !== undefined)
    encodeUserProperties(properties.userProperties, options.dialect, out);

  const identifiers = properties.subscriptionIdentifier;
  if (identifiers !== undefined) {
    const list = Array.isArray(identifiers) ? identifiers : [identifiers];
    if (list.length > 0) out.messageAnnotations[ANNOTATIONS.subscriptionIdentifiers] = list.map(amqpUint);
  }
  return out;
}

/**
 * User properties become application properties (AMQP consumers see them natively). AMQP application
 * properties are a map of unique names, so when a name repeats (MQTT allows it) or is one the dialect uses
 * itself, the complete ordered list also travels in `x-opt-mqtt-user-properties`; the application property
 * then holds the first value (and a reserved name is left out).
 */
function encodeUserProperties(user: UserProperties, dialect: Dialect, out: EncodedProperties): void {
  const reserved = reservedNames(dialect);
  let needsList = false;
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(user)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) continue;
    if (values.length > 1 || reserved.has(name)) needsList = true;
    if (!reserved.has(name)) out.applicationProperties[name] = values[0];
    for (const v of values) pairs.push([name, v]);
  }
  if (needsList) out.messageAnnotations[ANNOTATIONS.userProperties] = pairs;
}

export interface DecodedProperties {
  properties: MessageProperties | undefined;
  /** The message's expiry time has passed. */
  expired: boolean;
}

export interface DecodePropertiesOptions {
  dialect: Dialect;
  now: number;
}

const NO_FIELDS: Readonly<Record<string, unknown>> = Object.freeze({});

/** The dialect's reserved application-property names as a set, built once per dialect. */
const reservedSets = new WeakMap<Dialect, ReadonlySet<string>>();
function reservedNames(dialect: Dialect): ReadonlySet<string> {
  let names = reservedSets.get(dialect);
  if (names === undefined) {
    names = new Set(dialect.reservedApplicationProperties);
    reservedSets.set(dialect, names);
  }
  return names;
}

export function decodeProperties(message: AmqpMessage, options: DecodePropertiesOptions): DecodedProperties {
  return decodePropertiesWith(message, options.dialect, options.now);
}

/**
 * `decodeProperties` with its options given one by one: for `decodePublishWith`, which runs twice per message
 * (the embedded backend's and the bridge's decode) and would otherwise make an options object each time. The
 * properties object is only made once a property is found (most messages carry none).
 */
export function decodePropertiesWith(message: AmqpMessage, dialect: Dialect, now: number): DecodedProperties {
  const annotations = message.messageAnnotations ?? NO_FIELDS;
  const amqp: AmqpProperties = message.properties ?? NO_FIELDS;
  let out: MessageProperties | undefined;
  let expired = false;

  if (booleanOf(annotations[ANNOTATIONS.payloadFormatIndicator]) === true) {
    out ??= {};
    out.payloadFormatIndicator = true;
  }

  const remainingMs = remainingLifetime(message, now);
  if (remainingMs !== undefined) {
    if (remainingMs <= 0) expired = true;
    else {
      out ??= {};
      out.messageExpiryInterval = Math.ceil(remainingMs / 1000);
    }
  } else {
    const interval = integerOf(annotations[ANNOTATIONS.messageExpiryInterval]);
    if (interval !== undefined && interval >= 0) {
      out ??= {};
      out.messageExpiryInterval = interval;
    }
  }

  const contentType = amqp.contentType ?? annotations[ANNOTATIONS.contentType];
  if (typeof contentType === 'string') {
    out ??= {};
    out.contentType = contentType;
  }

  const correlation = correlationBytes(annotations[ANNOTATIONS.correlationData] ?? amqp.correlationId);
  if (correlation !== undefined) {
    out ??= {};
    out.correlationData = correlation;
  }

  if (amqp.replyTo !== undefined) {
    // A reply-to that is no topic address of the dialect (a temporary queue, another exchange) is not an
    // MQTT response topic: it is left out rather than failing the whole message.
    try {
      const responseTopic = dialect.addressToTopic(amqp.replyTo);
      out ??= {};
      out.responseTopic = responseTopic;
    } catch {}
  }

  const user = decodeUserProperties(message, dialect);
  if (user !== undefined) {
    out ??= {};
    out.userProperties = user;
  }

  const identifiers = annotations[ANNOTATIONS.subscriptionIdentifiers];
  if (Array.isArray(identifiers)) {
    const list = identifiers.map(integerOf).filter((n): n is number => n !== undefined && n > 0);
    if (list.length === 1) {
      out ??= {};
      out.subscriptionIdentifier = list[0]!;
    } else if (list.length > 1) {
      out ??= {};
      out.subscriptionIdentifier = list;
    }
  }

  if (!expired && out === undefined) return NOTHING_DECODED; // most messages: one answer for all of them
  return { properties: out, expired };
}

const NOTHING_DECODED: DecodedProperties = Object.freeze({ properties: undefined, expired: false });

/** Milliseconds the message has left: `absolute-expiry-time` first, else `ttl` (counted from arrival). */
function remainingLifetime(message: AmqpMessage, now: number): number | undefined {
  const absolute = message.properties?.absoluteExpiryTime;
  if (absolute instanceof Date) return absolute.getTime() - now;
  const ttl = message.header?.ttl;
  if (typeof ttl === 'number') return ttl;
  return undefined;
}

function correlationBytes(value: unknown): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return Buffer.from(String(value), 'utf8');
  return undefined;
}

function decodeUserProperties(message: AmqpMessage, dialect: Dialect): UserProperties | undefined {
  const list = message.messageAnnotations?.[ANNOTATIONS.userProperties];
  const applicationProperties = message.applicationProperties;
  if (!Array.isArray(list) && applicationProperties === undefined) return undefined;
  const out: UserProperties = {};
  if (Array.isArray(list)) {
    for (const pair of list) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string') continue;
      addUserProperty(out, pair[0], stringOf(pair[1]));
    }
  } else if (applicationProperties !== undefined) {
    const reserved = reservedNames(dialect);
    for (const [name, value] of Object.entries(applicationProperties)) {
      if (!reserved.has(name)) addUserProperty(out, name, stringOf(value));
    }
  }
  return hasKeys(out) ? out : undefined;
}

/** Whether the object has an own enumerable key (without building the list of keys). */
function hasKeys(object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}

function addUserProperty(out: UserProperties, name: string, value: string): void {
  const existing = out[name];
  if (existing === undefined) out[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else out[name] = [existing, value];
}

/** An application-property value as a user-property string. */
function stringOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

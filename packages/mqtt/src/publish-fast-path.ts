/**
 * Hand-written decoding and encoding of PUBLISH, the one packet on the hot path. Everything else goes
 * through mqtt-packet. Differentially tested against mqtt-packet (test/publish-fast-path.test.ts).
 */
import { isUtf8 } from 'node:buffer';
import { MqttProtocolError } from './errors';
import { ReasonCode } from './reason-codes';
import type { ProtocolVersion, PublishPacket, PublishProperties, QoS, UserProperties } from './types';

const PROP_PAYLOAD_FORMAT_INDICATOR = 0x01;
const PROP_MESSAGE_EXPIRY_INTERVAL = 0x02;
const PROP_CONTENT_TYPE = 0x03;
const PROP_RESPONSE_TOPIC = 0x08;
const PROP_CORRELATION_DATA = 0x09;
const PROP_SUBSCRIPTION_IDENTIFIER = 0x0b;
const PROP_TOPIC_ALIAS = 0x23;
const PROP_USER_PROPERTY = 0x26;

function malformed(message: string): MqttProtocolError {
  return new MqttProtocolError(`malformed PUBLISH: ${message}`, ReasonCode.MalformedPacket);
}

function protocolError(message: string): MqttProtocolError {
  return new MqttProtocolError(`PUBLISH: ${message}`, ReasonCode.ProtocolError);
}

/** Decodes a UTF-8 string field, rejecting ill-formed UTF-8 and U+0000 (MQTT-1.5.4-1, -2). */
export function readUtf8(buf: Buffer, start: number, end: number, what: string): string {
  // ASCII fast path: one pass over the bytes, no validation call for the common case.
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0) throw malformed(`${what} contains U+0000`);
    if (b > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return buf.toString('latin1', start, end);
  const bytes = buf.subarray(start, end);
  if (!isUtf8(bytes)) throw malformed(`${what} is not valid UTF-8`);
  if (bytes.includes(0)) throw malformed(`${what} contains U+0000`);
  return buf.toString('utf8', start, end);
}

function addUserProperty(target: UserProperties, name: string, value: string): void {
  const existing = target[name];
  if (existing === undefined) target[name] = value;
  else if (typeof existing === 'string') target[name] = [existing, value];
  else existing.push(value);
}

/** True when `buf[start, end)` is `text` written in ASCII (so decoding the bytes would give `text` again). */
function isAsciiOf(buf: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80 || b !== text.charCodeAt(i - start)) return false;
  }
  return true;
}

/**
 * Decodes the PUBLISH whose first byte is `buf[start]` and whose body is `buf[bodyStart, end)`.
 * The payload is a view of `buf` (no copy). `previousTopic`: the topic of the connection's previous PUBLISH;
 * when this one has the same ASCII topic, it gets the same string (no new string per message, and whoever
 * looks the topic up in a Map finds its hash already computed).
 */
export function decodePublish(
  buf: Buffer,
  start: number,
  bodyStart: number,
  end: number,
  version: ProtocolVersion,
  previousTopic = '',
): PublishPacket {
  const first = buf[start]!;
  const qos = ((first >> 1) & 0x03) as QoS;
  const dup = (first & 0x08) !== 0;
  const retain = (first & 0x01) !== 0;
  let pos = bodyStart;
  if (pos + 2 > end) throw malformed('truncated topic length');
  const topicLength = (buf[pos]! << 8) | buf[pos + 1]!;
  pos += 2;
  if (pos + topicLength > end) throw malformed('topic longer than the packet');
  const topic =
    topicLength > 0 && isAsciiOf(buf, pos, pos + topicLength, previousTopic)
      ? previousTopic
      : readUtf8(buf, pos, pos + topicLength, 'topic');
  pos += topicLength;
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > end) throw malformed('truncated packet identifier');
    messageId = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
    if (messageId === 0) throw protocolError('packet identifier 0');
  }
  let properties: PublishProperties | undefined;
  if (version === 5) {
    // Property length: variable byte integer.
    let propertiesLength = 0;
    let multiplier = 1;
    for (let i = 0; ; i++) {
      if (i === 4) throw malformed('property length longer than 4 bytes');
      if (pos >= end) throw malformed('truncated property length');
      const b = buf[pos++]!;
      propertiesLength += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) break;
      multiplier *= 128;
    }
    if (propertiesLength > 0) {
      const propertiesEnd = pos + propertiesLength;
      if (propertiesEnd > end) throw malformed('properties longer than the packet');
      properties = decodePublishProperties(buf, pos, propertiesEnd);
      pos = propertiesEnd;
    }
  }
  const packet: PublishPacket = {
    cmd: 'publish',
    topic,
    payload: buf.subarray(pos, end),
    qos,
    retain,
    dup,
  };
  if (messageId !== undefined) packet.messageId = messageId;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodePublishProperties(buf: Buffer, pos: number, end: number): PublishProperties {
  const p: PublishProperties = {};
  const need = (n: number): void => {
    if (pos + n > end) throw malformed('truncated property');
  };
  const readString = (what: string): string => {
    need(2);
    const len = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
    need(len);
    const s = readUtf8(buf, pos, pos + len, what);
    pos += len;
    return s;
  };
  const once = (present: boolean, what: string): void => {
    if (present) throw protocolError(`property ${what} included twice`);
  };
  while (pos < end) {
    const id = buf[pos++]!;
    switch (id) {
      case PROP_PAYLOAD_FORMAT_INDICATOR: {
        once(p.payloadFormatIndicator !== undefined, 'payload format indicator');
        need(1);
        const v = buf[pos++]!;
        if (v > 1) throw protocolError('payload format indicator must be 0 or 1');
        p.payloadFormatIndicator = v === 1;
        break;
      }
      case PROP_MESSAGE_EXPIRY_INTERVAL:
        once(p.messageExpiryInterval !== undefined, 'message expiry interval');
        need(4);
        p.messageExpiryInterval = buf.readUInt32BE(pos);
        pos += 4;
        break;
      case PROP_CONTENT_TYPE:
        once(p.contentType !== undefined, 'content type');
        p.contentType = readString('content type');
        break;
      case PROP_RESPONSE_TOPIC:
        once(p.responseTopic !== undefined, 'response topic');
        p.responseTopic = readString('response topic');
        break;
      case PROP_CORRELATION_DATA: {
        once(p.correlationData !== undefined, 'correlation data');
        need(2);
        const len = (buf[pos]! << 8) | buf[pos + 1]!;
        pos += 2;
        need(len);
        p.correlationData = buf.subarray(pos, pos + len);
        pos += len;
        break;
      }
      case PROP_SUBSCRIPTION_IDENTIFIER: {
        let value = 0;
        let multiplier = 1;
        for (let i = 0; ; i++) {
          if (i === 4) throw malformed('subscription identifier longer than 4 bytes');
          need(1);
          const b = buf[pos++]!;
          value += (b & 0x7f) * multiplier;
          if ((b & 0x80) === 0) break;
          multiplier *= 128;
        }
        if (value === 0) throw protocolError('subscription identifier 0');
        const existing = p.subscriptionIdentifier;
        if (existing === undefined) p.subscriptionIdentifier = value;
        else if (typeof existing === 'number') p.subscriptionIdentifier = [existing, value];
        else existing.push(value);
        break;
      }
      case PROP_TOPIC_ALIAS:
        once(p.topicAlias !== undefined, 'topic alias');
        need(2);
        p.topicAlias = (buf[pos]! << 8) | buf[pos + 1]!;
        pos += 2;
        break;
      case PROP_USER_PROPERTY: {
        const name = readString('user property name');
        const value = readString('user property value');
        if (p.userProperties === undefined) p.userProperties = Object.create(null) as UserProperties;
        addUserProperty(p.userProperties, name, value);
        break;
      }
      default:
        throw malformed(`property 0x${id.toString(16)} is not allowed in PUBLISH`);
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

function varIntSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

function writeVarInt(buf: Buffer, pos: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[pos++] = b;
  } while (n > 0);
  return pos;
}

function invalid(message: string): RangeError {
  return new RangeError(`cannot encode PUBLISH: ${message}`);
}

function checkUint(value: unknown, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw invalid(`${what} must be an integer from 0 to ${max}`);
  }
  return value;
}

/** Size in bytes of the encoded properties (without their length prefix). Mirrors writeProperties. */
function publishPropertiesSize(p: PublishProperties): number {
  let size = 0;
  for (const name in p) {
    const value = p[name as keyof PublishProperties];
    if (value === undefined || value === null) continue;
    switch (name) {
      case 'payloadFormatIndicator':
        size += 2;
        break;
      case 'messageExpiryInterval':
        checkUint(value, 0xffffffff, name);
        size += 5;
        break;
      case 'topicAlias':
        checkUint(value, 0xffff, name);
        size += 3;
        break;
      case 'contentType':
      case 'responseTopic':
        size += 3 + Buffer.byteLength(value as string);
        break;
      case 'correlationData':
        if (!Buffer.isBuffer(value)) throw invalid('correlationData must be a Buffer');
        size += 3 + value.length;
        break;
      case 'subscriptionIdentifier':
        for (const id of Array.isArray(value) ? value : [value as number]) {
          size += 1 + varIntSize(checkUint(id, 0x0fffffff, name));
        }
        break;
      case 'userProperties':
        for (const key of Object.getOwnPropertyNames(value)) {
          const v = (value as UserProperties)[key]!;
          const keyLength = Buffer.byteLength(key);
          for (const one of Array.isArray(v) ? v : [v]) size += 5 + keyLength + Buffer.byteLength(one);
        }
        break;
      default:
        throw invalid(`unknown property ${name}`);
    }
  }
  return size;
}

function writeString(buf: Buffer, pos: number, s: string): number {
  const len = buf.write(s, pos + 2);
  buf[pos] = len >> 8;
  buf[pos + 1] = len & 0xff;
  return pos + 2 + len;
}

function writePublishProperties(buf: Buffer, pos: number, p: PublishProperties): number {
  for (const name in p) {
    const value = p[name as keyof PublishProperties];
    if (value === undefined || value === null) continue;
    switch (name) {
      case 'payloadFormatIndicator':
        buf[pos++] = PROP_PAYLOAD_FORMAT_INDICATOR;
        buf[pos++] = value ? 1 : 0;
        break;
      case 'messageExpiryInterval':
        buf[pos++] = PROP_MESSAGE_EXPIRY_INTERVAL;
        pos = buf.writeUInt32BE(value as number, pos);
        break;
      case 'topicAlias':
        buf[pos++] = PROP_TOPIC_ALIAS;
        pos = buf.writeUInt16BE(value as number, pos);
        break;
      case 'contentType':
        buf[pos++] = PROP_CONTENT_TYPE;
        pos = writeString(buf, pos, value as string);
        break;
      case 'responseTopic':
        buf[pos++] = PROP_RESPONSE_TOPIC;
        pos = writeString(buf, pos, value as string);
        break;
      case 'correlationData': {
        const data = value as Buffer;
        buf[pos++] = PROP_CORRELATION_DATA;
        pos = buf.writeUInt16BE(data.length, pos);
        pos += data.copy(buf, pos);
        break;
      }
      case 'subscriptionIdentifier':
        for (const id of Array.isArray(value) ? value : [value as number]) {
          buf[pos++] = PROP_SUBSCRIPTION_IDENTIFIER;
          pos = writeVarInt(buf, pos, id);
        }
        break;
      case 'userProperties':
        for (const key of Object.getOwnPropertyNames(value)) {
          const v = (value as UserProperties)[key]!;
          for (const one of Array.isArray(v) ? v : [v]) {
            buf[pos++] = PROP_USER_PROPERTY;
            pos = writeString(buf, pos, key);
            pos = writeString(buf, pos, one);
          }
        }
        break;
    }
  }
  return pos;
}

/** Max remaining length a fixed header can express (268 435 455 bytes). */
export const MAX_REMAINING_LENGTH = 0x0fffffff;

/** What measurePublish found, for the writeMeasuredPublish that follows it (no object per packet). */
let measuredTopicLength = 0;
let measuredRemainingLength = 0;
let measuredPropertiesSize = 0;

/**
 * The size in bytes of the PUBLISH with these fields, after checking that it can be encoded (RangeError if
 * not). The properties count for MQTT 5 only. Call writePublishFields next, with the same fields.
 */
export function measurePublishFields(
  topic: string,
  payload: Buffer,
  qos: QoS,
  messageId: number | undefined,
  properties: PublishProperties | undefined,
  version: ProtocolVersion,
): number {
  if (qos !== 0 && qos !== 1 && qos !== 2) throw invalid('qos must be 0, 1 or 2');
  if (typeof topic !== 'string') throw invalid('topic must be a string');
  const topicLength = Buffer.byteLength(topic);
  if (topicLength > 0xffff) throw invalid('topic longer than 65535 bytes');
  let length = 2 + topicLength + payload.length;
  if (qos > 0) {
    checkUint(messageId, 0xffff, 'messageId');
    length += 2;
  }
  let propertiesSize = 0;
  if (version === 5) {
    propertiesSize = properties ? publishPropertiesSize(properties) : 0;
    length += varIntSize(propertiesSize) + propertiesSize;
  }
  if (length > MAX_REMAINING_LENGTH) throw invalid('packet larger than 256 MiB');
  measuredTopicLength = topicLength;
  measuredRemainingLength = length;
  measuredPropertiesSize = propertiesSize;
  return 1 + varIntSize(length) + length;
}

/** Writes the PUBLISH just measured by measurePublishFields (same fields) at `buf[pos]`. */
export function writePublishFields(
  buf: Buffer,
  pos: number,
  topic: string,
  payload: Buffer,
  qos: QoS,
  dup: boolean,
  retain: boolean,
  messageId: number | undefined,
  properties: PublishProperties | undefined,
  version: ProtocolVersion,
): void {
  const topicLength = measuredTopicLength;
  buf[pos] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
  pos = writeVarInt(buf, pos + 1, measuredRemainingLength);
  buf[pos] = topicLength >> 8;
  buf[pos + 1] = topicLength & 0xff;
  pos += 2;
  pos += buf.write(topic, pos);
  if (qos > 0) {
    const id = messageId!;
    buf[pos++] = id >> 8;
    buf[pos++] = id & 0xff;
  }
  if (version === 5) {
    pos = writeVarInt(buf, pos, measuredPropertiesSize);
    if (properties) pos = writePublishProperties(buf, pos, properties);
  }
  payload.copy(buf, pos);
}

/** measurePublishFields for a packet. */
export function measurePublish(packet: PublishPacket, version: ProtocolVersion): number {
  return measurePublishFields(
    packet.topic,
    packet.payload,
    packet.qos,
    packet.messageId,
    packet.properties,
    version,
  );
}

/** writePublishFields for a packet. */
export function writeMeasuredPublish(
  buf: Buffer,
  pos: number,
  packet: PublishPacket,
  version: ProtocolVersion,
): void {
  writePublishFields(
    buf,
    pos,
    packet.topic,
    packet.payload,
    packet.qos,
    packet.dup,
    packet.retain,
    packet.messageId,
    packet.properties,
    version,
  );
}

/** Encodes a PUBLISH into one freshly allocated buffer; byte-for-byte what mqtt-packet's generate writes. */
export function encodePublish(packet: PublishPacket, version: ProtocolVersion): Buffer {
  const buf = Buffer.allocUnsafe(measurePublish(packet, version));
  writeMeasuredPublish(buf, 0, packet, version);
  return buf;
}

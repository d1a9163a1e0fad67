/**
 * Hand-written decoding of PUBACK, PUBREC, PUBREL and PUBCOMP: every outbound QoS 1/2 message brings
 * one or two of them back, so they are on the hot path too. Same results as mqtt-packet (tested).
 */
import { MqttProtocolError } from './errors';
import { readUtf8 } from './publish-fast-path';
import { ReasonCode } from './reason-codes';
import type {
  AckProperties,
  ProtocolVersion,
  PubackPacket,
  PubcompPacket,
  PubrecPacket,
  PubrelPacket,
  UserProperties,
} from './types';

export type AckPacket = PubackPacket | PubrecPacket | PubrelPacket | PubcompPacket;

const COMMANDS = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' } as const;
const PUBACK_PUBREC_CODES = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
const PUBREL_PUBCOMP_CODES = new Set([0x00, 0x92]);
const PROP_REASON_STRING = 0x1f;
const PROP_USER_PROPERTY = 0x26;

function malformed(message: string): MqttProtocolError {
  return new MqttProtocolError(`malformed packet: ${message}`, ReasonCode.MalformedPacket);
}

/** True for the packet types this module decodes. */
export function isAckType(type: number): type is 4 | 5 | 6 | 7 {
  return type >= 4 && type <= 7;
}

/** Decodes the acknowledgement of type `type` whose body is `buf[bodyStart, end)`. */
export function decodeAck(
  buf: Buffer,
  type: 4 | 5 | 6 | 7,
  bodyStart: number,
  end: number,
  version: ProtocolVersion,
): AckPacket {
  const cmd = COMMANDS[type];
  const length = end - bodyStart;
  if (version !== 5) {
    if (length !== 2) throw malformed(`${cmd} remaining length must be 2`);
    return { cmd, messageId: (buf[bodyStart]! << 8) | buf[bodyStart + 1]! };
  }
  if (length < 2) throw malformed(`${cmd} shorter than a packet identifier`);
  const messageId = (buf[bodyStart]! << 8) | buf[bodyStart + 1]!;
  if (length === 2) return { cmd, messageId, reasonCode: 0 };
  const reasonCode = buf[bodyStart + 2]!;
  const allowed = type === 4 || type === 5 ? PUBACK_PUBREC_CODES : PUBREL_PUBCOMP_CODES;
  if (!allowed.has(reasonCode)) throw malformed(`invalid ${cmd} reason code 0x${reasonCode.toString(16)}`);
  if (length === 3) return { cmd, messageId, reasonCode };
  const properties = decodeAckProperties(buf, bodyStart + 3, end);
  return properties === undefined
    ? { cmd, messageId, reasonCode }
    : { cmd, messageId, reasonCode, properties };
}

function decodeAckProperties(buf: Buffer, pos: number, end: number): AckProperties | undefined {
  let length = 0;
  let multiplier = 1;
  for (let i = 0; ; i++) {
    if (i === 4) throw malformed('property length longer than 4 bytes');
    if (pos >= end) throw malformed('truncated property length');
    const b = buf[pos++]!;
    length += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) break;
    multiplier *= 128;
  }
  if (pos + length > end) throw malformed('properties longer than the packet');
  if (length === 0) return undefined;
  const propertiesEnd = pos + length;
  const properties: AckProperties = {};
  const readString = (what: string): string => {
    if (pos + 2 > propertiesEnd) throw malformed('truncated property');
    const len = (buf[pos]! << 8) | buf[pos + 1]!;
    pos += 2;
    if (pos + len > propertiesEnd) throw malformed('truncated property');
    const s = readUtf8(buf, pos, pos + len, what);
    pos += len;
    return s;
  };
  while (pos < propertiesEnd) {
    const id = buf[pos++]!;
    if (id === PROP_REASON_STRING) {
      if (properties.reasonString !== undefined) {
        throw new MqttProtocolError('reason string included twice', ReasonCode.ProtocolError);
      }
      properties.reasonString = readString('reason string');
    } else if (id === PROP_USER_PROPERTY) {
      const name = readString('user property name');
      const value = readString('user property value');
      properties.userProperties ??= Object.create(null) as UserProperties;
      const existing = properties.userProperties[name];
      if (existing === undefined) properties.userProperties[name] = value;
      else if (typeof existing === 'string') properties.userProperties[name] = [existing, value];
      else existing.push(value);
    } else {
      throw malformed(`property 0x${id.toString(16)} is not allowed in an acknowledgement`);
    }
  }
  return properties;
}

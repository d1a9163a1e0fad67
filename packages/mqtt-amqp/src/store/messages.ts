import type { MessageProperties, MqttMessage } from '../types';
import type { MessageRecord } from './backend';

/**
 * A copy of the message safe to keep: the payload is copied (a decoder's buffer may be a slice of a larger
 * socket chunk, or reused), and undefined fields are dropped so both backends store the same shape.
 */
export function copyMessage(message: MqttMessage, retain = message.retain): MqttMessage {
  const copy: MqttMessage = {
    topic: message.topic,
    payload: Buffer.from(message.payload),
    qos: message.qos,
    retain,
  };
  const properties = copyProperties(message.properties);
  if (properties !== undefined) copy.properties = properties;
  return copy;
}

function copyProperties(properties: MessageProperties | undefined): MessageProperties | undefined {
  if (properties === undefined) return undefined;
  const out: MessageProperties = {};
  for (const [key, value] of Object.entries(properties) as Array<[keyof MessageProperties, unknown]>) {
    if (value === undefined) continue;
    if (Buffer.isBuffer(value)) (out as Record<string, unknown>)[key] = Buffer.from(value);
    else if (key === 'userProperties')
      out.userProperties = structuredClone(value as MessageProperties['userProperties']);
    else if (Array.isArray(value)) (out as Record<string, unknown>)[key] = [...value];
    else (out as Record<string, unknown>)[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** When the message expires (epoch ms), from its MQTT 5 message expiry interval; undefined when it does not. */
export function expiresAtOf(message: MqttMessage, now: number): number | undefined {
  const interval = message.properties?.messageExpiryInterval;
  return interval === undefined ? undefined : now + interval * 1000;
}

/** A record is expired once its expiry time is reached. */
export function isExpired(record: MessageRecord, now: number): boolean {
  return record.expiresAt !== undefined && record.expiresAt <= now;
}

/**
 * The stored message as it is handed out at `now`: a fresh object whose expiry interval is the whole seconds
 * left (rounded up, as MQTT 5 asks a server to forward the remaining time); undefined once it has expired.
 */
export function messageAt(record: MessageRecord, now: number): MqttMessage | undefined {
  if (isExpired(record, now)) return undefined;
  const message = record.message;
  const out: MqttMessage = {
    topic: message.topic,
    payload: message.payload,
    qos: message.qos,
    retain: message.retain,
  };
  if (message.properties !== undefined) out.properties = { ...message.properties };
  if (record.expiresAt !== undefined) {
    out.properties = { ...out.properties, messageExpiryInterval: Math.ceil((record.expiresAt - now) / 1000) };
  }
  return out;
}

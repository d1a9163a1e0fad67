import type { AmqpMessage } from '@dragoman/amqp';
import type { QoS } from '@dragoman/mqtt';
import { MappingError } from '../errors';
import { booleanOf, integerOf } from '../mapping/amqp-values';

/** Reads a QoS value; undefined when absent, `MappingError` when present but not 0, 1 or 2. */
export function readQos(value: unknown, field: string): QoS | undefined {
  if (value === undefined || value === null) return undefined;
  const qos = integerOf(value);
  if (qos === 0 || qos === 1 || qos === 2) return qos;
  throw new MappingError('invalid-field', `${field} must be 0, 1 or 2, got ${String(value)}`, { field });
}

/** Reads a boolean flag; false when absent, `MappingError` when present but not a boolean (or 'true'/'false'). */
export function readFlag(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  const flag = booleanOf(value);
  if (flag === undefined) {
    throw new MappingError('invalid-field', `${field} must be a boolean, got ${String(value)}`, { field });
  }
  return flag;
}

/** The spec's QoS for a message without an explicit QoS: durable → 1, otherwise 0. */
export function qosFromDurable(message: AmqpMessage): QoS {
  return message.header?.durable === true ? 1 : 0;
}

/** DUP from the header's delivery count (the AMQP redelivery counter). */
export function dupFromDeliveryCount(message: AmqpMessage): boolean {
  const count = message.header?.deliveryCount;
  return typeof count === 'number' && count > 0;
}

import type { AmqpMessage, MessageId } from '@dragoman/amqp';
import { MappingError } from '../errors';
import type { Addresses, ControlSubject } from '../types';

/** Throws `MappingError('unexpected-subject')` unless the message's subject is `subject`. */
export function expectSubject(message: AmqpMessage, subject: ControlSubject): void {
  const actual = message.properties?.subject;
  if (actual !== subject) {
    throw new MappingError(
      'unexpected-subject',
      `expected subject '${subject}', got ${actual === undefined ? 'none' : `'${actual}'`}`,
      { field: 'properties.subject' },
    );
  }
}

/** The client id named by the `correlation-id` (`$mqtt.to.<client-id>.publish`), or `MappingError`. */
export function clientIdFromCorrelation(message: AmqpMessage, addresses: Addresses): string {
  const correlation = message.properties?.correlationId;
  if (correlation === undefined) {
    throw new MappingError('missing-field', `'${message.properties?.subject}' needs a correlation-id`, {
      field: 'properties.correlation-id',
    });
  }
  const clientId =
    typeof correlation === 'string' ? addresses.clientIdFrom('publish', correlation) : undefined;
  if (clientId === undefined) {
    throw new MappingError(
      'invalid-field',
      `correlation-id ${String(correlation)} is not a client publish address (${addresses.options.clientPublish})`,
      { field: 'properties.correlation-id' },
    );
  }
  return clientId;
}

export function requireMessageId(message: AmqpMessage): MessageId {
  const id = message.properties?.messageId;
  if (id === undefined) {
    throw new MappingError('missing-field', `'${message.properties?.subject}' needs a message-id`, {
      field: 'properties.message-id',
    });
  }
  return id;
}

/** The body's amqp-value, or `MappingError` when the body is not an amqp-value. */
export function bodyValue(message: AmqpMessage): unknown {
  const body = message.body;
  if (body?.type !== 'value') {
    throw new MappingError(
      'invalid-field',
      `'${message.properties?.subject}' needs an amqp-value body, got ${body === undefined ? 'none' : body.type}`,
      { field: 'body' },
    );
  }
  return body.value;
}

/** A plain object or Map as entries (rhea decodes an AMQP map as a plain object). */
export function mapEntries(value: unknown, field: string): Array<[string, unknown]> {
  if (value instanceof Map) return [...value].map(([k, v]) => [String(k), v]);
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value)) {
    return Object.entries(value);
  }
  throw new MappingError('invalid-field', `${field} must be an AMQP map`, { field });
}

import { describe, expect, it } from 'vitest';
import {
  AmqpConditions,
  AmqpError,
  type AmqpMessage,
  binaryMessage,
  fromRhea,
  InvalidArgumentError,
  isStandardCondition,
  LinkError,
  payloadOf,
  SendQueueFullError,
  toRhea,
  valueMessage,
} from '../src/index';
import { rhea } from './helpers';

/** Encodes with rhea and decodes again: what a peer would see, and what we read back. */
function roundTrip(message: AmqpMessage): AmqpMessage {
  const bytes = rhea.message.encode(toRhea(message));
  return fromRhea(rhea.message.decode(bytes) as unknown as Record<string, unknown>);
}

describe('AmqpMessage conversion', () => {
  it('round-trips every section', () => {
    const created = new Date(1_700_000_000_000);
    const message: AmqpMessage = {
      header: { durable: true, priority: 7, ttl: 5000, firstAcquirer: true, deliveryCount: 2 },
      deliveryAnnotations: { 'x-opt-trace': 'a' },
      messageAnnotations: { 'x-opt-partition': 3 },
      properties: {
        messageId: 'id-1',
        userId: Buffer.from('bob'),
        to: '/queues/a',
        subject: 'hello',
        replyTo: '/replies',
        correlationId: 'corr-9',
        contentType: 'text/plain',
        contentEncoding: 'utf-8',
        absoluteExpiryTime: new Date(1_800_000_000_000),
        creationTime: created,
        groupId: 'g',
        groupSequence: 4,
        replyToGroupId: 'rg',
      },
      applicationProperties: { retained: true, qos: 1, topic: 'a/b' },
      body: { type: 'data', data: Buffer.from([1, 2, 3]) },
      footer: { checksum: 'abc' },
    };
    const back = roundTrip(message);
    expect(back.header).toEqual(message.header);
    expect(back.deliveryAnnotations).toEqual(message.deliveryAnnotations);
    expect(back.messageAnnotations).toEqual(message.messageAnnotations);
    expect(back.applicationProperties).toEqual(message.applicationProperties);
    expect(back.footer).toEqual(message.footer);
    expect(back.body).toEqual(message.body);
    expect(back.properties?.messageId).toBe('id-1');
    expect(back.properties?.userId).toEqual(Buffer.from('bob'));
    expect(back.properties?.creationTime?.getTime()).toBe(created.getTime());
    expect(back.properties?.absoluteExpiryTime?.getTime()).toBe(1_800_000_000_000);
    expect({
      ...back.properties,
      userId: undefined,
      creationTime: undefined,
      absoluteExpiryTime: undefined,
    }).toEqual({
      ...message.properties,
      userId: undefined,
      creationTime: undefined,
      absoluteExpiryTime: undefined,
    });
  });

  it('value and sequence bodies', () => {
    expect(roundTrip(valueMessage({ a: [1, 'two'] })).body).toEqual({
      type: 'value',
      value: { a: [1, 'two'] },
    });
    expect(roundTrip(valueMessage('text')).body).toEqual({ type: 'value', value: 'text' });
    expect(roundTrip({ body: { type: 'sequence', sequence: [1, 2, 'x'] } }).body).toEqual({
      type: 'sequence',
      sequence: [1, 2, 'x'],
    });
    // rhea always writes a body section: a message sent without body arrives with an amqp-value null.
    expect(roundTrip({}).body).toEqual({ type: 'value', value: null });
  });

  it('several data sections from a peer are concatenated', () => {
    const bytes = rhea.message.encode({
      body: rhea.message.data_sections([Buffer.from('ab'), Buffer.from('cd')]),
    });
    const message = fromRhea(rhea.message.decode(bytes) as unknown as Record<string, unknown>);
    expect(message.body).toEqual({ type: 'data', data: Buffer.from('abcd') });
  });

  it('binary helpers', () => {
    const m = binaryMessage('héllo', { properties: { contentType: 'text/plain' } });
    expect(m.body).toEqual({ type: 'data', data: Buffer.from('héllo', 'utf8') });
    expect(m.properties?.contentType).toBe('text/plain');
    expect(payloadOf(binaryMessage(new Uint8Array([9, 8])))).toEqual(Buffer.from([9, 8]));
    expect(payloadOf(valueMessage('x'))).toEqual(Buffer.from('x'));
    expect(payloadOf(valueMessage(Buffer.from([1])))).toEqual(Buffer.from([1]));
    expect(payloadOf({})).toEqual(Buffer.alloc(0));
    expect(() => payloadOf(valueMessage({ a: 1 }))).toThrow(InvalidArgumentError);
    expect(() => payloadOf({ body: { type: 'sequence', sequence: [] } })).toThrow(InvalidArgumentError);
  });

  it('rejects malformed bodies with InvalidArgumentError', () => {
    expect(() => toRhea({ body: { type: 'data', data: 'nope' as unknown as Buffer } })).toThrow(
      InvalidArgumentError,
    );
    expect(() => toRhea({ body: { type: 'sequence', sequence: 'nope' as unknown as unknown[] } })).toThrow(
      InvalidArgumentError,
    );
    expect(() => toRhea({ body: { type: 'weird' } as unknown as AmqpMessage['body'] })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('errors', () => {
  it('carry condition, description and info, and serialise to the wire form', () => {
    const e = new AmqpError(AmqpConditions.resourceLimitExceeded, 'too many', { info: { limit: 10 } });
    expect(e.message).toBe('amqp:resource-limit-exceeded: too many');
    expect(e.toJSON()).toEqual({
      condition: 'amqp:resource-limit-exceeded',
      description: 'too many',
      info: { limit: 10 },
    });
    const link = new LinkError('l1', 'amqp:link:detach-forced');
    expect(link).toBeInstanceOf(AmqpError);
    expect(link.scope).toBe('link');
    expect(link.toJSON()).toEqual({ condition: 'amqp:link:detach-forced' });
    expect(new SendQueueFullError('l', 5).message).toMatch(/full \(5 sends/);
  });

  it('know the standard conditions', () => {
    expect(isStandardCondition('amqp:unauthorized-access')).toBe(true);
    expect(isStandardCondition('amqp:link:stolen')).toBe(true);
    expect(isStandardCondition('com.example:custom')).toBe(false);
  });
});

/**
 * `encodePublish` hands a dialect one reused object to write its flags into: what one call writes must never
 * show up in another call's message, also when a dialect throws half-way.
 */
import { ARTEMIS_RETAIN_PROPERTY, type Dialect, encodePublish, resolveDialect } from '@dragoman/mqtt-amqp';
import { describe, expect, it } from 'vitest';

const message = { topic: 'a/b', payload: Buffer.from('x'), qos: 1 as const, retain: false };

/** The spec's dialect, but its writeFlags writes both maps and then throws. */
function failingDialect(): Dialect {
  const enmasse = resolveDialect('enmasse');
  return {
    ...enmasse,
    writeFlags(_flags, fields) {
      fields.messageAnnotations['x-left-over'] = true;
      fields.applicationProperties['left-over'] = 1;
      throw new Error('half-way');
    },
  };
}

describe('encodePublish: the dialect flags of one call', () => {
  it('leaves nothing a failed call wrote to the next one', () => {
    expect(() => encodePublish(message, { dialect: failingDialect() })).toThrow('half-way');
    const encoded = encodePublish(message, { dialect: 'enmasse' });
    expect(Object.keys(encoded.message.messageAnnotations ?? {}).sort()).toEqual([
      'x-opt-mqtt-qos',
      'x-opt-retain-message',
    ]);
    expect(encoded.message.applicationProperties).toBeUndefined();
    // With MQTT 5 properties (the other path) too.
    expect(() => encodePublish(message, { dialect: failingDialect() })).toThrow('half-way');
    const withProperties = encodePublish(
      { ...message, properties: { contentType: 'text/plain' } },
      { dialect: 'enmasse' },
    );
    expect(withProperties.message.messageAnnotations).not.toHaveProperty('x-left-over');
    expect(withProperties.message.applicationProperties).toBeUndefined();
  });

  it('gives each message maps of its own', () => {
    const first = encodePublish(message, { dialect: 'artemis' }).message;
    const second = encodePublish({ ...message, qos: 0, retain: true }, { dialect: 'artemis' }).message;
    expect(second.applicationProperties).not.toBe(first.applicationProperties);
    // The first message's flags are as it was encoded, not as the second call wrote them.
    expect(first.applicationProperties?.[ARTEMIS_RETAIN_PROPERTY]).toBe(false);
    expect(second.applicationProperties?.[ARTEMIS_RETAIN_PROPERTY]).toBe(true);
    const plain = encodePublish(message, { dialect: 'enmasse' }).message;
    expect(plain.applicationProperties).toBeUndefined();
    expect(plain.messageAnnotations).not.toBe(
      encodePublish(message, { dialect: 'enmasse' }).message.messageAnnotations,
    );
  });
});

// decodeMessage reads the common shapes itself: whatever it reads must be exactly what
// fromRhea(rhea.message.decode(bytes)) gives for the same bytes, and anything it does not cover goes to rhea.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AmqpMessage,
  binaryMessage,
  fromRhea,
  type RheaMessage,
  toRhea,
  valueMessage,
} from '../src/index';
import { decodeFast } from '../src/internal/message-decoder';
import { decodeMessage, encodeMessage } from '../src/message';
import { rhea } from './helpers';
import { EVERY_HEADER_AND_PROPERTY_FIELD } from './sample-messages';

const rheaTypes = rhea.types as unknown as Record<string, (value?: unknown) => unknown>;

/** What the Receiver gave before: rhea's decoder, then fromRhea. */
function viaRhea(bytes: Buffer): AmqpMessage {
  return fromRhea(rhea.message.decode(bytes) as unknown as RheaMessage);
}

function rheaEncode(message: AmqpMessage): Buffer {
  return rhea.message.encode(toRhea(message));
}

/** Raw sections written by rhea's own writer (for shapes the message encoders never produce). */
function sections(...values: unknown[]): Buffer {
  const Writer = (
    rhea.types as unknown as { Writer: new () => { write(v: unknown): void; toBuffer(): Buffer } }
  ).Writer;
  const writer = new Writer();
  for (const v of values) writer.write(v);
  return writer.toBuffer();
}

function section(code: number, value: unknown): unknown {
  return (rhea.types as unknown as { described(d: unknown, v: unknown): unknown }).described(
    rheaTypes.wrap_ulong?.(code),
    value,
  );
}

const samples: Record<string, AmqpMessage> = {
  'the bridge publish': binaryMessage(Buffer.from('hello'), {
    header: { durable: true, deliveryCount: 0 },
    properties: { to: 'a/b', messageId: 42 },
    messageAnnotations: { 'x-opt-retain-message': false, 'x-opt-mqtt-qos': 1 },
  }),
  'every header and property field': EVERY_HEADER_AND_PROPERTY_FIELD,
  'annotations and application properties of every simple type': binaryMessage('p', {
    deliveryAnnotations: { 'x-d': 'x' },
    messageAnnotations: { list: [1, 'two', [3]], map: { nested: { deep: true } }, big: 2 ** 60 },
    applicationProperties: {
      s: 'text',
      t: true,
      zero: 0,
      big: 70_000,
      huge: 2 ** 40,
      negative: -5,
      veryNegative: -3_000_000_000,
      double: 1.5,
      nothing: null,
      when: new Date(1_234_567_890_000),
      bytes: Buffer.from([1, 2, 3]),
    },
    footer: { f: 'x' },
  }),
  'a uuid message id': binaryMessage('u', { properties: { messageId: Buffer.alloc(16, 9) } }),
  'an amqp-value map body': valueMessage({ a: 1, b: ['x', null], c: { d: Buffer.from('e') } }),
  'an amqp-value string body': valueMessage('value body'),
  'an amqp-value null body': valueMessage(null),
  'an empty message': {},
};

describe('decodeMessage', () => {
  for (const [name, message] of Object.entries(samples)) {
    it(`reads ${name} as rhea does`, () => {
      for (const bytes of [rheaEncode(message), encodeMessage(message)]) {
        const fast = decodeFast(bytes);
        expect(fast).toBeDefined();
        expect(fast).toEqual(viaRhea(bytes));
        expect(decodeMessage(bytes)).toEqual(viaRhea(bytes));
      }
    });
  }

  it('reads the types rhea reads as it reads them (boolean byte, ubyte, short, float, char, ulong, long)', () => {
    const values = [
      rheaTypes.Boolean?.(1),
      rheaTypes.Ubyte?.(200),
      rheaTypes.Ushort?.(60_000),
      rheaTypes.Short?.(-300),
      rheaTypes.Byte?.(-100),
      rheaTypes.Float?.(0.25),
      rheaTypes.CharUTF32?.(0x1f600),
      rheaTypes.Ulong?.(2 ** 52),
      rheaTypes.Long?.(-(2 ** 50)),
      rheaTypes.Ulong?.(Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 1])),
      rheaTypes.Long?.(Buffer.from([0x7f, 0, 0, 0, 0, 0, 0, 1])),
      rheaTypes.Uuid?.(Buffer.alloc(16, 3)),
      rheaTypes.Sym32?.('a symbol in 32 bits'),
      rheaTypes.Str32?.('a string in 32 bits'),
      rheaTypes.Vbin32?.(Buffer.from('binary in 32 bits')),
    ];
    const bytes = sections(section(0x77, rhea.types.wrap_list(values as unknown[])));
    const fast = decodeFast(bytes);
    expect(fast).toBeDefined();
    expect(fast).toEqual(viaRhea(bytes));
    // rhea reads a boolean byte as a number.
    expect((fast as AmqpMessage & { body: { value: unknown[] } }).body.value[0]).toBe(1);
  });

  it('joins several data sections into one body, as fromRhea does', () => {
    const bytes = sections(
      section(0x75, rhea.types.wrap_binary(Buffer.from('ab'))),
      section(0x75, rhea.types.wrap_binary(Buffer.from('cd'))),
      section(0x75, rhea.types.wrap_binary(Buffer.from('e'))),
    );
    expect(decodeFast(bytes)).toEqual({ body: { type: 'data', data: Buffer.from('abcde') } });
    expect(decodeFast(bytes)).toEqual(viaRhea(bytes));
  });

  it('leaves other shapes to rhea, with rhea’s result', () => {
    const others: Buffer[] = [
      rheaEncode({ body: { type: 'sequence', sequence: [1, 2] } }),
      // A described value inside a section.
      rheaEncode(valueMessage([rhea.types.wrap_described('v', 'x:d')])),
      // An array.
      rheaEncode(valueMessage(rhea.types.wrap_array([1, 2], 0x71, undefined))),
      // A section named by its symbolic descriptor.
      sections(
        (rhea.types as unknown as { described(d: unknown, v: unknown): unknown }).described(
          rhea.types.wrap_symbol('amqp:value:*'),
          rhea.types.wrap_string('symbolic'),
        ),
      ),
      // A value after a data section (rhea keeps the value).
      sections(
        section(0x75, rhea.types.wrap_binary(Buffer.from('ab'))),
        section(0x77, rhea.types.wrap_string('v')),
      ),
      // A repeated header (rhea merges the two).
      sections(section(0x70, rhea.types.wrap_list([true])), section(0x70, rhea.types.wrap_list([null, 7]))),
      // A map key rhea would turn into a prototype.
      rheaEncode(valueMessage({ ['__proto__']: 1 })),
    ];
    for (const bytes of others) {
      expect(decodeFast(bytes)).toBeUndefined();
      expect(decodeMessage(bytes)).toEqual(viaRhea(bytes));
    }
  });

  it('leaves malformed input to rhea, which throws for it', () => {
    const whole = encodeMessage(samples['every header and property field'] as AmqpMessage);
    let malformed = 0;
    for (let length = 1; length < whole.length; length++) {
      const cut = whole.subarray(0, length);
      let expected: AmqpMessage | undefined;
      try {
        expected = viaRhea(cut);
      } catch {
        malformed++;
        expect(decodeFast(cut)).toBeUndefined();
        expect(() => decodeMessage(cut)).toThrow();
        continue;
      }
      // Cut at a section boundary: a shorter message, read as rhea reads it.
      const fast = decodeFast(cut);
      if (fast !== undefined) expect(fast).toEqual(expected);
    }
    expect(malformed).toBeGreaterThan(whole.length / 2);
  });

  it('agrees with rhea on generated messages (and encodeMessage with rhea’s encoder)', () => {
    const text = fc.string({ maxLength: 20 });
    // rhea turns a '__proto__' key into the decoded map's prototype (tested above): not a key to generate.
    const key = text.filter((k) => k !== '__proto__');
    const simple = fc.oneof(
      text,
      fc.boolean(),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true, min: -1e9, max: 1e9 }),
      fc.constant(null),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
    );
    const value = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        simple,
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(key, tie('value'), { maxKeys: 3 }),
      ),
    })).value;
    const message = fc.record(
      {
        header: fc.record(
          {
            durable: fc.boolean(),
            priority: fc.integer({ min: 0, max: 255 }),
            ttl: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
            firstAcquirer: fc.boolean(),
            deliveryCount: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          },
          { requiredKeys: [] },
        ),
        properties: fc.record(
          {
            messageId: fc.oneof(text, fc.nat()),
            to: text,
            subject: text,
            correlationId: fc.oneof(text, fc.nat()),
            contentType: fc.stringMatching(/^[a-z/]{0,10}$/),
            creationTime: fc.date({ noInvalidDate: true }),
            groupSequence: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          },
          { requiredKeys: [] },
        ),
        messageAnnotations: fc.dictionary(key, value, { maxKeys: 4 }),
        applicationProperties: fc.dictionary(key, simple, { maxKeys: 4 }),
        body: fc.oneof(
          fc.uint8Array({ maxLength: 40 }).map((a) => ({ type: 'data' as const, data: Buffer.from(a) })),
          value.map((v) => ({ type: 'value' as const, value: v })),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(message, (m) => {
        const bytes = rheaEncode(m as AmqpMessage);
        const expected = viaRhea(bytes);
        const fast = decodeFast(bytes);
        if (fast !== undefined) expect(fast).toEqual(expected);
        expect(decodeMessage(bytes)).toEqual(expected);
        // The direct encoder writes what rhea's does, read back either way.
        expect(decodeMessage(encodeMessage(m as AmqpMessage))).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});

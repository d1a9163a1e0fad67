// encodeMessage writes the common shapes itself: what rhea decodes from its bytes must be what it decodes from
// rhea's own encoding, value for value and AMQP type for AMQP type; other shapes go through rhea unchanged.
import { describe, expect, it } from 'vitest';
import {
  type AmqpMessage,
  binaryMessage,
  fromRhea,
  type RheaMessage,
  toRhea,
  valueMessage,
} from '../src/index';
import { encodeFast } from '../src/internal/message-encoder';
import { encodeMessage } from '../src/message';
import { rhea } from './helpers';
import { EVERY_HEADER_AND_PROPERTY_FIELD } from './sample-messages';

interface TypedValue {
  type?: { typecode?: number };
  value?: unknown;
}
interface Section {
  descriptor?: { value?: unknown };
  value?: unknown;
}
const Reader = (
  rhea as unknown as { types: { Reader: new (b: Buffer) => { read(): Section; remaining(): number } } }
).types.Reader;

/** The typecodes of every value inside the sections, in order (null fields skipped: trailing ones may be left out). */
function typecodes(buffer: Buffer): string[] {
  const out: string[] = [];
  const walk = (value: unknown): void => {
    const typed = value as TypedValue;
    const code = typed?.type?.typecode;
    if (code === undefined || code === 0x40) return;
    if (Array.isArray(typed.value)) {
      out.push(
        code === 0x45 || code === 0xc0 || code === 0xd0
          ? 'list'
          : code === 0xc1 || code === 0xd1
            ? 'map'
            : String(code),
      );
      for (const item of typed.value) walk(item);
    } else out.push(String(code));
  };
  const reader = new Reader(buffer);
  while (reader.remaining()) {
    const section = reader.read();
    out.push(`section ${String(section.descriptor?.value)}`);
    walk(section);
  }
  return out;
}

/** A number with its AMQP type `int`, as @dragoman/mqtt-amqp's AmqpTypedNumber gives it to rhea. */
function typedInt(value: number): number {
  const type = {
    typecode: 0x71,
    width: 4,
    category: 1,
    write: (b: Buffer, v: number, o: number) => b.writeInt32BE(v, o),
  };
  return { toRheaTyped: () => ({ type, value }) } as unknown as number;
}

function viaRhea(message: AmqpMessage): Buffer {
  return rhea.message.encode(toRhea(message));
}

const samples: Record<string, AmqpMessage> = {
  'the bridge publish (header, properties, annotations, data)': binaryMessage(Buffer.from('hello'), {
    header: { durable: true },
    properties: { to: 'a/b', messageId: 42, contentType: 'text/plain' },
    messageAnnotations: { 'x-opt-retain': true, 'x-opt-mqtt-qos': 1 },
  }),
  'every header and property field': EVERY_HEADER_AND_PROPERTY_FIELD,
  'application properties of every simple type': binaryMessage('p', {
    applicationProperties: {
      s: 'text',
      t: true,
      f: false,
      zero: 0,
      small: 200,
      big: 70_000,
      huge: 2 ** 40,
      negative: -5,
      veryNegative: -3_000_000_000,
      double: 1.5,
      nothing: null,
      when: new Date(1_234_567_890_000),
      bytes: Buffer.from([1, 2, 3]),
    },
  }),
  "typed values (rhea's own and a toRheaTyped() object, as @dragoman/mqtt-amqp writes QoS)": binaryMessage(
    'q',
    {
      header: { durable: true, deliveryCount: 0 },
      properties: { to: 'a/b' },
      messageAnnotations: {
        'x-opt-retain-message': false,
        'x-opt-mqtt-qos': typedInt(1),
        small: rhea.types.wrap_int(-3),
        wide: rhea.types.wrap_int(100_000),
        byte: rhea.types.wrap_ubyte(7),
        yes: rhea.types.wrap_boolean(true),
      },
      applicationProperties: { qos: typedInt(-2), big: typedInt(2_000_000) },
    },
  ),
  'an amqp-value string body': valueMessage('value body'),
  'an empty message': {},
  'a null value body': valueMessage(null),
};

describe('encodeMessage', () => {
  for (const [name, message] of Object.entries(samples)) {
    it(`writes ${name} as rhea reads rhea's own encoding`, () => {
      const fast = encodeFast(message);
      expect(fast).toBeDefined();
      const ours = fromRhea(rhea.message.decode(fast as Buffer) as unknown as RheaMessage);
      const theirs = fromRhea(rhea.message.decode(viaRhea(message)) as unknown as RheaMessage);
      expect(ours).toEqual(theirs);
      // Same AMQP types; rhea also writes an empty header and properties section we leave out.
      const empty = (code: string) => (list: string[]) =>
        list.join(',').replace(new RegExp(`section ${code},list(,|$)`), '');
      const strip = (list: string[]) => empty('115')(empty('112')(list).split(','));
      expect(strip(typecodes(fast as Buffer))).toBe(strip(typecodes(viaRhea(message))));
      expect(encodeMessage(message).equals(fast as Buffer)).toBe(true);
    });
  }

  it('leaves other shapes to rhea, with rhea’s bytes', () => {
    const others: AmqpMessage[] = [
      { deliveryAnnotations: { a: 1 }, body: { type: 'data', data: Buffer.from('x') } },
      { footer: { f: 'x' } },
      { body: { type: 'sequence', sequence: [1, 2] } },
      valueMessage({ nested: [1, { deep: true }] }),
      binaryMessage('x', { applicationProperties: { unsafe: 2 ** 60 } }),
      binaryMessage('x', { properties: { messageId: Buffer.alloc(16, 1) } }),
      // Typed values other than fixed-width ones (a variable-width string, a described value).
      binaryMessage('x', { messageAnnotations: { s: rhea.types.wrap_string('text') } }),
      binaryMessage('x', { messageAnnotations: { d: rhea.types.wrap_described(1, 'x:d') } }),
    ];
    for (const message of others) {
      expect(encodeFast(message)).toBeUndefined();
      expect(encodeMessage(message).equals(viaRhea(message))).toBe(true);
    }
  });

  it('lets rhea refuse what it refuses (an out-of-range priority)', () => {
    const message = binaryMessage('x', { header: { priority: 300 } });
    expect(encodeFast(message)).toBeUndefined();
    expect(() => viaRhea(message)).toThrow(RangeError);
    expect(() => encodeMessage(message)).toThrow(RangeError);
  });

  it('gives each message its own buffer', () => {
    const a = encodeMessage(binaryMessage('first'));
    const b = encodeMessage(binaryMessage('second'));
    expect(fromRhea(rhea.message.decode(a) as unknown as RheaMessage).body).toEqual({
      type: 'data',
      data: Buffer.from('first'),
    });
    expect(b.equals(a)).toBe(false);
  });
});

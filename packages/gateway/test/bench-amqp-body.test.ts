/**
 * The generator's body reader: for messages rhea encodes, with any of the sections a target may add before the
 * body, it finds the body's bytes; for what has no body or is cut short, it answers undefined.
 */
import fc from 'fast-check';
import rhea from 'rhea';
import { describe, expect, it } from 'vitest';
import { decodeBodiesOnly, messageBody } from '../bench/e2e/amqp-body';

const payload = Buffer.from('DRGB-the-payload-\u0000\u00ff', 'latin1');

/** Every section rhea writes before the body, as a target might send them. */
const everySection = {
  durable: true,
  priority: 7,
  ttl: 60_000,
  delivery_annotations: { 'x-opt-trace': 'x'.repeat(300) },
  message_annotations: { 'x-opt-retain-message': true, 'x-opt-mqtt-qos': 1, 'x-opt-exchange': 'amq.topic' },
  message_id: 'id-1',
  to: '/topic/a.b',
  subject: 's',
  creation_time: new Date(0),
  application_properties: { count: 3, big: 2 ** 40, name: 'y'.repeat(400), flag: false },
};

describe("the generator's body reader", () => {
  it('reads a data section after every other section', () => {
    const bytes = rhea.message.encode({ ...everySection, body: rhea.message.data_section(payload) });
    expect(Buffer.from(messageBody(bytes)!).equals(payload)).toBe(true);
  });

  it('reads a binary or string amqp-value', () => {
    const binary = rhea.message.encode({ ...everySection, body: payload });
    expect(Buffer.from(messageBody(binary)!).equals(payload)).toBe(true);
    const text = rhea.message.encode({ body: 'héllo' });
    expect(Buffer.from(messageBody(text)!).toString('utf8')).toBe('héllo');
  });

  it('reads the descriptor in its ulong and symbol forms', () => {
    const body = Buffer.from([0xa0, payload.length, ...payload]);
    const ulong = Buffer.from([0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x75]);
    const symbol = Buffer.from([0x00, 0xa3, 16, ...Buffer.from('amqp:data:binary', 'latin1')]);
    for (const descriptor of [ulong, symbol]) {
      expect(Buffer.from(messageBody(Buffer.concat([descriptor, body]))!).equals(payload)).toBe(true);
    }
  });

  it('reads past the compact encodings other peers write (list8, map8, array8, described values)', () => {
    const header = [0x00, 0x53, 0x70, 0xc0, 0x02, 0x01, 0x41]; // list8 [durable true]
    const annotations = [0x00, 0x53, 0x72, 0xc1, 0x06, 0x02, 0xa3, 0x01, 0x78, 0x50, 0x07]; // map8 {x: ubyte 7}
    const array = [0xe0, 0x04, 0x02, 0x50, 0x01, 0x02]; // array8 of two ubytes
    const described = [0x00, 0x53, 0x01, 0xa1, 0x01, 0x7a]; // a described string
    const entries = [0xa1, 0x01, 0x61, ...array, 0xa1, 0x01, 0x62, ...described];
    const properties = [0x00, 0x53, 0x74, 0xc1, entries.length + 1, 0x04, ...entries];
    const body = [0x00, 0x53, 0x75, 0xa0, payload.length, ...payload];
    const bytes = Buffer.from([...header, ...annotations, ...properties, ...body]);
    expect(Buffer.from(messageBody(bytes)!).equals(payload)).toBe(true);
  });

  it('answers undefined for no body, a cut message and a foreign constructor', () => {
    expect(messageBody(rhea.message.encode({ subject: 'no body' }))).toBeUndefined();
    const whole = rhea.message.encode({ ...everySection, body: rhea.message.data_section(payload) });
    for (let cut = 1; cut < whole.length; cut += 7)
      expect(messageBody(whole.subarray(0, cut))).toBeUndefined();
    expect(messageBody(Buffer.from([0x00, 0x53, 0x70, 0x21]))).toBeUndefined();
    expect(messageBody(Buffer.from([0x45]))).toBeUndefined();
  });

  it('finds any payload behind any header, annotations and properties rhea writes', () => {
    const sections = fc.record(
      {
        durable: fc.boolean(),
        priority: fc.integer({ min: 0, max: 255 }),
        message_annotations: fc.dictionary(fc.string({ minLength: 1 }), fc.oneof(fc.string(), fc.integer())),
        subject: fc.string(),
        application_properties: fc.dictionary(
          fc.string({ minLength: 1 }),
          fc.oneof(fc.string(), fc.boolean()),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(sections, fc.uint8Array({ maxLength: 600 }), (message, bytes) => {
        const body = Buffer.from(bytes);
        const encoded = rhea.message.encode({ ...message, body: rhea.message.data_section(body) });
        expect(Buffer.from(messageBody(encoded)!).equals(body)).toBe(true);
      }),
    );
  });

  it("replaces a message module's decode with one that gives only the body", () => {
    const module = { decode: (_bytes: Buffer): unknown => ({ everything: true }) };
    decodeBodiesOnly(module);
    const decoded = module.decode(
      rhea.message.encode({ subject: 's', body: rhea.message.data_section(payload) }),
    );
    expect(Buffer.from((decoded as { body: Uint8Array }).body).equals(payload)).toBe(true);
  });
});

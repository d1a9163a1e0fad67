/**
 * The load generator's pre-encoded AMQP messages: each send's bytes are what rhea's encoder makes of the same
 * message, with the publisher, sequence and send time where the receiver looks for them.
 */
import rhea from 'rhea';
import { describe, expect, it } from 'vitest';
import { EncodedMessages } from '../bench/e2e/amqp-messages';
import { decodePayload, HEADER_BYTES } from '../bench/e2e/payload';

function body(bytes: Buffer): Buffer {
  const message = rhea.message.decode(bytes);
  const content = (message.body as { content?: unknown }).content;
  if (!Buffer.isBuffer(content)) throw new Error('no data section');
  return content;
}

describe("the generator's AMQP messages", () => {
  for (const durable of [false, true]) {
    it(`decode as rhea's encoding of the same message (durable ${durable})`, () => {
      const messages = new EncodedMessages(7, 64, durable);
      const first = messages.next(41);
      const second = messages.next(42);
      const decoded = rhea.message.decode(first);
      expect(decoded.durable).toBe(durable);
      expect(body(first)).toHaveLength(64);
      expect(body(first).subarray(0, 4).toString('latin1')).toBe('DRGB');
      const stamped = decodePayload(body(first));
      expect(stamped?.publisher).toBe(7);
      expect(stamped?.sequence).toBe(41);
      expect(decodePayload(body(second))?.sequence).toBe(42);
      // Byte for byte what rhea's encoder makes of the message with the same payload.
      const again = rhea.message.encode({ durable, body: rhea.message.data_section(body(first)) });
      expect(first.equals(again)).toBe(true);
      // The bytes after the header are the template's, untouched.
      expect(body(first).subarray(HEADER_BYTES).equals(body(second).subarray(HEADER_BYTES))).toBe(true);
    });
  }

  it('gives each send its own bytes', () => {
    const messages = new EncodedMessages(1, 64, false);
    const first = messages.next(1);
    messages.next(2);
    expect(decodePayload(body(first))?.sequence).toBe(1);
  });
});

/**
 * The generator's AMQP receivers only need a message's body, where the payload is. rhea decodes every section
 * into objects (a quarter of the generator's CPU when it receives over AMQP); this reads past the other
 * sections by their encoded sizes and hands back the body's bytes, so the generator measures its target.
 */

/** Descriptors of the two body sections the generator reads (AMQP 1.0 §3.2.6 data, §3.2.8 amqp-value). */
const DATA = 0x75;
const AMQP_VALUE = 0x77;
const SYMBOLIC_SECTIONS: Readonly<Record<string, number>> = {
  'amqp:data:binary': DATA,
  'amqp:amqp-value:*': AMQP_VALUE,
};

class MalformedMessage extends Error {}

function need(bytes: Uint8Array, end: number): void {
  if (end > bytes.length) throw new MalformedMessage(`message ends at ${bytes.length}, a value needs ${end}`);
}

function readSize(bytes: Uint8Array, at: number, width: 1 | 4): number {
  need(bytes, at + width);
  if (width === 1) return bytes[at]!;
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/**
 * Where the value encoded at `at` ends. The constructor's high nibble gives every primitive's width (§1.6):
 * 0x4–0x9 fixed widths, 0xa–0xf a 1- or 4-byte size before the bytes (variable, compound and array alike), so a
 * list or map is passed over whole. A described value (0x00) only starts a section, which messageBody reads.
 */
function valueEnd(bytes: Uint8Array, at: number): number {
  need(bytes, at + 1);
  const code = bytes[at]!;
  const category = code >> 4;
  const fixed = [0, 1, 2, 4, 8, 16][category - 4];
  if (fixed !== undefined) return at + 1 + fixed;
  if (category >= 0xa) {
    const width = category % 2 === 0 ? 1 : 4;
    const end = at + 1 + width + readSize(bytes, at + 1, width);
    need(bytes, end);
    return end;
  }
  throw new MalformedMessage(`constructor 0x${code.toString(16)} at ${at} is not a section's value`);
}

/** The section descriptor at `at` as a number (0x70–0x78), or -1 for one this module does not read. */
function descriptorCode(bytes: Uint8Array, at: number, end: number): number {
  const code = bytes[at];
  if (code === 0x53) return bytes[at + 1]!;
  if (code === 0x80) return readSize(bytes, at + 1, 4) === 0 ? readSize(bytes, at + 5, 4) : -1;
  if (code === 0xa3 || code === 0xb3) {
    const width = code === 0xa3 ? 1 : 4;
    const name = Buffer.from(bytes.buffer, bytes.byteOffset + at + 1 + width, end - at - 1 - width);
    return SYMBOLIC_SECTIONS[name.toString('latin1')] ?? -1;
  }
  return -1;
}

/** A binary or string value's bytes. */
function valueBytes(bytes: Uint8Array, at: number, end: number): Uint8Array | undefined {
  const code = bytes[at];
  // vbin8, str8-utf8, vbin32, str32-utf8
  if (code === 0xa0 || code === 0xa1) return bytes.subarray(at + 2, end);
  if (code === 0xb0 || code === 0xb1) return bytes.subarray(at + 5, end);
  return undefined;
}

/**
 * The bytes of a message's first data section, or of its amqp-value when that is binary or a string; undefined
 * when it has neither or is malformed (the generator then counts a stray).
 */
export function messageBody(bytes: Uint8Array): Uint8Array | undefined {
  try {
    let at = 0;
    while (at < bytes.length) {
      if (bytes[at] !== 0x00) return undefined;
      const valueAt = valueEnd(bytes, at + 1);
      const code = descriptorCode(bytes, at + 1, valueAt);
      const end = valueEnd(bytes, valueAt);
      if (code === DATA || code === AMQP_VALUE) return valueBytes(bytes, valueAt, end);
      at = end;
    }
    return undefined;
  } catch (error) {
    if (error instanceof MalformedMessage) return undefined;
    throw error;
  }
}

/** rhea's message module, as far as the generator replaces it. */
export interface RheaMessageModule {
  decode(bytes: Buffer): unknown;
}

/**
 * Makes rhea hand every receiver of this process `{ body }` with the body's bytes instead of a fully decoded
 * message. Only the generator's process does this; its receivers read nothing else.
 */
export function decodeBodiesOnly(rheaMessage: RheaMessageModule): void {
  rheaMessage.decode = (bytes) => ({ body: messageBody(bytes) });
}

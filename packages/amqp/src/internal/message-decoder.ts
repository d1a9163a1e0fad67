// A direct AMQP 1.0 message decoder for the common message shapes, the counterpart of message-encoder.ts: it
// reads a transfer's payload straight into an `AmqpMessage` instead of rhea's typed-value tree, rhea's flat
// message object and then `fromRhea` (rhea's decoder allocates a wrapper object per field and value, and with
// its encoder most of the garbage of a transfer). The result is what `fromRhea(rhea.message.decode(bytes))`
// gives, value for value (numbers, strings, Buffers viewing the payload, Dates, arrays and plain objects for
// lists and maps). `decodeFast` returns undefined for anything it does not cover (arrays, described values
// inside sections, decimals, symbolic section descriptors, unknown or repeated body sections, malformed input):
// the caller then uses rhea's decoder, which also reports malformed input its own way.
import type { AmqpBody, AmqpHeader, AmqpMessage, AmqpProperties } from '../message';
import { PROPERTY_FIELDS } from './property-fields';

/** Thrown inside the decoder to give up; never escapes `decodeFast`. */
const GIVE_UP = Symbol('dragoman.decode.giveUp');

const TWO_32 = 4294967296;
/** rhea reads a (u)long as a number while its high word is below this, as 8 bytes otherwise. */
const LONG_HIGH_LIMIT = 2097153;

let input: Buffer = Buffer.alloc(0);
let at = 0;

function need(bytes: number): void {
  if (at + bytes > input.length) throw GIVE_UP;
}

function u8(): number {
  need(1);
  return input[at++] as number;
}

function u32(): number {
  need(4);
  const value = input.readUInt32BE(at);
  at += 4;
  return value;
}

function bytes(length: number): Buffer {
  need(length);
  const start = at;
  at += length;
  return input.subarray(start, at);
}

function text(length: number, encoding: 'utf8' | 'ascii'): string {
  need(length);
  const start = at;
  at += length;
  return input.toString(encoding, start, at);
}

/** rhea's read_ulong / read_long: a number while exact, else the 8 bytes. */
function long(signed: boolean): number | Buffer {
  need(8);
  const hi = signed ? input.readInt32BE(at) : input.readUInt32BE(at);
  const lo = input.readUInt32BE(at + 4);
  const start = at;
  at += 8;
  if (hi < LONG_HIGH_LIMIT && hi > -LONG_HIGH_LIMIT) return hi * TWO_32 + lo;
  return input.subarray(start, at);
}

/** One value as rhea's `types.unwrap` gives it (lists as arrays, maps as plain objects). */
function value(): unknown {
  const code = u8();
  switch (code) {
    case 0x40:
      return null;
    case 0x41:
      return true;
    case 0x42:
      return false;
    case 0x56:
      return u8();
    case 0x43:
    case 0x44:
      return 0;
    case 0x50:
    case 0x52:
    case 0x53:
      return u8();
    case 0x51:
    case 0x54:
    case 0x55: {
      need(1);
      return input.readInt8(at++);
    }
    case 0x60: {
      need(2);
      const v = input.readUInt16BE(at);
      at += 2;
      return v;
    }
    case 0x61: {
      need(2);
      const v = input.readInt16BE(at);
      at += 2;
      return v;
    }
    case 0x70:
    case 0x73:
      return u32();
    case 0x71: {
      need(4);
      const v = input.readInt32BE(at);
      at += 4;
      return v;
    }
    case 0x72: {
      need(4);
      const v = input.readFloatBE(at);
      at += 4;
      return v;
    }
    case 0x82: {
      need(8);
      const v = input.readDoubleBE(at);
      at += 8;
      return v;
    }
    case 0x80:
      return long(false);
    case 0x81:
      return long(true);
    case 0x83: {
      const ms = long(true);
      if (typeof ms !== 'number') throw GIVE_UP;
      return new Date(ms);
    }
    case 0x98:
      return bytes(16);
    case 0xa0:
      return bytes(u8());
    case 0xb0:
      return bytes(u32());
    case 0xa1:
      return text(u8(), 'utf8');
    case 0xb1:
      return text(u32(), 'utf8');
    case 0xa3:
      return text(u8(), 'ascii');
    case 0xb3:
      return text(u32(), 'ascii');
    case 0x45:
      return [];
    case 0xc0:
      return list(u8(), u8(), 1);
    case 0xd0:
      return list(u32(), u32(), 4);
    case 0xc1:
      return map(u8(), u8(), 1);
    case 0xd1:
      return map(u32(), u32(), 4);
    default:
      // Described values, arrays, decimals, unknown codes: rhea's decoder.
      throw GIVE_UP;
  }
}

/** The items of a list whose size (counted after the size field) and count have been read. */
function list(size: number, count: number, width: number): unknown[] {
  const end = at + size - width;
  if (end > input.length) throw GIVE_UP;
  const items = new Array<unknown>(count);
  for (let i = 0; i < count; i++) items[i] = value();
  if (at !== end) throw GIVE_UP;
  return items;
}

/** A map as rhea's `mapify` builds it: a plain object keyed by the keys' string forms, later keys winning. */
function map(size: number, count: number, width: number): Record<string, unknown> {
  const end = at + size - width;
  if (end > input.length || count % 2 !== 0) throw GIVE_UP;
  const result: Record<string, unknown> = {};
  for (let i = 0; i < count; i += 2) {
    const key = value();
    // Only keys whose string form rhea would use the same way (no objects; no prototype setter).
    if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') throw GIVE_UP;
    const name = String(key);
    if (name === '__proto__') throw GIVE_UP;
    result[name] = value();
  }
  if (at !== end) throw GIVE_UP;
  return result;
}

/** A composite section's list of fields (header, properties). */
function fields(): unknown[] {
  const code = u8();
  if (code === 0x45) return [];
  if (code === 0xc0) return list(u8(), u8(), 1);
  if (code === 0xd0) return list(u32(), u32(), 4);
  throw GIVE_UP;
}

/** A map section (annotations, application properties, footer). */
function mapSection(): Record<string, unknown> {
  const code = u8();
  if (code === 0xc1) return map(u8(), u8(), 1);
  if (code === 0xd1) return map(u32(), u32(), 4);
  throw GIVE_UP;
}

/** rhea copies a composite field only when it is present (not null). */
function present(field: unknown): boolean {
  return field !== undefined && field !== null;
}

function header(list: unknown[]): AmqpHeader | undefined {
  const [durable, priority, ttl, firstAcquirer, deliveryCount] = list;
  if (!present(durable) && !present(priority) && !present(ttl) && !present(firstAcquirer)) {
    if (!present(deliveryCount)) return undefined;
  }
  const result: { -readonly [K in keyof AmqpHeader]: AmqpHeader[K] } = {};
  if (present(durable)) result.durable = durable as boolean;
  if (present(priority)) result.priority = priority as number;
  if (present(ttl)) result.ttl = ttl as number;
  if (present(firstAcquirer)) result.firstAcquirer = firstAcquirer as boolean;
  if (present(deliveryCount)) result.deliveryCount = deliveryCount as number;
  return result;
}

function properties(list: unknown[]): AmqpProperties | undefined {
  let result: Record<string, unknown> | undefined;
  const count = Math.min(list.length, PROPERTY_FIELDS.length);
  for (let i = 0; i < count; i++) {
    const field = list[i];
    if (!present(field)) continue;
    result ??= {};
    result[PROPERTY_FIELDS[i] as string] = field;
  }
  return result as AmqpProperties | undefined;
}

interface Sections {
  header: unknown[] | undefined;
  deliveryAnnotations: Record<string, unknown> | undefined;
  messageAnnotations: Record<string, unknown> | undefined;
  properties: unknown[] | undefined;
  applicationProperties: Record<string, unknown> | undefined;
  footer: Record<string, unknown> | undefined;
  body: AmqpBody | undefined;
}

/** Reads every section; several data sections are joined into one body, as `fromRhea` does. */
function readSections(sections: Sections): void {
  let data: Buffer[] | undefined;
  let bodyKind = 0;
  while (at < input.length) {
    if (u8() !== 0x00) throw GIVE_UP;
    const descriptorCode = u8();
    let descriptor: number;
    if (descriptorCode === 0x53) descriptor = u8();
    else if (descriptorCode === 0x80) {
      const code = long(false);
      if (typeof code !== 'number') throw GIVE_UP;
      descriptor = code;
    } else throw GIVE_UP; // symbolic descriptors: rhea's decoder
    switch (descriptor) {
      case 0x70:
        // rhea merges the fields of a repeated header or properties section: its decoder does that.
        if (sections.header !== undefined) throw GIVE_UP;
        sections.header = fields();
        break;
      case 0x71:
        sections.deliveryAnnotations = mapSection();
        break;
      case 0x72:
        sections.messageAnnotations = mapSection();
        break;
      case 0x73:
        if (sections.properties !== undefined) throw GIVE_UP;
        sections.properties = fields();
        break;
      case 0x74:
        sections.applicationProperties = mapSection();
        break;
      case 0x75: {
        // rhea keeps data sections only while no other body section came first.
        if (bodyKind !== 0 && bodyKind !== 0x75) throw GIVE_UP;
        const chunk = value();
        if (!Buffer.isBuffer(chunk)) throw GIVE_UP;
        if (bodyKind === 0) {
          bodyKind = 0x75;
          data = [chunk];
        } else (data as Buffer[]).push(chunk);
        break;
      }
      case 0x77:
        if (bodyKind !== 0) throw GIVE_UP;
        bodyKind = 0x77;
        sections.body = { type: 'value', value: value() };
        break;
      case 0x78:
        sections.footer = mapSection();
        break;
      default:
        // amqp-sequence bodies and unknown sections: rhea's decoder.
        throw GIVE_UP;
    }
  }
  if (data !== undefined) {
    sections.body = { type: 'data', data: data.length === 1 ? (data[0] as Buffer) : Buffer.concat(data) };
  }
}

/** The message in a transfer's payload, or undefined when rhea's decoder must read it. */
export function decodeFast(payload: Buffer): AmqpMessage | undefined {
  input = payload;
  at = 0;
  const sections: Sections = {
    header: undefined,
    deliveryAnnotations: undefined,
    messageAnnotations: undefined,
    properties: undefined,
    applicationProperties: undefined,
    footer: undefined,
    body: undefined,
  };
  try {
    readSections(sections);
  } catch (error) {
    if (error === GIVE_UP || error instanceof RangeError) return undefined;
    throw error;
  } finally {
    input = EMPTY;
  }
  const result: { -readonly [K in keyof AmqpMessage]: AmqpMessage[K] } = {};
  const h = sections.header === undefined ? undefined : header(sections.header);
  if (h !== undefined) result.header = h;
  const p = sections.properties === undefined ? undefined : properties(sections.properties);
  if (p !== undefined) result.properties = p;
  if (sections.deliveryAnnotations !== undefined) result.deliveryAnnotations = sections.deliveryAnnotations;
  if (sections.messageAnnotations !== undefined) result.messageAnnotations = sections.messageAnnotations;
  if (sections.applicationProperties !== undefined) {
    result.applicationProperties = sections.applicationProperties as AmqpMessage['applicationProperties'];
  }
  if (sections.footer !== undefined) result.footer = sections.footer;
  if (sections.body !== undefined) result.body = sections.body;
  return result;
}

const EMPTY = Buffer.alloc(0);

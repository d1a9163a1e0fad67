// A direct AMQP 1.0 message encoder for the common message shapes: it writes the sections straight into one
// buffer instead of building rhea's typed-value tree first (rhea's message.encode allocates a wrapper object per
// field and value, and most of the garbage of a transfer). Values get the same AMQP types rhea's `types.wrap`
// gives them, so a peer cannot tell the two apart. `encodeFast` returns undefined for anything it does not
// cover (delivery annotations, footers, sequence bodies, nested or rhea-typed values, binary message ids):
// the caller then uses rhea's encoder.
import type { AmqpHeader, AmqpMessage, AmqpProperties } from '../message';
import { PROPERTY_FIELDS } from './property-fields';

const MAX_UINT = 4294967295;
const MIN_INT = -2147483648;

/** Grows by doubling; reused across messages (the result is copied out). */
let scratch = Buffer.allocUnsafe(4096);
let at = 0;

function room(bytes: number): void {
  if (at + bytes <= scratch.length) return;
  let size = scratch.length * 2;
  while (size < at + bytes) size *= 2;
  const next = Buffer.allocUnsafe(size);
  scratch.copy(next, 0, 0, at);
  scratch = next;
}

function byte(value: number): void {
  room(1);
  scratch[at++] = value;
}

function u32(value: number): void {
  room(4);
  scratch.writeUInt32BE(value, at);
  at += 4;
}

function writeNull(): void {
  byte(0x40);
}

function writeBoolean(value: boolean): void {
  byte(value ? 0x41 : 0x42);
}

function writeUbyte(value: number): void {
  byte(0x50);
  byte(value);
}

const TWO_32 = 4294967296;

/**
 * A safe integer as 8 bytes, two's complement (ulong, long, timestamp): written as two 32-bit words, without the
 * BigInt a writeBig(U)Int64BE would need per value. The caller has made room.
 */
function write64(value: number): void {
  const high = Math.floor(value / TWO_32);
  scratch.writeInt32BE(high | 0, at);
  scratch.writeUInt32BE(value - high * TWO_32, at + 4);
}

function writeUint(value: number): void {
  if (value === 0) byte(0x43);
  else if (value <= 255) {
    byte(0x52);
    byte(value);
  } else {
    byte(0x70);
    u32(value);
  }
}

function writeUlong(value: number): void {
  if (value === 0) byte(0x44);
  else if (value <= 255) {
    byte(0x53);
    byte(value);
  } else {
    byte(0x80);
    room(8);
    write64(value);
    at += 8;
  }
}

function writeInt(value: number): void {
  if (value >= -128 && value <= 127) {
    byte(0x54);
    room(1);
    scratch.writeInt8(value, at++);
  } else {
    byte(0x71);
    room(4);
    scratch.writeInt32BE(value, at);
    at += 4;
  }
}

function writeLong(value: number): void {
  if (value >= -128 && value <= 127) {
    byte(0x55);
    room(1);
    scratch.writeInt8(value, at++);
  } else {
    byte(0x81);
    room(8);
    write64(value);
    at += 8;
  }
}

function writeTimestamp(ms: number): void {
  byte(0x83);
  room(8);
  const whole = Math.trunc(ms);
  // An invalid Date: rhea's encoder says what it makes of it.
  if (!Number.isSafeInteger(whole)) throw new RangeError('timestamp out of range');
  write64(whole);
  at += 8;
}

/** str8/str32 (utf8) or sym8/sym32 (ascii), as rhea's wrap_string / wrap_symbol choose. */
function writeText(value: string, small: number, large: number, encoding: 'utf8' | 'ascii'): void {
  const length = encoding === 'utf8' ? Buffer.byteLength(value, 'utf8') : value.length;
  room(5 + length);
  if (length > 255) {
    scratch[at++] = large;
    scratch.writeUInt32BE(length, at);
    at += 4;
  } else {
    scratch[at++] = small;
    scratch[at++] = length;
  }
  at += scratch.write(value, at, length, encoding);
}

function writeString(value: string): void {
  writeText(value, 0xa1, 0xb1, 'utf8');
}

function writeSymbol(value: string): void {
  writeText(value, 0xa3, 0xb3, 'ascii');
}

function writeBinary(value: Uint8Array): void {
  const length = value.byteLength;
  room(5 + length);
  if (length > 255) {
    scratch[at++] = 0xb0;
    scratch.writeUInt32BE(length, at);
    at += 4;
  } else {
    scratch[at++] = 0xa0;
    scratch[at++] = length;
  }
  scratch.set(value, at);
  at += length;
}

/** A number as rhea's `types.wrap` types it; false when it cannot be written exactly (unsafe integers). */
function writeNumber(value: number): boolean {
  if (Number.isNaN(value)) writeNull();
  else if (Math.floor(value) - value !== 0) {
    byte(0x82);
    room(8);
    scratch.writeDoubleBE(value, at);
    at += 8;
  } else if (!Number.isSafeInteger(value)) return false;
  else if (value > 0) {
    if (value < MAX_UINT) writeUint(value);
    else writeUlong(value);
  } else if (value > MIN_INT) writeInt(value);
  else writeLong(value);
  return true;
}

/** A simple value as rhea's `types.wrap` types it; false for values left to rhea (objects, arrays, typed). */
function writeValue(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
      writeString(value);
      return true;
    case 'boolean':
      writeBoolean(value);
      return true;
    case 'number':
      return writeNumber(value);
    case 'undefined':
      writeNull();
      return true;
    case 'object':
      if (value === null) {
        writeNull();
        return true;
      }
      if (value instanceof Date) {
        writeTimestamp(value.getTime());
        return true;
      }
      if (value instanceof Uint8Array) {
        writeBinary(value);
        return true;
      }
      if (typeof (value as Partial<TypedSource>).toRheaTyped === 'function') {
        return writeTyped((value as TypedSource).toRheaTyped());
      }
      return false;
    default:
      return false;
  }
}

/** Starts a described section: 0x00, smallulong descriptor. */
function described(code: number): void {
  byte(0x00);
  byte(0x53);
  byte(code);
}

/** Opens a list32/map32 and returns where its size goes; `close` fills size and count in. */
function open(code: number): number {
  byte(code);
  const sizeAt = at;
  room(8);
  at += 8;
  return sizeAt;
}

function close(sizeAt: number, count: number): void {
  scratch.writeUInt32BE(at - sizeAt - 4, sizeAt);
  scratch.writeUInt32BE(count, sizeAt + 4);
}

/** A map section: keys as symbols (annotations) or strings (application properties). */
function writeMap(entries: Readonly<Record<string, unknown>>, symbolKeys: boolean): boolean {
  const sizeAt = open(0xd1);
  let count = 0;
  for (const key in entries) {
    if (symbolKeys) writeSymbol(key);
    else writeString(key);
    if (!writeValue(entries[key])) return false;
    count += 2;
  }
  close(sizeAt, count);
  return true;
}

/**
 * A value that carries its own AMQP type through rhea's `toRheaTyped()` hook (e.g. @dragoman/mqtt-amqp's
 * `int` QoS): a type descriptor (typecode, width, category, writer) and the value, written as rhea's
 * `Writer.write` would. Only fixed-width types without a descriptor are written here; false otherwise.
 */
interface TypedSource {
  toRheaTyped(): unknown;
}

interface RheaTyped {
  readonly type?: {
    readonly typecode?: unknown;
    readonly width?: unknown;
    readonly category?: unknown;
    readonly write?: unknown;
  };
  readonly value?: unknown;
  readonly descriptor?: unknown;
}

/** rhea's category of fixed-width types. */
const FIXED_WIDTH = 1;

function writeTyped(typed: unknown): boolean {
  if (typeof typed !== 'object' || typed === null) return false;
  const { type, value, descriptor } = typed as RheaTyped;
  if (type === undefined || descriptor !== undefined) return false;
  const { typecode, width, category, write } = type;
  if (typeof typecode !== 'number' || typeof width !== 'number' || category !== FIXED_WIDTH) return false;
  if (width === 0) {
    byte(typecode);
    return true;
  }
  if (typeof write !== 'function') return false;
  byte(typecode);
  room(width);
  (write as (buffer: Buffer, value: unknown, offset: number) => void)(scratch, value, at);
  at += width;
  return true;
}

// A composite section (header, properties) is a list of its fields with trailing absent fields left out.
// Each field writer writes a null for an absent field and returns false for a value of the wrong type (the
// caller then gives the whole message to rhea's encoder).

function absent(value: unknown): boolean {
  return value === undefined || value === null;
}

function flagField(value: unknown): boolean {
  if (absent(value)) writeNull();
  else if (typeof value === 'boolean') writeBoolean(value);
  else return false;
  return true;
}

/** ubyte or uint within range; anything else is left to rhea's encoder and its errors. */
function unsignedField(value: unknown, max: number): boolean {
  if (absent(value)) writeNull();
  else if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) return false;
  else if (max === 255) writeUbyte(value);
  else writeUint(value);
  return true;
}

function stringField(value: unknown): boolean {
  if (absent(value)) writeNull();
  else if (typeof value === 'string') writeString(value);
  else return false;
  return true;
}

function symbolField(value: unknown): boolean {
  if (absent(value)) writeNull();
  else if (typeof value === 'string') writeSymbol(value);
  else return false;
  return true;
}

function binaryField(value: unknown): boolean {
  if (absent(value)) writeNull();
  else if (value instanceof Uint8Array) writeBinary(value);
  else return false;
  return true;
}

function timestampField(value: unknown): boolean {
  if (absent(value)) writeNull();
  else if (value instanceof Date) writeTimestamp(value.getTime());
  else return false;
  return true;
}

/** message-id / correlation-id: string or ulong here; binary (uuid) and typed ids go to rhea's encoder. */
function messageIdField(value: unknown): boolean {
  if (absent(value)) writeNull();
  else if (typeof value === 'string') writeString(value);
  else if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) writeUlong(value);
  else return false;
  return true;
}

function writeHeader(header: AmqpHeader): boolean {
  const count = !absent(header.deliveryCount)
    ? 5
    : !absent(header.firstAcquirer)
      ? 4
      : !absent(header.ttl)
        ? 3
        : !absent(header.priority)
          ? 2
          : !absent(header.durable)
            ? 1
            : 0;
  if (count === 0) {
    byte(0x45);
    return true;
  }
  const sizeAt = open(0xd0);
  if (!flagField(header.durable)) return false;
  if (count > 1 && !unsignedField(header.priority, 255)) return false;
  if (count > 2 && !unsignedField(header.ttl, MAX_UINT)) return false;
  if (count > 3 && !flagField(header.firstAcquirer)) return false;
  if (count > 4 && !unsignedField(header.deliveryCount, MAX_UINT)) return false;
  close(sizeAt, count);
  return true;
}

/** The field's position in the list, -1 for a name that is no properties field. */
function propertyIndex(name: string): number {
  switch (name) {
    case 'messageId':
      return 0;
    case 'userId':
      return 1;
    case 'to':
      return 2;
    case 'subject':
      return 3;
    case 'replyTo':
      return 4;
    case 'correlationId':
      return 5;
    case 'contentType':
      return 6;
    case 'contentEncoding':
      return 7;
    case 'absoluteExpiryTime':
      return 8;
    case 'creationTime':
      return 9;
    case 'groupId':
      return 10;
    case 'groupSequence':
      return 11;
    case 'replyToGroupId':
      return 12;
    default:
      return -1;
  }
}

/** The properties' values by position, filled for one message and emptied after it. */
const propertyValues: unknown[] = PROPERTY_FIELDS.map(() => undefined);

function propertyField(index: number, value: unknown): boolean {
  switch (index) {
    case 0:
    case 5:
      return messageIdField(value);
    case 1:
      return binaryField(value);
    case 6:
    case 7:
      return symbolField(value);
    case 8:
    case 9:
      return timestampField(value);
    case 11:
      return unsignedField(value, MAX_UINT);
    default:
      return stringField(value);
  }
}

function writeProperties(p: AmqpProperties): boolean {
  // The names present are few (the bridge's messages carry one or two of thirteen): walk those, rather than
  // looking each of the thirteen up (most lookups would miss, on objects of several shapes).
  let count = 0;
  for (const name in p) {
    const index = propertyIndex(name);
    if (index < 0) continue;
    const value = (p as Record<string, unknown>)[name];
    if (absent(value)) continue;
    propertyValues[index] = value;
    if (index >= count) count = index + 1;
  }
  if (count === 0) {
    byte(0x45);
    return true;
  }
  const sizeAt = open(0xd0);
  let ok = true;
  for (let i = 0; i < count; i++) {
    if (ok) ok = propertyField(i, propertyValues[i]);
    propertyValues[i] = undefined;
  }
  if (!ok) return false;
  close(sizeAt, count);
  return true;
}

function encodeSections(message: AmqpMessage): boolean {
  const header = message.header;
  if (header !== undefined) {
    described(0x70);
    if (!writeHeader(header)) return false;
  }
  if (message.messageAnnotations !== undefined) {
    described(0x72);
    if (!writeMap(message.messageAnnotations, true)) return false;
  }
  const p = message.properties;
  if (p !== undefined) {
    described(0x73);
    if (!writeProperties(p)) return false;
  }
  if (message.applicationProperties !== undefined) {
    described(0x74);
    if (!writeMap(message.applicationProperties, false)) return false;
  }
  const body = message.body;
  if (body === undefined) {
    // A bare message needs a body section: an amqp-value null, as rhea writes it.
    described(0x77);
    writeNull();
    return true;
  }
  if (body.type === 'data') {
    described(0x75);
    writeBinary(body.data);
    return true;
  }
  if (body.type === 'value') {
    described(0x77);
    return writeValue(body.value);
  }
  return false;
}

/** Whether the fields are all of the types this encoder writes (it checks them before writing anything). */
function simpleShape(message: AmqpMessage): boolean {
  if (message.deliveryAnnotations !== undefined || message.footer !== undefined) return false;
  // The fields' types are checked as they are written (a writer returns false to give up).
  const body = message.body;
  return (
    body === undefined || (body.type === 'data' && body.data instanceof Uint8Array) || body.type === 'value'
  );
}

/** The encoded message (a fresh buffer), or undefined when rhea's encoder must do it. */
export function encodeFast(message: AmqpMessage): Buffer | undefined {
  if (!simpleShape(message)) return undefined;
  at = 0;
  try {
    if (!encodeSections(message)) return undefined;
  } catch {
    return undefined; // e.g. an out-of-range header field: rhea's encoder reports it its own way
  }
  const out = Buffer.allocUnsafe(at);
  scratch.copy(out, 0, 0, at);
  return out;
}

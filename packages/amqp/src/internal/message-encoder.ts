// A direct AMQP 1.0 message encoder for the common message shapes: it writes the sections straight into one
// buffer instead of building rhea's typed-value tree first (rhea's message.encode allocates a wrapper object per
// field and value, and most of the garbage of a transfer). Values get the same AMQP types rhea's `types.wrap`
// gives them, so a peer cannot tell the two apart. `encodeFast` returns undefined for anything it does not
// cover (delivery annotations, footers, sequence bodies, nested or rhea-typed values, binary message ids):
// the caller then uses rhea's encoder.
import type { AmqpMessage } from '../message';

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

/** An unsigned field (ubyte, uint) within range; anything else is left to rhea's encoder and its errors. */
function unsigned(
  value: number | undefined,
  max: number,
  write: (value: number) => void,
): (() => boolean) | undefined {
  if (value === undefined || value === null) return undefined;
  return () => {
    if (!Number.isInteger(value) || value < 0 || value > max) return false;
    write(value);
    return true;
  };
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
    scratch.writeBigUInt64BE(BigInt(value), at);
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
    scratch.writeBigInt64BE(BigInt(value), at);
    at += 8;
  }
}

function writeTimestamp(ms: number): void {
  byte(0x83);
  room(8);
  scratch.writeBigInt64BE(BigInt(Math.trunc(ms)), at);
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

/** A composite's fields as a list32, trailing absent fields left out; each writer returns false to give up. */
function writeFields(fields: ReadonlyArray<(() => boolean) | undefined>): boolean {
  let last = fields.length - 1;
  while (last >= 0 && fields[last] === undefined) last--;
  if (last < 0) {
    byte(0x45);
    return true;
  }
  const sizeAt = open(0xd0);
  for (let i = 0; i <= last; i++) {
    const write = fields[i];
    if (write === undefined) writeNull();
    else if (!write()) return false;
  }
  close(sizeAt, last + 1);
  return true;
}

function messageId(value: unknown): (() => boolean) | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return () => (writeString(value), true);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)
    return () => (writeUlong(value), true);
  return () => false; // binary (uuid) and typed ids: rhea's encoder
}

function flag(value: boolean | undefined): (() => boolean) | undefined {
  if (value === undefined || value === null) return undefined;
  return () => {
    if (typeof value !== 'boolean') return false;
    writeBoolean(value);
    return true;
  };
}

function text(value: string | undefined, write: (value: string) => void): (() => boolean) | undefined {
  if (value === undefined || value === null) return undefined;
  return () => {
    if (typeof value !== 'string') return false;
    write(value);
    return true;
  };
}

function optional<T>(value: T | undefined, write: (value: T) => void): (() => boolean) | undefined {
  return value === undefined || value === null ? undefined : () => (write(value), true);
}

function encodeSections(message: AmqpMessage): boolean {
  const header = message.header;
  if (header !== undefined) {
    described(0x70);
    const ok = writeFields([
      flag(header.durable),
      unsigned(header.priority, 255, writeUbyte),
      unsigned(header.ttl, MAX_UINT, writeUint),
      flag(header.firstAcquirer),
      unsigned(header.deliveryCount, MAX_UINT, writeUint),
    ]);
    if (!ok) return false;
  }
  if (message.messageAnnotations !== undefined) {
    described(0x72);
    if (!writeMap(message.messageAnnotations, true)) return false;
  }
  const p = message.properties;
  if (p !== undefined) {
    described(0x73);
    const ok = writeFields([
      messageId(p.messageId),
      optional(p.userId, writeBinary),
      text(p.to, writeString),
      text(p.subject, writeString),
      text(p.replyTo, writeString),
      messageId(p.correlationId),
      text(p.contentType, writeSymbol),
      text(p.contentEncoding, writeSymbol),
      optional(p.absoluteExpiryTime, (d: Date) => writeTimestamp(d.getTime())),
      optional(p.creationTime, (d: Date) => writeTimestamp(d.getTime())),
      text(p.groupId, writeString),
      unsigned(p.groupSequence, MAX_UINT, writeUint),
      text(p.replyToGroupId, writeString),
    ]);
    if (!ok) return false;
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
  const p = message.properties;
  if (p !== undefined) {
    if (p.userId !== undefined && !(p.userId instanceof Uint8Array)) return false;
    if (p.absoluteExpiryTime !== undefined && !(p.absoluteExpiryTime instanceof Date)) return false;
    if (p.creationTime !== undefined && !(p.creationTime instanceof Date)) return false;
  }
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
  return Buffer.from(scratch.subarray(0, at));
}

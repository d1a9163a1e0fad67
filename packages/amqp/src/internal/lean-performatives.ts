// rhea builds each transfer, disposition and flow it writes as a typed-value tree: a setter per field wraps the
// value in a typed object, and encoding wraps the list and descriptor again — a dozen objects per frame, three
// frames per message. Here rhea's three factories (frames.transfer, frames.disposition, frames.flow) return an
// OutgoingPerformative instead: the fields object rhea passed, kept as it is. frame-writer.ts encodes it
// directly, to the bytes rhea's writer would produce (same list, same widths, null for a field passed as
// undefined); anywhere else rhea's writer asks it for `described()` and gets rhea's own typed tree. A field
// value this encoder does not cover (a transfer's delivery state, a flow's properties, a number that is not a
// uint, a delivery tag that is not a Buffer) or a missing mandatory field makes the factory rhea's own again,
// which then behaves, and throws, as it always did. The factories are rhea's module functions: replacing them
// is process-wide, and every writer of these frames gets the same bytes as before.
import rheaFrames from 'rhea/lib/frames.js';
import { FlowPerformative, TransferPerformative } from './frame-performatives';

type FieldKind = 'uint' | 'boolean' | 'ubyte' | 'binary' | 'state' | 'none';

interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  readonly mandatory?: boolean;
}

interface PerformativeSpec {
  readonly name: 'transfer' | 'disposition' | 'flow';
  readonly code: number;
  readonly fields: readonly FieldSpec[];
  /** Field name → index, for the list length. */
  readonly index: ReadonlyMap<string, number>;
}

function spec(name: PerformativeSpec['name'], code: number, fields: readonly FieldSpec[]): PerformativeSpec {
  return { name, code, fields, index: new Map(fields.map((field, i) => [field.name, i])) };
}

// AMQP 1.0 2.7.5, 2.7.6, 2.7.4, with the types rhea gives them. 'none' marks a field only rhea encodes.
const TRANSFER = spec('transfer', 0x14, [
  { name: 'handle', kind: 'uint', mandatory: true },
  { name: 'delivery_id', kind: 'uint' },
  { name: 'delivery_tag', kind: 'binary' },
  { name: 'message_format', kind: 'uint' },
  { name: 'settled', kind: 'boolean' },
  { name: 'more', kind: 'boolean' },
  { name: 'rcv_settle_mode', kind: 'ubyte' },
  { name: 'state', kind: 'none' },
  { name: 'resume', kind: 'boolean' },
  { name: 'aborted', kind: 'boolean' },
  { name: 'batchable', kind: 'boolean' },
]);
const DISPOSITION = spec('disposition', 0x15, [
  { name: 'role', kind: 'boolean', mandatory: true },
  { name: 'first', kind: 'uint', mandatory: true },
  { name: 'last', kind: 'uint' },
  { name: 'settled', kind: 'boolean' },
  { name: 'state', kind: 'state' },
  { name: 'batchable', kind: 'boolean' },
]);
const FLOW = spec('flow', 0x13, [
  { name: 'next_incoming_id', kind: 'uint' },
  { name: 'incoming_window', kind: 'uint', mandatory: true },
  { name: 'next_outgoing_id', kind: 'uint', mandatory: true },
  { name: 'outgoing_window', kind: 'uint', mandatory: true },
  { name: 'handle', kind: 'uint' },
  { name: 'delivery_count', kind: 'uint' },
  { name: 'link_credit', kind: 'uint' },
  { name: 'available', kind: 'uint' },
  { name: 'drain', kind: 'boolean' },
  { name: 'echo', kind: 'boolean' },
  { name: 'properties', kind: 'none' },
]);

type Fields = Record<string, unknown>;
type Factory = (fields: Fields) => { described(): unknown };

/** The writer frame-writer.ts encodes into (rhea's types.Writer). */
export interface TypedWriter {
  buffer: Buffer;
  position: number;
  write_uint(value: number, width: 1 | 2 | 4): void;
  write_bytes(bytes: Buffer): void;
  write(value: unknown): void;
}

const frames = rheaFrames as unknown as Record<string, Factory | undefined>;
/** rhea's own factories, kept for what this module hands back to them. */
const original = new Map<PerformativeSpec, Factory>();

/** A transfer, disposition or flow as rhea's factory was asked for it: the fields, not yet typed. */
export class OutgoingPerformative {
  readonly #spec: PerformativeSpec;
  readonly fields: Fields;
  /** How many fields the list holds: up to the last one rhea was given. */
  readonly #count: number;
  /** Made by `sentTransfer`: every field of the six is present and of its kind. */
  readonly #sentTransfer: boolean;

  constructor(performative: PerformativeSpec, fields: Fields, count: number, sentTransfer = false) {
    this.#spec = performative;
    this.fields = fields;
    this.#count = count;
    this.#sentTransfer = sentTransfer;
  }

  /**
   * The performative as frame-reader.ts reads it from the bytes `writeTo` writes: up to the list's count a field
   * is null when absent, a boolean as true or false; beyond it undefined. For a transfer or flow handed over as
   * an object (frame-hand-off.ts); undefined for a disposition, whose state only rhea's reader makes.
   */
  toRead(): TransferPerformative | FlowPerformative | undefined {
    const performative = this.#spec;
    if (this.#sentTransfer) return readSentTransfer(this.fields);
    let read: TransferPerformative | FlowPerformative;
    if (performative === TRANSFER) read = new TransferPerformative();
    else if (performative === FLOW) read = new FlowPerformative();
    else return undefined;
    const target = read as unknown as Fields;
    const fields = performative.fields;
    for (let i = 0; i < this.#count; i++) {
      const field = fields[i] as FieldSpec;
      const value = this.fields[field.name];
      target[field.name] =
        value === undefined || value === null ? null : field.kind === 'boolean' ? Boolean(value) : value;
    }
    return read;
  }

  /** rhea's typed tree for these fields, for rhea's own writer. */
  described(): unknown {
    const factory = original.get(this.#spec) as Factory;
    return factory(this.fields).described();
  }

  /** Appends the performative as rhea's writer would: described list32 (list0 when empty) of the fields. */
  writeTo(out: TypedWriter): void {
    out.write_uint(0x00, 1);
    out.write_uint(0x53, 1);
    out.write_uint(this.#spec.code, 1);
    const count = this.#count;
    if (count === 0) {
      out.write_uint(0x45, 1);
      return;
    }
    out.write_uint(0xd0, 1);
    const sizeAt = out.position;
    out.write_uint(0, 4); // the size, filled in below
    out.write_uint(count, 4);
    const fields = this.#spec.fields;
    for (let i = 0; i < count; i++) {
      const field = fields[i] as FieldSpec;
      writeField(out, field.kind, this.fields[field.name]);
    }
    out.buffer.writeUInt32BE(out.position - sizeAt - 4, sizeAt);
  }
}

function writeField(out: TypedWriter, kind: FieldKind, value: unknown): void {
  if (value === undefined || value === null) {
    out.write_uint(0x40, 1);
    return;
  }
  switch (kind) {
    case 'uint': {
      const n = value as number;
      if (n === 0) out.write_uint(0x43, 1);
      else if (n > 255) {
        out.write_uint(0x70, 1);
        out.write_uint(n, 4);
      } else {
        out.write_uint(0x52, 1);
        out.write_uint(n, 1);
      }
      return;
    }
    case 'boolean':
      out.write_uint(value ? 0x41 : 0x42, 1);
      return;
    case 'ubyte':
      out.write_uint(0x50, 1);
      out.write_uint(value as number, 1);
      return;
    case 'binary': {
      const bytes = value as Buffer;
      if (bytes.length > 255) {
        out.write_uint(0xb0, 1);
        out.write_uint(bytes.length, 4);
      } else {
        out.write_uint(0xa0, 1);
        out.write_uint(bytes.length, 1);
      }
      out.write_bytes(bytes);
      return;
    }
    case 'state':
      out.write(value); // already rhea's typed value (an outcome's `described()`)
      return;
    case 'none':
      throw new Error('unreachable: the factory leaves such fields to rhea');
  }
}

function isUint(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

/** Whether `value` is one this module encodes for a field of `kind` (absent and null always are). */
function covered(kind: FieldKind, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  switch (kind) {
    case 'uint':
      return isUint(value);
    case 'boolean':
      return true;
    case 'ubyte':
      return isUint(value) && (value as number) <= 255;
    case 'binary':
      return Buffer.isBuffer(value);
    case 'state':
      return typeof value === 'object' && (value as { type?: unknown }).type !== undefined;
    case 'none':
      return false;
  }
}

/** The factory that makes OutgoingPerformatives, or hands `fields` to rhea's when it cannot (see above). */
function leanFactory(performative: PerformativeSpec, rheaFactory: Factory): Factory {
  return (fields) => {
    let count = 0;
    for (const name in fields) {
      const index = performative.index.get(name);
      if (index === undefined) return rheaFactory(fields); // a field rhea would only set as a property
      const field = performative.fields[index] as FieldSpec;
      if (!covered(field.kind, fields[name])) return rheaFactory(fields);
      if (index >= count) count = index + 1;
    }
    for (const field of performative.fields) {
      if (field.mandatory && (fields[field.name] === undefined || fields[field.name] === null)) {
        return rheaFactory(fields);
      }
    }
    return new OutgoingPerformative(performative, fields, count);
  };
}

/** The fields of a transfer rhea's processing sends (lean-processing.ts), in the order of the list. */
export interface SentTransferFields {
  readonly handle: number;
  readonly delivery_id: number;
  readonly delivery_tag: unknown;
  readonly message_format: number;
  readonly settled: boolean;
  readonly more: boolean;
}

/** handle … more: the list of such a transfer has six fields. */
const SENT_TRANSFER_FIELDS = 6;

/** What frame-reader.ts reads from the bytes of such a transfer, made without the generic field walk. */
function readSentTransfer(fields: Record<string, unknown>): TransferPerformative {
  const sent = fields as unknown as SentTransferFields;
  const read = new TransferPerformative();
  read.handle = sent.handle;
  read.delivery_id = sent.delivery_id;
  read.delivery_tag = sent.delivery_tag as Buffer;
  read.message_format = sent.message_format;
  read.settled = Boolean(sent.settled);
  read.more = Boolean(sent.more);
  return read;
}

/**
 * The transfer rhea's processing sends for a delivery, with the factory's walk over the fields reduced to the
 * values that can fall outside what this module encodes: the tag's type, and the numbers (rhea never wraps a
 * delivery id). The flags are booleans by construction. rhea's factory otherwise, as before.
 */
export function sentTransfer(fields: SentTransferFields): unknown {
  const plain = fields as unknown as Fields;
  if (
    installed !== true ||
    !Buffer.isBuffer(fields.delivery_tag) ||
    !isUint(fields.delivery_id) ||
    !isUint(fields.handle) ||
    !isUint(fields.message_format)
  ) {
    return (frames.transfer as Factory)(plain);
  }
  return new OutgoingPerformative(TRANSFER, plain, SENT_TRANSFER_FIELDS, true);
}

let installed: boolean | undefined;

/** Replaces rhea's transfer, disposition and flow factories, once per process; false when rhea is not as known. */
export function installLeanPerformatives(): boolean {
  if (installed !== undefined) return installed;
  const performatives = [TRANSFER, DISPOSITION, FLOW];
  installed = performatives.every((performative) => typeof frames[performative.name] === 'function');
  if (!installed) return false; // not the rhea we know: its factories stay
  for (const performative of performatives) {
    const rheaFactory = frames[performative.name] as Factory;
    original.set(performative, rheaFactory);
    frames[performative.name] = leanFactory(performative, rheaFactory);
  }
  return true;
}

// rhea keeps a link's attach frame, its prepared detach frame and the peer's attach as typed-value trees for the
// link's whole life: a wrapper object per field, a list of them with room to spare, and the termini's own
// trees — about 1 KB per link, two links per idle MQTT client on each end of the gateway's connection. A lean
// frame holds the same fields as plain values: each field reads what rhea's getter would return, each
// assignment throws where rhea's setter would, and `described()` builds rhea's own typed tree on demand (at
// the one write of the frame), so rhea's writer and ours encode it to the same bytes.
//
// A field holds, by what was assigned: nothing (never assigned: reads undefined, encodes as a hole, as in
// rhea); null (null or undefined assigned to a field that may be null: reads null, encodes as AMQP null);
// the value itself when rhea's getter returns it unchanged (a string to a string field, a number to a number
// field, a boolean to a boolean field, any non-null value to a field of type '*', which rhea keeps as given);
// otherwise rhea's own typed value, made by rhea's setter and read through rhea's getter each time (maps,
// symbol arrays, errors, an AMQP null in a '*' field), exactly as rhea does. The peer's attach is read by
// rhea and made lean once rhea has handled it (after the open event), with its termini left as rhea made them.
import { rheaLogs } from './rhea-logging';

type FieldKind = 'string' | 'number' | 'boolean' | 'any' | 'typed';

interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  readonly mandatory?: boolean;
}

// AMQP 1.0 2.7.3 and 2.7.7 with rhea's field types: 'number' stands for uint, ubyte and ulong (rhea's getter
// returns the number it was given), 'typed' for the maps, symbol arrays and the error.
const ATTACH: readonly FieldSpec[] = [
  { name: 'name', kind: 'string', mandatory: true },
  { name: 'handle', kind: 'number', mandatory: true },
  { name: 'role', kind: 'boolean', mandatory: true },
  { name: 'snd_settle_mode', kind: 'number' },
  { name: 'rcv_settle_mode', kind: 'number' },
  { name: 'source', kind: 'any' },
  { name: 'target', kind: 'any' },
  { name: 'unsettled', kind: 'typed' },
  { name: 'incomplete_unsettled', kind: 'boolean' },
  { name: 'initial_delivery_count', kind: 'number' },
  { name: 'max_message_size', kind: 'number' },
  { name: 'offered_capabilities', kind: 'typed' },
  { name: 'desired_capabilities', kind: 'typed' },
  { name: 'properties', kind: 'typed' },
];
const DETACH: readonly FieldSpec[] = [
  { name: 'handle', kind: 'number', mandatory: true },
  { name: 'closed', kind: 'boolean' },
  { name: 'error', kind: 'typed' },
];

/** A frame type as rhea defines it (`types.define_composite`): instances keep their fields in `value`. */
export interface RheaFrameType {
  new (): RheaFrame;
  create(fields: Record<string, unknown>): RheaFrame;
  readonly prototype: object;
}

export type RheaFrame = Record<string, unknown> & { value: unknown[]; described(): unknown };

/** A lean attach or detach frame: rhea's fields as accessors, and `described()` for rhea's writer. */
export interface LeanFrame {
  [field: string]: unknown;
  described(): unknown;
}

/** rhea's typed writer (`types.Writer`), to compare encodings. */
interface TypedWriter {
  write(value: unknown): void;
  toBuffer(): Buffer;
}

/** A field's value kept as rhea's typed value (see above). */
class RheaValue {
  constructor(readonly typed: unknown) {}
}

/** Whether rhea's getter returns `value` itself once its setter has been given it. */
function keptAsIs(kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'any':
      return value !== undefined && value !== null;
    case 'typed':
      return false;
  }
}

export interface LeanFrameType {
  /** What rhea's `create(fields)` makes, lean; rhea's own frame when `fields` names anything else. */
  create(fields: Record<string, unknown>): LeanFrame | RheaFrame;
  /** A lean copy of a frame rhea read, reading the same values through the same getters. */
  fromRhea(frame: RheaFrame): LeanFrame;
  isLean(frame: unknown): frame is LeanFrame;
  /** `ours` reads what `theirs` (rhea's frame of this type) reads, and encodes to the same bytes. */
  agrees(ours: unknown, theirs: unknown): boolean;
}

/** What every lean frame class extends, whichever frame types it was made for. */
class LeanFrameBase {}

/** Whether `frame` is a lean attach or detach frame. */
export function isLeanFrame(frame: unknown): frame is LeanFrame {
  return frame instanceof LeanFrameBase;
}

/**
 * A lean frame's fields, in the object itself (private fields, so that no array of slots sits beside it): a
 * detach's three, and below an attach's fourteen.
 */
class Slots3 extends LeanFrameBase {
  #s0: unknown;
  #s1: unknown;
  #s2: unknown;

  static get(frame: Slots3, at: number): unknown {
    switch (at) {
      case 0:
        return frame.#s0;
      case 1:
        return frame.#s1;
      default:
        return frame.#s2;
    }
  }

  static set(frame: Slots3, at: number, value: unknown): void {
    switch (at) {
      case 0:
        frame.#s0 = value;
        return;
      case 1:
        frame.#s1 = value;
        return;
      default:
        frame.#s2 = value;
    }
  }
}

class Slots14 extends Slots3 {
  #s3: unknown;
  #s4: unknown;
  #s5: unknown;
  #s6: unknown;
  #s7: unknown;
  #s8: unknown;
  #s9: unknown;
  #s10: unknown;
  #s11: unknown;
  #s12: unknown;
  #s13: unknown;

  static override get(frame: Slots14, at: number): unknown {
    switch (at) {
      case 3:
        return frame.#s3;
      case 4:
        return frame.#s4;
      case 5:
        return frame.#s5;
      case 6:
        return frame.#s6;
      case 7:
        return frame.#s7;
      case 8:
        return frame.#s8;
      case 9:
        return frame.#s9;
      case 10:
        return frame.#s10;
      case 11:
        return frame.#s11;
      case 12:
        return frame.#s12;
      case 13:
        return frame.#s13;
      default:
        return Slots3.get(frame, at);
    }
  }

  static override set(frame: Slots14, at: number, value: unknown): void {
    switch (at) {
      case 3:
        frame.#s3 = value;
        return;
      case 4:
        frame.#s4 = value;
        return;
      case 5:
        frame.#s5 = value;
        return;
      case 6:
        frame.#s6 = value;
        return;
      case 7:
        frame.#s7 = value;
        return;
      case 8:
        frame.#s8 = value;
        return;
      case 9:
        frame.#s9 = value;
        return;
      case 10:
        frame.#s10 = value;
        return;
      case 11:
        frame.#s11 = value;
        return;
      case 12:
        frame.#s12 = value;
        return;
      case 13:
        frame.#s13 = value;
        return;
      default:
        Slots3.set(frame, at, value);
    }
  }
}

/** The lean class for rhea's frame type `Type`, whose fields are `spec` in rhea's order. */
function makeLeanFrameType(
  Type: RheaFrameType,
  spec: readonly FieldSpec[],
  Writer: new () => TypedWriter,
): LeanFrameType {
  const index = new Map(spec.map((field, i) => [field.name, i]));
  const rheaPrototype = Type.prototype as { dispatch?: unknown };

  if (spec.length > 14) throw new Error('lean frames hold at most 14 fields');
  // One slot per field, in rhea's order: undefined, null, a value kept as is, or a RheaValue.
  const Storage = spec.length > 3 ? Slots14 : Slots3;
  const slotAt = Storage.get as (frame: Lean, at: number) => unknown;
  const setSlot = Storage.set as (frame: Lean, at: number, value: unknown) => void;

  class Lean extends Storage {
    static read(frame: Lean, at: number): unknown {
      const slot = slotAt(frame, at);
      if (slot instanceof RheaValue) {
        // rhea's getter on rhea's typed value: a fresh unwrapped copy each time, as rhea reads it.
        const scratch = new Type();
        scratch.value[at] = slot.typed;
        return scratch[(spec[at] as FieldSpec).name];
      }
      return slot;
    }

    static write(frame: Lean, at: number, value: unknown): void {
      const field = spec[at] as FieldSpec;
      if (keptAsIs(field.kind, value)) {
        setSlot(frame, at, value);
      } else if ((value === undefined || value === null) && field.kind !== 'any' && !field.mandatory) {
        setSlot(frame, at, null);
      } else {
        const scratch = new Type();
        scratch[field.name] = value; // throws as rhea does (a mandatory field without a value, a wrong type)
        setSlot(frame, at, field.kind === 'any' ? scratch.value[at] : new RheaValue(scratch.value[at]));
      }
    }

    static fill(frame: Lean, from: RheaFrame): void {
      const value = from.value;
      for (let at = 0; at < spec.length && at < value.length; at++) {
        const typed = value[at];
        if (typed === undefined) continue; // a field rhea never set
        const field = spec[at] as FieldSpec;
        if (field.kind === 'any') {
          setSlot(frame, at, typed); // rhea's getter returns what it holds
          continue;
        }
        const read = from[field.name];
        setSlot(frame, at, read === null ? null : keptAsIs(field.kind, read) ? read : new RheaValue(typed));
      }
    }

    /** rhea's typed tree for these fields, made by rhea's own setters (for rhea's writer). */
    described(): unknown {
      const frame = new Type();
      for (let at = 0; at < spec.length; at++) {
        const slot = slotAt(this, at);
        if (slot === undefined) continue;
        if (slot instanceof RheaValue) frame.value[at] = slot.typed;
        else if (slot === null) frame.value[at] = nullOf();
        else frame[(spec[at] as FieldSpec).name] = slot;
      }
      return frame.described();
    }

    /** As rhea's frames: the fields that are set and truthy. */
    toJSON(): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      for (const field of spec) {
        const value = (this as unknown as Record<string, unknown>)[field.name];
        if (value) out[field.name] = value;
      }
      return out;
    }
  }
  for (let at = 0; at < spec.length; at++) {
    Object.defineProperty(Lean.prototype, (spec[at] as FieldSpec).name, {
      get(this: Lean) {
        return Lean.read(this, at);
      },
      set(this: Lean, value: unknown) {
        Lean.write(this, at, value);
      },
      enumerable: true,
      configurable: false,
    });
  }
  // rhea's frames dispatch themselves to their handler by name (`on_attach`); a lean one does the same.
  if (typeof rheaPrototype.dispatch === 'function') {
    Object.defineProperty(Lean.prototype, 'dispatch', { value: rheaPrototype.dispatch, writable: true });
  }

  return {
    create(fields) {
      for (const name in fields) if (!index.has(name)) return Type.create(fields);
      const frame = new Lean() as unknown as Record<string, unknown>;
      for (const name in fields) frame[name] = fields[name];
      return frame as unknown as LeanFrame;
    },
    fromRhea(from) {
      const frame = new Lean();
      Lean.fill(frame, from);
      return frame as unknown as LeanFrame;
    },
    isLean(frame): frame is LeanFrame {
      return frame instanceof Lean;
    },
    agrees(ours, theirs) {
      if (!(theirs instanceof Type)) return false;
      return frameAgrees(ours as LeanFrame, theirs as RheaFrame, spec, Writer);
    },
  };
}

let makeNull: (() => unknown) | undefined;

/** rhea's AMQP null, a fresh one as rhea's setters make (found at install through the detach's `error`). */
function nullOf(): unknown {
  if (makeNull === undefined) throw new Error('lean frames used before they were checked');
  return makeNull();
}

export interface LeanFrames {
  readonly attach: LeanFrameType;
  readonly detach: LeanFrameType;
}

/**
 * Lean attach and detach frames for rhea's frame types, or undefined when those types are not shaped as this
 * file expects (field names, order and getter/setter behaviour checked on samples, encodings compared with
 * rhea's writer) or rhea logs frames.
 */
export function makeLeanFrames(
  Attach: RheaFrameType,
  Detach: RheaFrameType,
  Writer: (new () => TypedWriter) | undefined,
): LeanFrames | undefined {
  if (rheaLogs() || Writer === undefined) return undefined;
  try {
    if (!hasFields(Attach, ATTACH) || !hasFields(Detach, DETACH)) return undefined;
    const maker = (): unknown => {
      const scratch = new Detach();
      scratch.error = null;
      return scratch.value[2];
    };
    const sampleNull = maker() as { value?: unknown; type?: unknown } | undefined;
    if (sampleNull?.value !== null || sampleNull.type === undefined) return undefined;
    makeNull = maker;
    const frames = {
      attach: makeLeanFrameType(Attach, ATTACH, Writer),
      detach: makeLeanFrameType(Detach, DETACH, Writer),
    };
    if (!samplesAgree(frames, Attach, Detach)) return undefined;
    return frames;
  } catch {
    return undefined;
  }
}

/** rhea's frame type has exactly these accessors, in this order, each writing its own slot of `value`. */
function hasFields(Type: RheaFrameType, spec: readonly FieldSpec[]): boolean {
  if (typeof Type !== 'function' || typeof Type.create !== 'function') return false;
  const descriptors = Object.getOwnPropertyDescriptors(Type.prototype);
  const accessors = Object.keys(descriptors).filter((name) => descriptors[name]?.get !== undefined);
  if (accessors.join() !== spec.map((field) => field.name).join()) return false;
  if (typeof (Type.prototype as { described?: unknown }).described !== 'function') return false;
  for (let at = 0; at < spec.length; at++) {
    const field = spec[at] as FieldSpec;
    for (const sample of samplesOf(field.kind)) {
      const frame = new Type();
      if (!Array.isArray(frame.value) || frame.value.length !== 0) return false;
      frame[field.name] = sample;
      if (frame.value.length !== at + 1) return false;
      if (field.kind !== 'typed' && frame[field.name] !== sample) return false;
    }
  }
  return true;
}

/** Values of each kind that rhea's getter must return unchanged ('typed': only where it is kept). */
function samplesOf(kind: FieldKind): readonly unknown[] {
  switch (kind) {
    case 'string':
      return ['', 'sample', 'x'.repeat(300)];
    case 'number':
      return [0, 1, 255, 256, 70000, 2 ** 32 - 1];
    case 'boolean':
      return [true, false];
    case 'any':
      return [{ sample: true }, 'sample', 0];
    case 'typed':
      return [null];
  }
}

/** Lean and rhea frames made from the same fields read the same values and encode to the same bytes. */
function samplesAgree(frames: LeanFrames, Attach: RheaFrameType, Detach: RheaFrameType): boolean {
  const attachSamples: Array<Record<string, unknown>> = [
    { handle: 0, name: 'probe', role: false },
    {
      handle: 7,
      name: 'probe',
      role: true,
      snd_settle_mode: 1,
      rcv_settle_mode: 1,
      max_message_size: 70000,
      initial_delivery_count: 0,
      offered_capabilities: ['a', 'b'],
      desired_capabilities: 'c',
      properties: { p: 'q', n: 1 },
      source: null,
      target: undefined,
    },
  ];
  const detachSamples: Array<Record<string, unknown>> = [
    { handle: 3, closed: true },
    { handle: 300, closed: false, error: { condition: 'amqp:internal-error', description: 'probe' } },
  ];
  const pairs: Array<[LeanFrameType, RheaFrameType, Record<string, unknown>]> = [
    ...attachSamples.map((fields): [LeanFrameType, RheaFrameType, Record<string, unknown>] => [
      frames.attach,
      Attach,
      fields,
    ]),
    ...detachSamples.map((fields): [LeanFrameType, RheaFrameType, Record<string, unknown>] => [
      frames.detach,
      Detach,
      fields,
    ]),
  ];
  for (const [lean, Type, fields] of pairs) {
    const ours = lean.create(fields);
    const theirs = Type.create(fields);
    if (!lean.isLean(ours) || !lean.agrees(ours, theirs)) return false;
    if (!lean.agrees(lean.fromRhea(theirs), theirs)) return false;
  }
  return true;
}

/** Same values through every getter (deeply equal), and the same bytes from rhea's writer. */
function frameAgrees(
  ours: LeanFrame,
  theirs: RheaFrame,
  spec: readonly FieldSpec[],
  Writer: new () => TypedWriter,
): boolean {
  for (const field of spec) {
    if (!sameValue(ours[field.name], theirs[field.name])) return false;
  }
  return encode(Writer, ours).equals(encode(Writer, theirs));
}

function encode(Writer: new () => TypedWriter, frame: { described(): unknown }): Buffer {
  const writer = new Writer();
  writer.write(frame.described());
  return writer.toBuffer();
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b) && Object.getPrototypeOf(a) === Object.getPrototypeOf(b);
}

/** Field names of rhea's attach frame, in rhea's order (what rhea's init copies from a link's options). */
export const ATTACH_FIELD_NAMES: readonly string[] = ATTACH.map((field) => field.name);

interface LinkPrototype {
  on_attach?: unknown;
}

interface AttachedLink {
  remote: { attach?: unknown };
}

/**
 * Makes the peer's attach lean once rhea has handled it: rhea reads it, unwraps its termini, tells the link's
 * listeners (which see rhea's own frame), and the session then keeps `frame.performative` as the link's
 * `remote.attach` — by then the lean copy. Process-wide, on rhea's link prototype; false when it has no
 * `on_attach`.
 */
export function keepPeerAttachLean(
  linkPrototype: LinkPrototype,
  frames: LeanFrames,
  Attach: RheaFrameType,
): boolean {
  const rheaOnAttach = linkPrototype.on_attach;
  if (typeof rheaOnAttach !== 'function') return false;
  linkPrototype.on_attach = function (this: AttachedLink, frame: { performative?: unknown }): unknown {
    const result = (rheaOnAttach as (this: AttachedLink, frame: unknown) => unknown).call(this, frame);
    const read = frame.performative;
    if (read instanceof Attach) {
      const lean = frames.attach.fromRhea(read as RheaFrame);
      frame.performative = lean;
      if (this.remote.attach === read) this.remote.attach = lean;
    }
    return result;
  };
  return true;
}

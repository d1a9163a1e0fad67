/**
 * AMQP values with an explicit wire type, and lenient readers for values received.
 *
 * rhea (under @dragoman/amqp) encodes a plain JavaScript number as `uint` when positive and `int` otherwise,
 * so QoS 0 and QoS 1 would travel as different AMQP types. The spec's reference implementation (EnMasse) and
 * ActiveMQ Artemis read QoS as a Java `int`, so the mapping writes it as AMQP `int` explicitly. A typed value
 * is an object rhea's encoder accepts in place of a plain value (its `toRheaTyped()` hook: a type descriptor
 * with typecode, width and writer, plus the value). The wire tests decode what arrives and check each type.
 * @dragoman/amqp exports no typed-value constructors (yet); when it does, this file is the one to change.
 */

export type AmqpNumericType = 'int' | 'uint' | 'ubyte';

interface WireType {
  readonly name: AmqpNumericType;
  readonly typecode: number;
  readonly width: number;
  /** rhea's "fixed width" category. */
  readonly category: 1;
  write(buffer: Buffer, value: number, offset: number): void;
}

const WIRE_TYPES: Readonly<Record<AmqpNumericType, WireType>> = {
  int: { name: 'int', typecode: 0x71, width: 4, category: 1, write: (b, v, o) => b.writeInt32BE(v, o) },
  uint: { name: 'uint', typecode: 0x70, width: 4, category: 1, write: (b, v, o) => b.writeUInt32BE(v, o) },
  ubyte: { name: 'ubyte', typecode: 0x50, width: 1, category: 1, write: (b, v, o) => b.writeUInt8(v, o) },
};

/** A number with its AMQP wire type. `valueOf()` gives the number, so comparisons and arithmetic still work. */
export class AmqpTypedNumber {
  readonly amqpType: AmqpNumericType;
  readonly value: number;
  readonly type: WireType;

  constructor(amqpType: AmqpNumericType, value: number) {
    this.amqpType = amqpType;
    this.value = value;
    this.type = WIRE_TYPES[amqpType];
  }

  /** rhea's encoder calls this for any object it is given as a value. */
  toRheaTyped(): this {
    return this;
  }

  valueOf(): number {
    return this.value;
  }

  toJSON(): number {
    return this.value;
  }

  /** `int(1)` in `console.log` and test diffs. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `${this.amqpType}(${this.value})`;
  }
}

/** QoS and other small ints (0..2) are written for every message: one shared, immutable value each. */
const SMALL_INTS: readonly AmqpTypedNumber[] = [0, 1, 2].map((n) => new AmqpTypedNumber('int', n));

export const amqpInt = (value: number): AmqpTypedNumber =>
  SMALL_INTS[value] ?? new AmqpTypedNumber('int', value);
export const amqpUint = (value: number): AmqpTypedNumber => new AmqpTypedNumber('uint', value);
export const amqpUbyte = (value: number): AmqpTypedNumber => new AmqpTypedNumber('ubyte', value);

/**
 * A received value as an integer: any AMQP integer type (rhea gives numbers, or a bigint for large longs), a
 * typed value of ours, or a decimal string (EnMasse wrote subscription QoS as strings). Undefined otherwise.
 */
export function integerOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof AmqpTypedNumber) return value.value;
  if (typeof value === 'string' && /^\s*-?\d{1,10}\s*$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}

/** A received value as a boolean: an AMQP boolean, or the strings `true` / `false` (any case). */
export function booleanOf(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return undefined;
}

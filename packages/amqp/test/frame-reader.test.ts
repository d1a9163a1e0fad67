// The direct frame reader against rhea's own: frames written by rhea's frame writer (and a few encoded by hand
// in the other widths AMQP allows) must read to the same field values through both, and frames the direct
// reader does not cover must be left to rhea.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFramesDirectly, readKnownFrame } from '../src/internal/frame-reader';
import { flowFields } from './flow-fields';

const requireFromRhea = createRequire(createRequire(import.meta.url).resolve('rhea'));

interface RheaPerformative {
  readonly [field: string]: unknown;
}
interface RheaFrames {
  read_frame(buffer: Buffer): { channel: number; performative: RheaPerformative; payload?: Buffer };
  write_frame(frame: { type: number; channel: number; performative: unknown; payload?: Buffer }): Buffer;
  transfer(fields: Record<string, unknown>): unknown;
  disposition(fields: Record<string, unknown>): unknown;
  flow(fields: Record<string, unknown>): unknown;
  attach(fields: Record<string, unknown>): unknown;
}
interface RheaOutcomes {
  unwrap_outcome(state: unknown): unknown;
  accepted(): { described(): unknown };
  released(): { described(): unknown };
  rejected(fields: Record<string, unknown>): { described(): unknown };
  modified(fields: Record<string, unknown>): { described(): unknown };
}

const frames = requireFromRhea('./frames.js') as RheaFrames;
const outcomes = requireFromRhea('./message.js') as RheaOutcomes;

const TRANSFER_FIELDS = [
  'handle',
  'delivery_id',
  'delivery_tag',
  'message_format',
  'settled',
  'more',
  'rcv_settle_mode',
  'state',
  'resume',
  'aborted',
  'batchable',
];
const DISPOSITION_FIELDS = ['role', 'first', 'last', 'settled', 'state', 'batchable'];
const FLOW_FIELDS = [
  'next_incoming_id',
  'incoming_window',
  'next_outgoing_id',
  'outgoing_window',
  'handle',
  'delivery_count',
  'link_credit',
  'available',
  'drain',
  'echo',
  'properties',
];

/** A disposition frame (role, first 7, last null, settled) whose state is the given encoded value. */
function dispositionFrame(state: number[]): Buffer {
  const fields = [0x41, 0x52, 0x07, 0x40, 0x41, ...state];
  const body = [0x00, 0x53, 0x15, 0xc0, fields.length + 1, 5, ...fields];
  return Buffer.from([0, 0, 0, 8 + body.length, 2, 0, 0, 1, ...body]);
}

/** Reads `bytes` both ways and checks every field, the channel and the payload agree. */
function expectSameAsRhea(bytes: Buffer, fields: readonly string[]): void {
  const ours = readKnownFrame(bytes, 0, bytes.length);
  expect(ours).toBeDefined();
  const theirs = frames.read_frame(bytes);
  expect(ours?.channel).toBe(theirs.channel);
  expect(ours?.payload).toEqual(theirs.payload);
  const performative = ours?.performative as unknown as Record<string, unknown>;
  for (const field of fields) expect(performative[field], field).toEqual(theirs.performative[field]);
}

/** A transfer frame on channel 9 whose performative is a list8 of `count` fields encoded as `fields`. */
function transferFrame(fields: readonly number[], count: number, body = Buffer.alloc(0)): Buffer {
  const performative = Buffer.from([0x00, 0x53, 0x14, 0xc0, fields.length + 1, count, ...fields]);
  const header = Buffer.from([0, 0, 0, 0, 2, 0, 0, 9]);
  header.writeUInt32BE(header.length + performative.length + body.length, 0);
  return Buffer.concat([header, performative, body]);
}

const uint = fc.integer({ min: 0, max: 0xffffffff });
const optional = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arbitrary, { nil: undefined });
const payload = optional(fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => Buffer.from(bytes)));

describe('readKnownFrame', () => {
  it('reads transfers as rhea does', () => {
    fc.assert(
      fc.property(
        fc.record({
          handle: uint,
          delivery_id: optional(uint),
          delivery_tag: optional(fc.uint8Array({ maxLength: 32 }).map((bytes) => Buffer.from(bytes))),
          message_format: optional(uint),
          settled: optional(fc.boolean()),
          more: optional(fc.boolean()),
          rcv_settle_mode: optional(fc.integer({ min: 0, max: 1 })),
          resume: optional(fc.boolean()),
          aborted: optional(fc.boolean()),
          batchable: optional(fc.boolean()),
        }),
        fc.integer({ min: 0, max: 0xffff }),
        payload,
        (fields, channel, body) => {
          const bytes = frames.write_frame({
            type: 0,
            channel,
            performative: frames.transfer(fields),
            payload: body,
          });
          expectSameAsRhea(bytes, TRANSFER_FIELDS);
        },
      ),
    );
  });

  it('reads dispositions, with each outcome, as rhea does', () => {
    const state = fc.constantFrom(
      undefined,
      outcomes.accepted().described(),
      outcomes.released().described(),
      outcomes.rejected({ error: { condition: 'amqp:internal-error', description: 'no' } }).described(),
      outcomes.modified({ delivery_failed: true, undeliverable_here: false }).described(),
    );
    fc.assert(
      fc.property(
        fc.record({
          role: fc.boolean(),
          first: uint,
          last: optional(uint),
          settled: optional(fc.boolean()),
          state,
          batchable: optional(fc.boolean()),
        }),
        (fields) => {
          const bytes = frames.write_frame({ type: 0, channel: 1, performative: frames.disposition(fields) });
          expectSameAsRhea(bytes, DISPOSITION_FIELDS);
        },
      ),
    );
  });

  it('reads the common outcomes, in either empty-list encoding, each to one shared state equal to what rhea reads', () => {
    // The state: accepted, rejected or released as a described list0 or an empty list8.
    const disposition = dispositionFrame;
    for (const descriptor of [0x24, 0x25, 0x26]) {
      const list0 = disposition([0x00, 0x53, descriptor, 0x45]);
      const list8 = disposition([0x00, 0x53, descriptor, 0xc0, 0x01, 0x00]);
      expectSameAsRhea(list0, DISPOSITION_FIELDS);
      expectSameAsRhea(list8, DISPOSITION_FIELDS);
      const state = (bytes: Buffer): unknown => {
        const read = readKnownFrame(bytes, 0, bytes.length);
        return (read?.performative as unknown as { state: unknown } | undefined)?.state;
      };
      expect(state(list0)).toBeDefined();
      expect(state(list0)).toBe(state(Buffer.from(list0)));
      expect(state(list8)).toBe(state(Buffer.from(list8)));
    }
  });

  it("gives rhea's deliveries one outcome object per common state, and any other state rhea's own new one", () => {
    readFramesDirectly({} as never); // installs the shared outcomes, as on any connection of ours
    const message = outcomes;
    const read = (state: number[]): unknown => {
      const bytes = dispositionFrame(state);
      return (
        readKnownFrame(bytes, 0, bytes.length)?.performative as unknown as { state?: unknown } | undefined
      )?.state;
    };
    const accepted = read([0x00, 0x53, 0x24, 0x45]);
    const outcome = message.unwrap_outcome(accepted) as { constructor: { composite_type?: string } };
    expect(outcome.constructor.composite_type).toBe('accepted');
    expect(message.unwrap_outcome(read([0x00, 0x53, 0x24, 0x45]))).toBe(outcome);
    // A modified outcome with fields is not a shared state: rhea unwraps it anew each time.
    const modified = [0x00, 0x53, 0x27, 0xc0, 0x02, 0x01, 0x41];
    const first = message.unwrap_outcome(read(modified)) as { delivery_failed?: unknown };
    expect(first.delivery_failed).toBe(true);
    expect(message.unwrap_outcome(read(modified))).not.toBe(first);
  });

  it('reads flows as rhea does', () => {
    fc.assert(
      fc.property(flowFields({ absentAs: 'undefined' }), (fields) => {
        const bytes = frames.write_frame({ type: 0, channel: 2, performative: frames.flow(fields) });
        expectSameAsRhea(bytes, FLOW_FIELDS);
      }),
    );
  });

  it('reads the other encodings of the same fields as rhea does (list8, uint, uint0, boolean 0x56, vbin32)', () => {
    const fields = [
      ...[0x70, 0, 0, 0, 7], // handle: uint
      0x43, // delivery-id: uint0
      ...[0xb0, 0, 0, 0, 2, 0xab, 0xcd], // delivery-tag: vbin32
      ...[0x52, 0x00], // message-format: smalluint 0
      ...[0x56, 0x01], // settled: boolean 0x56, true
      ...[0x56, 0x00], // more: boolean 0x56, false
      ...[0x50, 0x01], // rcv-settle-mode: ubyte 1
      0x40, // state: null
    ];
    expectSameAsRhea(transferFrame(fields, 8, Buffer.from('body')), TRANSFER_FIELDS);
  });

  it('leaves to rhea what it does not cover', () => {
    const covered = frames.write_frame({ type: 0, channel: 0, performative: frames.transfer({ handle: 0 }) });
    const uncovered = [
      // a transfer with a delivery state (accepted)
      transferFrame([0x43, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x00, 0x53, 0x24, 0x45], 8),
      frames.write_frame({
        type: 0,
        channel: 0,
        performative: frames.flow({
          incoming_window: 1,
          next_outgoing_id: 0,
          outgoing_window: 1,
          properties: { reason: 'test' },
        }),
      }),
      frames.write_frame({
        type: 0,
        channel: 0,
        performative: frames.attach({ name: 'x', handle: 0, role: false }),
      }),
      frames.write_frame({ type: 1, channel: 0, performative: frames.transfer({ handle: 0 }) }), // SASL type
      covered.subarray(0, covered.length - 1), // cut short
    ];
    expect(readKnownFrame(covered, 0, covered.length)).toBeDefined();
    for (const bytes of uncovered) expect(readKnownFrame(bytes, 0, bytes.length)).toBeUndefined();
    // An extended header (data offset 3) is left to rhea too.
    const extended = Buffer.concat([covered.subarray(0, 8), Buffer.alloc(4), covered.subarray(8)]);
    extended.writeUInt32BE(extended.length, 0);
    extended[4] = 3;
    expect(readKnownFrame(extended, 0, extended.length)).toBeUndefined();
  });
});

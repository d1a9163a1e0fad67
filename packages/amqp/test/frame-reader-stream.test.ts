// The direct frame reader inside rhea's input path: byte streams of frames it covers and frames it leaves to
// rhea, all written by rhea's own frame writer (a few odd ones by hand), cut anywhere, are fed through rhea's
// own Connection.prototype.input to a transport patched by readFramesDirectly and to an unpatched one. rhea
// is the reference: the handler must see the same frames, in the same order, with the same fields and bytes;
// the same bytes must be kept for the next read; malformed input must fail the same way.
import { createRequire } from 'node:module';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type AmqpConnection, connect } from '../src/index';
import {
  DispositionPerformative,
  FlowPerformative,
  TransferPerformative,
} from '../src/internal/frame-performatives';
import { readFramesDirectly, readKnownFrame } from '../src/internal/frame-reader';
import type { RheaConnection } from '../src/internal/rhea-types';
import { flowFields } from './flow-fields';
import { rhea, waitFor } from './helpers';

const requireFromRhea = createRequire(createRequire(import.meta.url).resolve('rhea'));

interface RheaFrame {
  readonly size: number;
  readonly type: number;
  readonly channel: number;
  readonly performative?: object;
  readonly payload?: unknown;
}
interface Described {
  readonly value: unknown;
}
interface RheaPerformative {
  value: unknown[];
  described(): Described;
}
type Fields = Record<string, unknown>;
interface RheaFrames {
  write_frame(frame: { type: number; channel: number; performative?: unknown; payload?: Buffer }): Buffer;
  write_header(
    buffer: Buffer,
    header: { protocol_id: number; major: number; minor: number; revision: number },
  ): void;
  open(fields: Fields): RheaPerformative;
  begin(fields: Fields): RheaPerformative;
  attach(fields: Fields): RheaPerformative;
  flow(fields: Fields): RheaPerformative;
  transfer(fields: Fields): RheaPerformative;
  disposition(fields: Fields): RheaPerformative;
  detach(fields: Fields): RheaPerformative;
  end(fields: Fields): RheaPerformative;
  close(fields: Fields): RheaPerformative;
  sasl_mechanisms(fields: Fields): RheaPerformative;
  sasl_outcome(fields: Fields): RheaPerformative;
}
interface RheaOutcomes {
  received(fields: Fields): RheaPerformative;
  accepted(): RheaPerformative;
  rejected(fields: Fields): RheaPerformative;
  released(): RheaPerformative;
  modified(fields: Fields): RheaPerformative;
}
interface RheaTransport {
  header_sent: unknown;
  read(buffer: Buffer): number;
}
type RheaTransportClass = (new (
  id: string,
  protocolId: number,
  frameType: number,
  handler: object,
) => RheaTransport) & { prototype: RheaTransport };

const frames = requireFromRhea('./frames.js') as RheaFrames;
const outcomes = requireFromRhea('./message.js') as RheaOutcomes;
const Transport = requireFromRhea('./transport.js') as RheaTransportClass;
const rheaInput = (requireFromRhea('./connection.js') as { prototype: { input(chunk: Buffer): void } })
  .prototype.input;

// ---------------------------------------------------------------------------------------------------------
// Feeding a stream through rhea's input, patched or not, and recording what its handler sees.

const PERFORMATIVES = [
  'open',
  'begin',
  'attach',
  'flow',
  'transfer',
  'disposition',
  'detach',
  'end',
  'close',
];

/** One call to the transport's handler, with every field as the handler would read it. */
interface Seen {
  readonly event: string;
  readonly size: number;
  readonly type: number;
  readonly channel: number;
  readonly fields: Fields;
  readonly payload: string | undefined;
}

interface Outcome {
  readonly seen: Seen[];
  /** Events the connection dispatched about a failed read ('error' or 'protocol_error'). */
  readonly failures: Array<{ readonly event: string; readonly name: string; readonly message: string }>;
  /** Whether the connection ended its socket. */
  readonly ended: boolean;
  /** The bytes rhea keeps for the next read. */
  readonly kept: string;
  /** How many of the frames seen our reader read (rhea read the rest). */
  readonly readDirectly: number;
}

/** Bytes as hex, so that a difference reads plainly; typed values (a delivery state) compare as they are. */
function plain(value: unknown): unknown {
  return Buffer.isBuffer(value) ? { bytes: value.toString('hex') } : value;
}

/** Every field a performative's reader sees: rhea's getters (enumerable on its prototype) or our fields. */
function fieldsOf(performative: object): Fields {
  const fields: Fields = {};
  for (const key in performative) {
    const value = (performative as Fields)[key];
    if (key === 'value' || typeof value === 'function') continue;
    fields[key] = plain(value);
  }
  return fields;
}

function isOurs(performative: object | undefined): boolean {
  return (
    performative instanceof TransferPerformative ||
    performative instanceof DispositionPerformative ||
    performative instanceof FlowPerformative
  );
}

function payloadOf(frame: RheaFrame): string | undefined {
  if (frame.payload === undefined) return undefined;
  if (!Buffer.isBuffer(frame.payload)) throw new Error('a payload that is not bytes');
  return frame.payload.toString('hex');
}

interface Recording {
  readonly seen: Seen[];
  /** How many of the frames seen our reader read (rhea read the rest). */
  readDirectly: number;
}

/** A fresh AMQP transport whose handler records what it sees; patched by readFramesDirectly when `direct`. */
function recordingTransport(direct: boolean): { transport: RheaTransport; recording: Recording } {
  const recording: Recording = { seen: [], readDirectly: 0 };
  const handler: Record<string, (frame: RheaFrame) => void> = {};
  for (const name of PERFORMATIVES) {
    handler[`on_${name}`] = (frame) => {
      if (isOurs(frame.performative)) recording.readDirectly++;
      recording.seen.push({
        event: name,
        size: frame.size,
        type: frame.type,
        channel: frame.channel,
        fields: fieldsOf(frame.performative ?? {}),
        payload: payloadOf(frame),
      });
    };
  }
  const transport = new Transport('stream', 0, 0, handler);
  transport.header_sent = { protocol_id: 0 }; // nothing for this side to write
  if (direct) {
    readFramesDirectly({ amqp_transport: transport } as unknown as RheaConnection);
    // Off while DEBUG=rhea logs frames: this test would then compare rhea with itself.
    expect(transport.read).not.toBe(Transport.prototype.read);
  }
  return { transport, recording };
}

/**
 * Feeds `chunks`, one rhea input call each as socket 'data' events would, to a fresh AMQP transport (patched
 * by readFramesDirectly when `direct`), stopping after the first failed read as a connection that ended its
 * socket would.
 */
function feed(chunks: readonly Buffer[], direct: boolean): Outcome {
  const { transport, recording } = recordingTransport(direct);
  const failures: Outcome['failures'] = [];
  let ended = false;
  // What rhea's input touches on its connection, besides the transport.
  const connection = {
    options: { id: 'stream' },
    transport,
    local: { open: {} },
    remote: { open: {} },
    is_closed: () => false,
    is_open: () => false,
    output: () => {},
    _get_peer_details: () => '',
    dispatch(event: string, error: Error): boolean {
      failures.push({ event, name: error.name, message: error.message });
      return true;
    },
    socket: {
      end(): void {
        ended = true;
      },
    },
    previous_input: null as Buffer | null,
    chunks: null as Buffer[] | null,
  };
  for (const chunk of chunks) {
    rheaInput.call(connection, chunk);
    if (ended) break;
  }
  const kept = connection.chunks ?? (connection.previous_input === null ? [] : [connection.previous_input]);
  return {
    seen: recording.seen,
    failures,
    ended,
    kept: Buffer.concat(kept).toString('hex'),
    readDirectly: recording.readDirectly,
  };
}

/** Feeds `chunks` both ways, checks everything observable agrees, and returns what the patched one did. */
function expectSameAsRhea(chunks: readonly Buffer[]): Outcome {
  const theirs = feed(chunks, false);
  const ours = feed(chunks, true);
  expect(ours.seen).toEqual(theirs.seen);
  expect(ours.failures).toEqual(theirs.failures);
  expect(ours.ended).toBe(theirs.ended);
  expect(ours.kept).toBe(theirs.kept);
  return ours;
}

// ---------------------------------------------------------------------------------------------------------
// Frames, as rhea writes them (and a few by hand).

function protocolHeader(protocolId: number): Buffer {
  const header = Buffer.alloc(8);
  frames.write_header(header, { protocol_id: protocolId, major: 1, minor: 0, revision: 0 });
  return header;
}
const PROTOCOL_HEADER = protocolHeader(0);
const SASL_HEADER = protocolHeader(3);

function amqpFrame(channel: number, performative?: RheaPerformative, payload?: Buffer): Buffer {
  return frames.write_frame({ type: 0, channel, performative, payload });
}

/** A transfer with `state` as its delivery state (rhea's writer has no wrapper for that field's type). */
function transferWithState(handle: number, state: Described): RheaPerformative {
  const transfer = frames.transfer({
    handle,
    delivery_id: 0,
    delivery_tag: Buffer.from('t'),
    message_format: 0,
    settled: false,
    more: false,
    rcv_settle_mode: 0,
  });
  transfer.value[7] = state;
  return transfer;
}

/** `frame` with a 4-byte extended header (data offset 3), which rhea skips. */
function withExtendedHeader(frame: Buffer): Buffer {
  const extended = Buffer.concat([frame.subarray(0, 8), Buffer.from([1, 2, 3, 4]), frame.subarray(8)]);
  extended.writeUInt32BE(extended.length, 0);
  extended[4] = 3;
  return extended;
}

/** A disposition on channel 3 whose fields after `role` are encoded by hand (a list8 of `count`). */
function dispositionByHand(
  count: number,
  fields: readonly number[],
  payload: readonly number[] = [],
): Buffer {
  const body = [0x00, 0x53, 0x15, 0xc0, fields.length + 2, count, 0x41, ...fields, ...payload];
  return Buffer.from([0, 0, 0, 8 + body.length, 2, 0, 0, 3, ...body]);
}

const uint = fc.integer({ min: 0, max: 0xffffffff });
const channel = fc.integer({ min: 0, max: 0xffff });
const optional = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arbitrary, { nil: undefined });
const bytes = (maxLength: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));
const text = fc.string({ maxLength: 12 });
const error = optional(
  fc.record({ condition: fc.constantFrom('amqp:internal-error', 'amqp:not-found'), description: text }),
);

/** One delivery: a transfer, or several with more=true but the last, each with or without payload. */
const delivery: fc.Arbitrary<Buffer[]> = fc
  .record({
    channel,
    handle: uint,
    delivery_id: optional(uint),
    delivery_tag: optional(bytes(32)),
    message_format: optional(uint),
    settled: optional(fc.boolean()),
    rcv_settle_mode: optional(fc.integer({ min: 0, max: 1 })),
    resume: optional(fc.boolean()),
    aborted: optional(fc.boolean()),
    batchable: optional(fc.boolean()),
    payloads: fc.array(optional(bytes(200).filter((payload) => payload.length > 0)), {
      minLength: 1,
      maxLength: 4,
    }),
  })
  .map(({ channel: on, payloads, ...fields }) =>
    payloads.map((payload, index) => {
      const more = index < payloads.length - 1;
      const performative =
        index === 0 ? frames.transfer({ ...fields, more }) : frames.transfer({ handle: fields.handle, more });
      return amqpFrame(on, performative, payload);
    }),
  );

const outcome = fc.oneof(
  fc.constant(undefined),
  fc.constant(outcomes.accepted()),
  fc.constant(outcomes.released()),
  error.map((rejected) => outcomes.rejected(rejected === undefined ? {} : { error: rejected })),
  fc
    .record({ delivery_failed: optional(fc.boolean()), undeliverable_here: optional(fc.boolean()) })
    .map((fields) => outcomes.modified(fields)),
  fc.record({ section_number: uint, section_offset: uint }).map((fields) => outcomes.received(fields)),
);

const disposition: fc.Arbitrary<Buffer> = fc
  .record({
    channel,
    role: fc.boolean(),
    first: uint,
    last: optional(uint),
    settled: optional(fc.boolean()),
    state: outcome,
    batchable: optional(fc.boolean()),
  })
  .map(({ channel: on, state, ...fields }) =>
    amqpFrame(on, frames.disposition({ ...fields, state: state?.described() })),
  );

const flow: fc.Arbitrary<Buffer> = fc
  .tuple(channel, flowFields({ absentAs: 'undefined' }))
  .map(([on, fields]) => amqpFrame(on, frames.flow(fields)));

/** Frames the direct reader leaves to rhea: other performatives, empty frames, odd shapes of its three. */
const uncovered: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({ container_id: text, hostname: optional(text), idle_time_out: optional(uint) })
    .map((fields) => amqpFrame(0, frames.open(fields))),
  fc
    .record({ channel, remote_channel: optional(channel), next_outgoing_id: uint })
    .map(({ channel: on, ...fields }) =>
      amqpFrame(on, frames.begin({ ...fields, incoming_window: 2048, outgoing_window: 2048 })),
    ),
  fc
    .record({
      channel,
      name: text,
      handle: uint,
      role: fc.boolean(),
      initial_delivery_count: optional(uint),
      properties: optional(fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), text, { maxKeys: 3 })),
    })
    .map(({ channel: on, ...fields }) => amqpFrame(on, frames.attach(fields))),
  fc
    .record({ channel, handle: uint, closed: optional(fc.boolean()), error })
    .map(({ channel: on, ...fields }) => amqpFrame(on, frames.detach(fields))),
  fc.record({ channel, error }).map(({ channel: on, ...fields }) => amqpFrame(on, frames.end(fields))),
  channel.map((on) => amqpFrame(on)), // an empty frame; on channel 0, a heartbeat
  fc.constant(amqpFrame(0)),
  // A transfer with a delivery state, a flow with properties, an extended header: the three in shapes left to rhea.
  fc
    .tuple(uint, fc.constantFrom(outcomes.accepted(), outcomes.released()))
    .map(([handle, state]) =>
      amqpFrame(1, transferWithState(handle, state.described()), Buffer.from('body')),
    ),
  fc
    .record({ channel, reason: text })
    .map(({ channel: on, reason }) =>
      amqpFrame(
        on,
        frames.flow({ incoming_window: 1, next_outgoing_id: 0, outgoing_window: 1, properties: { reason } }),
      ),
    ),
  fc
    .oneof(
      delivery.map((transfers) => transfers[0] as Buffer),
      disposition,
      flow,
    )
    .map(withExtendedHeader),
  // A delivery state whose list size disagrees with its count: rhea reads by the count.
  fc.constantFrom(
    dispositionByHand(6, [0x52, 0x07, 0x40, 0x41, 0x00, 0x53, 0x27, 0xc0, 0x01, 0x02, 0x41, 0x42, 0x41]),
    dispositionByHand(6, [0x52, 0x07, 0x40, 0x41, 0x00, 0x53, 0x24, 0xc0, 0x03, 0x00, 0x41, 0x42, 0x41], [9]),
  ),
  // The common states in other encodings, by hand: accepted as an empty list8 (first as a uint), released as list0.
  uint.map((first) => {
    const frame = dispositionByHand(5, [0x70, 0, 0, 0, 0, 0x40, 0x41, 0x00, 0x53, 0x24, 0xc0, 0x01, 0x00]);
    frame.writeUInt32BE(first, 16); // after the 8-byte header, descriptor, list8 header and role
    return frame;
  }),
  fc.constant(dispositionByHand(5, [0x43, 0x40, 0x42, 0x00, 0x53, 0x26, 0x45])),
);

/** A frame after which rhea fails the connection. */
const poison: fc.Arbitrary<Buffer> = fc.oneof(
  // A covered performative cut short: its list promises more fields than the frame holds.
  fc
    .tuple(
      fc.oneof(
        delivery.map((transfers) => transfers[0] as Buffer),
        disposition,
        flow,
      ),
      fc.nat(),
    )
    .map(([frame, cut]) => {
      const performativeEnd = frame.length - payloadLength(frame);
      const keep = 9 + (cut % (performativeEnd - 9));
      const truncated = Buffer.from(frame.subarray(0, keep));
      truncated.writeUInt32BE(keep, 0);
      return truncated;
    }),
  fc.integer({ min: 0, max: 7 }).map((size) => Buffer.from([0, 0, 0, size, 2, 0, 0, 0])), // shorter than a header
  fc.constant(frames.write_frame({ type: 1, channel: 0, performative: frames.transfer({ handle: 0 }) })), // a SASL frame after the AMQP header
  fc.integer({ min: 0, max: 1 }).map((dataOffset) => {
    const frame = amqpFrame(0, frames.transfer({ handle: 0 }));
    frame[4] = dataOffset; // a data offset below 2
    return frame;
  }),
  fc.constant(Buffer.from([0, 0, 0, 15, 2, 0, 0, 0, 0x00, 0x53, 0x14, 0xc0, 0x02, 0x01, 0x0f])), // a bad typecode
  fc.constant(Buffer.from([0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x7f, 0x45])), // no such performative
);

/** Cuts `stream` at `cuts`, with an empty chunk (a zero-length read) before each index in `empties`. */
function cut(stream: Buffer, cuts: readonly number[], empties: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.filter((position) => position > 0 && position < stream.length))].sort(
    (a, b) => a - b,
  );
  const chunks: Buffer[] = [];
  let from = 0;
  for (const position of [...at, stream.length]) {
    chunks.push(stream.subarray(from, position));
    from = position;
  }
  for (const index of [...empties].sort((a, b) => b - a))
    chunks.splice(index % (chunks.length + 1), 0, Buffer.alloc(0));
  return chunks;
}

describe('readFramesDirectly on a stream', () => {
  it('hands the handler what rhea does, for any mix of frames cut anywhere', () => {
    let readDirectly = 0;
    let failed = 0;
    fc.assert(
      fc.property(
        fc.array(fc.oneof(delivery, disposition.map(one), flow.map(one), uncovered.map(one)), {
          minLength: 1,
          maxLength: 60,
          size: 'max',
        }),
        // One stream in four has a frame rhea fails the connection on, somewhere.
        fc.oneof(
          { arbitrary: fc.constant(undefined), weight: 3 },
          { arbitrary: fc.tuple(fc.nat(), poison), weight: 1 },
        ),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40, size: 'max' }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 11 })), { maxLength: 30, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 3 }),
        (groups, poisoned, anywhere, nearStarts, empties) => {
          const sequence = groups.flat();
          if (poisoned !== undefined) sequence.splice(poisoned[0] % (sequence.length + 1), 0, poisoned[1]);
          const units = [PROTOCOL_HEADER, ...sequence];
          const starts: number[] = [];
          let length = 0;
          for (const unit of units) {
            starts.push(length);
            length += unit.length;
          }
          const stream = Buffer.concat(units, length);
          // Anywhere, and just into a frame: inside its size field or the rest of its 8-byte header.
          const cuts = [
            ...anywhere.map((fraction) => Math.floor(fraction * stream.length)),
            ...nearStarts.map(([unit, into]) => (starts[unit % starts.length] as number) + into),
          ];
          const ours = expectSameAsRhea(cut(stream, cuts, empties));
          expect(ours.failures.length).toBe(poisoned === undefined ? 0 : 1);
          // Every frame but the empty ones (rhea hands those to no one).
          if (poisoned === undefined)
            expect(ours.seen.length).toBe(sequence.filter((frame) => frame.length > 8).length);
          readDirectly += ours.readDirectly;
          failed += ours.failures.length;
        },
      ),
      { numRuns: 400 },
    );
    // The property did exercise both paths.
    expect(readDirectly).toBeGreaterThan(4000);
    expect(failed).toBeGreaterThan(40);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Targeted cases.

const TRANSFER = amqpFrame(
  1,
  frames.transfer({
    handle: 0,
    delivery_id: 5,
    delivery_tag: Buffer.from('a'),
    message_format: 0,
    settled: false,
    more: false,
  }),
  Buffer.from('payload'),
);
const DISPOSITION = amqpFrame(
  1,
  frames.disposition({ role: true, first: 5, settled: true, state: outcomes.accepted().described() }),
);
const FLOW = amqpFrame(
  1,
  frames.flow({
    next_incoming_id: 1,
    incoming_window: 10,
    next_outgoing_id: 6,
    outgoing_window: 10,
    handle: 0,
    delivery_count: 1,
    link_credit: 99,
  }),
);
const ATTACH = amqpFrame(1, frames.attach({ name: 'link', handle: 0, role: false }));
const DETACH = amqpFrame(1, frames.detach({ handle: 0, closed: true }));
const HEARTBEAT = amqpFrame(0);

/** `frame` (no payload) cut to `keep` bytes, its size field saying so. */
function cutShort(frame: Buffer, keep: number): Buffer {
  const truncated = Buffer.from(frame.subarray(0, keep));
  truncated.writeUInt32BE(keep, 0);
  return truncated;
}

describe('readFramesDirectly, targeted', () => {
  it('reads a covered frame and an uncovered one in the same buffer, either way round', () => {
    const coveredFirst = expectSameAsRhea([PROTOCOL_HEADER, Buffer.concat([TRANSFER, ATTACH])]);
    expect(coveredFirst.seen.map(({ event }) => event)).toEqual(['transfer', 'attach']);
    expect(coveredFirst.readDirectly).toBe(1);
    const mixed = expectSameAsRhea([
      PROTOCOL_HEADER,
      Buffer.concat([ATTACH, DISPOSITION, HEARTBEAT, DETACH, FLOW, TRANSFER]),
    ]);
    expect(mixed.seen.map(({ event }) => event)).toEqual([
      'attach',
      'disposition',
      'detach',
      'flow',
      'transfer',
    ]);
    expect(mixed.readDirectly).toBe(3);
    expect(mixed.kept).toBe('');
  });

  it('consumes exactly the whole frames in a read, as rhea does: to a frame boundary, none of a frame not all there, nothing of an empty read', () => {
    const reads = [
      Buffer.concat([TRANSFER, DISPOSITION, FLOW]), // ends exactly at a frame boundary
      Buffer.alloc(0), // a zero-length read
      Buffer.concat([ATTACH, TRANSFER.subarray(0, 3)]), // ends inside the next frame's size field
      Buffer.concat([FLOW, TRANSFER.subarray(0, 6)]), // ... inside its header
      Buffer.concat([HEARTBEAT, TRANSFER.subarray(0, TRANSFER.length - 1)]), // ... one byte short of its end
      TRANSFER.subarray(0, 4), // a size field alone
    ];
    const consumed = (direct: boolean): { counts: number[]; recording: Recording } => {
      const { transport, recording } = recordingTransport(direct);
      expect(transport.read(PROTOCOL_HEADER)).toBe(8);
      return { counts: reads.map((read) => transport.read(read)), recording };
    };
    const ours = consumed(true);
    const theirs = consumed(false);
    expect(ours.counts).toEqual([
      TRANSFER.length + DISPOSITION.length + FLOW.length,
      0,
      ATTACH.length,
      FLOW.length,
      HEARTBEAT.length,
      0,
    ]);
    expect(ours.counts).toEqual(theirs.counts);
    expect(ours.recording.seen).toEqual(theirs.recording.seen);
    expect(ours.recording.seen.map(({ event }) => event)).toEqual([
      'transfer',
      'disposition',
      'flow',
      'attach',
      'flow',
    ]);
    expect(ours.recording.readDirectly).toBe(4);
    // Through rhea's input, empty reads between and inside frames change nothing.
    const empty = Buffer.alloc(0);
    const split = expectSameAsRhea([
      PROTOCOL_HEADER,
      empty,
      TRANSFER.subarray(0, 2),
      empty,
      Buffer.concat([TRANSFER.subarray(2), DISPOSITION]),
      empty,
    ]);
    expect(split.seen.map(({ event }) => event)).toEqual(['transfer', 'disposition']);
    expect(split.kept).toBe('');
  });

  it('fails the connection as rhea does on a frame declaring fewer than its 8 header bytes, after the frames before it', () => {
    for (let size = 0; size < 8; size++) {
      const tiny = Buffer.from([0, 0, 0, size, 2, 0, 0, 0]);
      const ours = expectSameAsRhea([PROTOCOL_HEADER, Buffer.concat([FLOW, tiny, TRANSFER])]);
      expect(ours.seen.map(({ event }) => event)).toEqual(['flow']);
      expect(ours.failures).toHaveLength(1);
      expect(ours.ended).toBe(true);
    }
  });

  it('waits, as rhea does, for a frame declaring more bytes than have come, and reads it once they have', () => {
    const waiting = expectSameAsRhea([
      PROTOCOL_HEADER,
      Buffer.concat([DISPOSITION, TRANSFER.subarray(0, 20)]),
    ]);
    expect(waiting.seen.map(({ event }) => event)).toEqual(['disposition']);
    expect(waiting.kept).toBe(TRANSFER.subarray(0, 20).toString('hex'));
    const read = expectSameAsRhea([
      PROTOCOL_HEADER,
      Buffer.concat([DISPOSITION, TRANSFER.subarray(0, 20)]),
      TRANSFER.subarray(20),
    ]);
    expect(read.seen.map(({ event }) => event)).toEqual(['disposition', 'transfer']);
    expect(read.readDirectly).toBe(2);
    // A size far beyond anything sent: rhea keeps waiting (it does not check the size against its
    // max-frame-size on input), and so does the direct reader, with no failure.
    const huge = Buffer.from(TRANSFER);
    huge.writeUInt32BE(0x7fffffff, 0);
    const forever = expectSameAsRhea([PROTOCOL_HEADER, Buffer.concat([FLOW, huge]), DETACH]);
    expect(forever.seen.map(({ event }) => event)).toEqual(['flow']);
    expect(forever.failures).toEqual([]);
    expect(forever.kept).toBe(Buffer.concat([huge, DETACH]).toString('hex'));
  });

  it("fails the connection with rhea's error on a covered frame whose performative is cut short, wherever it is cut", () => {
    const covered = [
      amqpFrame(
        1,
        frames.transfer({ handle: 0, delivery_id: 5, delivery_tag: Buffer.from('a'), more: true }),
      ),
      DISPOSITION,
      FLOW,
    ];
    let cuts = 0;
    for (const frame of covered) {
      for (let keep = 9; keep < frame.length; keep++) {
        const ours = expectSameAsRhea([
          PROTOCOL_HEADER,
          Buffer.concat([TRANSFER, cutShort(frame, keep), FLOW]),
        ]);
        expect(ours.seen.map(({ event }) => event)).toEqual(['transfer']);
        expect(ours.failures).toEqual([expect.objectContaining({ event: 'error', name: 'RangeError' })]);
        expect(ours.ended).toBe(true);
        cuts++;
      }
    }
    expect(cuts).toBeGreaterThan(30);
  });

  it('reads a delivery state whose list size disagrees with its count as rhea does (by the count)', () => {
    const fields = [0x52, 0x07, 0x40, 0x41]; // first 7, last null, settled
    const sizeTooSmall = dispositionByHand(6, [
      ...fields,
      0x00,
      0x53,
      0x27,
      0xc0,
      0x01,
      0x02,
      0x41,
      0x42,
      0x41,
    ]);
    const sizeTooLarge = dispositionByHand(6, [
      ...fields,
      0x00,
      0x53,
      0x24,
      0xc0,
      0x03,
      0x00,
      0x41,
      0x42,
      0x41,
    ]);
    for (const frame of [sizeTooSmall, sizeTooLarge]) {
      const ours = expectSameAsRhea([PROTOCOL_HEADER, Buffer.concat([frame, FLOW])]);
      expect(ours.failures).toEqual([]);
      expect(ours.seen.map(({ event }) => event)).toEqual(['disposition', 'flow']);
      expect(ours.seen[0]?.fields.batchable).toBe(true);
    }
  });
});

describe('readFramesDirectly on a real connection', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const clients: AmqpConnection[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => {});
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  /**
   * A peer written by hand: accepts SASL ANONYMOUS (a single-frame exchange), answers the client's AMQP header
   * and open with its own, and then only writes what `send` gives it.
   */
  async function handMadePeer(): Promise<{ port: number; send(bytes: Buffer): void }> {
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.on('end', () => socket.end());
      let received = Buffer.alloc(0);
      let stage: 'header' | 'sasl-init' | 'amqp-header' | 'open' = 'header';
      socket.on('data', (data: Buffer) => {
        received = Buffer.concat([received, data]);
        if (stage === 'header' && received.length >= 8) {
          if (received[4] === 3) {
            stage = 'sasl-init';
            const mechanisms = frames.sasl_mechanisms({ sasl_server_mechanisms: ['ANONYMOUS'] });
            socket.write(
              Buffer.concat([
                SASL_HEADER,
                frames.write_frame({ type: 1, channel: 0, performative: mechanisms }),
              ]),
            );
          } else stage = 'amqp-header';
        }
        if (
          stage === 'sasl-init' &&
          received.length >= 12 &&
          received.length >= 8 + received.readUInt32BE(8)
        ) {
          stage = 'amqp-header';
          received = received.subarray(8 + received.readUInt32BE(8));
          const outcome = frames.sasl_outcome({ code: 0 });
          socket.write(frames.write_frame({ type: 1, channel: 0, performative: outcome }));
        }
        if (stage === 'amqp-header' && received.includes(PROTOCOL_HEADER)) {
          stage = 'open';
          socket.write(
            Buffer.concat([PROTOCOL_HEADER, amqpFrame(0, frames.open({ container_id: 'hand-made' }))]),
          );
        }
      });
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening');
    return {
      port: (server.address() as AddressInfo).port,
      send: (bytes) => {
        for (const socket of sockets) socket.write(bytes);
      },
    };
  }

  const cutShortTransfer = cutShort(
    amqpFrame(0, frames.transfer({ handle: 0, delivery_id: 5, delivery_tag: Buffer.from('a'), more: true })),
    16,
  );

  it("fails with rhea's own error and closes, without hanging or crashing, on a cut-short transfer", async () => {
    // rhea alone, the reference.
    const reference = await handMadePeer();
    const container = rhea.create_container();
    container.on('error', () => {});
    const rheaConnection = container.connect({
      host: '127.0.0.1',
      port: reference.port,
      reconnect: false,
      username: 'anonymous', // SASL ANONYMOUS, as ours uses
    });
    await waitFor(rheaConnection, 'connection_open');
    const rheaFailed = waitFor<[Error]>(rheaConnection, 'error');
    const rheaGone = waitFor(rheaConnection, 'disconnected');
    reference.send(cutShortTransfer);
    const [rheaError] = await rheaFailed;
    await rheaGone;
    expect(rheaError.name).toBe('RangeError');

    // Ours, on whose connections the direct reader reads.
    const peer = await handMadePeer();
    const client = await connect({ host: '127.0.0.1', port: peer.port, reconnect: false });
    clients.push(client);
    const failed = waitFor<[Error]>(client, 'error');
    const closed = waitFor(client, 'close');
    peer.send(Buffer.concat([amqpFrame(0), cutShortTransfer]));
    const [error] = await failed;
    await closed;
    expect({ name: error.name, message: error.message }).toEqual({
      name: rheaError.name,
      message: rheaError.message,
    });
  });
});

/** How many bytes of `frame` (one our reader covers) follow its performative. */
function payloadLength(frame: Buffer): number {
  const read = readKnownFrame(frame, 0, frame.length);
  if (read === undefined) throw new Error('not a frame the direct reader covers');
  return Buffer.isBuffer(read.payload) ? read.payload.length : 0;
}

function one(frame: Buffer): Buffer[] {
  return [frame];
}

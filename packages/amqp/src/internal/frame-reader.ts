// rhea decodes every incoming frame into its typed-value tree: a wrapper object per field and value, then a
// performative object whose getters unwrap those on each read. On the connections this package creates, the
// AMQP transport reads the three frames that come per message — transfer, disposition and flow — straight into
// plain performatives (frame-performatives.ts) whose fields hold what rhea's getters would return, and hands
// them to rhea exactly where its own reader would. Anything else, and any of those three in a shape this reader
// does not cover (an extended header, a field of an unexpected type, a transfer's delivery state, a flow's
// properties), goes to rhea's reader frame by frame, which also reports malformed input its own way.

import {
  DispositionPerformative,
  FlowPerformative,
  type FrameHandler,
  type ReadFrame,
  TransferPerformative,
} from './frame-performatives';
import {
  HAND_OFF_FRAME_TYPE,
  HAND_OFF_MARKER_BYTES,
  type HandOffQueue,
  readHandOffsFrom,
} from './message-hand-off';
import { rhea } from './rhea';
import { rheaLogs } from './rhea-logging';
import type { RheaConnection } from './rhea-types';

const DESCRIPTOR_FLOW = 0x13;
const DESCRIPTOR_TRANSFER = 0x14;
const DESCRIPTOR_DISPOSITION = 0x15;

/** Thrown inside the reader to hand the frame to rhea; never escapes `readKnownFrame`. */
const GIVE_UP = Symbol('dragoman.frame.giveUp');

interface TypedReader {
  position: number;
  read(): unknown;
}

const Reader = (rhea as unknown as { types: { Reader?: new (buffer: Buffer) => TypedReader } }).types.Reader;

const EMPTY = Buffer.alloc(0);
let input: Buffer = EMPTY;
let at = 0;
let end = 0;

function need(bytes: number): void {
  if (at + bytes > end) throw GIVE_UP;
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

/** The list header of a performative: how many fields follow (the list's end must be the frame's or before). */
function listCount(): number {
  const code = u8();
  if (code === 0x45) return 0;
  if (code === 0xc0) {
    const size = u8();
    need(size);
    return u8();
  }
  if (code === 0xd0) {
    const size = u32();
    need(size);
    return u32();
  }
  throw GIVE_UP;
}

/** A uint field; null stays null (rhea's getter returns the null's value). */
function uint(): number | null {
  const code = u8();
  if (code === 0x52) return u8();
  if (code === 0x70) return u32();
  if (code === 0x43) return 0;
  if (code === 0x40) return null;
  throw GIVE_UP;
}

/** A boolean field; rhea reads the one-byte form (0x56) as its byte, so that stays a number. */
function bool(): boolean | number | null {
  const code = u8();
  if (code === 0x41) return true;
  if (code === 0x42) return false;
  if (code === 0x56) return u8();
  if (code === 0x40) return null;
  throw GIVE_UP;
}

function ubyte(): number | null {
  const code = u8();
  if (code === 0x50) return u8();
  if (code === 0x40) return null;
  throw GIVE_UP;
}

function binary(): Buffer | null {
  const code = u8();
  let length: number;
  if (code === 0xa0) length = u8();
  else if (code === 0xb0) length = u32();
  else if (code === 0x40) return null;
  else throw GIVE_UP;
  need(length);
  const start = at;
  at += length;
  return input.subarray(start, at);
}

/** Moves past one encoded value of any type (AMQP 1.0 1.6: the width follows from the constructor's code). */
function skipValue(): void {
  const code = u8();
  if (code === 0x00) {
    skipValue(); // the descriptor
    skipValue(); // the described value
    return;
  }
  const category = code >> 4;
  let width: number;
  if (category === 0x4) width = 0;
  else if (category === 0x5) width = 1;
  else if (category === 0x6) width = 2;
  else if (category === 0x7) width = 4;
  else if (category === 0x8) width = 8;
  else if (category === 0x9) width = 16;
  else if (category === 0xa || category === 0xc || category === 0xe) width = u8();
  else if (category === 0xb || category === 0xd || category === 0xf) width = u32();
  else throw GIVE_UP;
  need(width);
  at += width;
}

/**
 * The outcomes that come with nearly every disposition, as rhea's reader reads them, made once: rhea and this
 * package only read a delivery's state, so deliveries can share one. Encoded as an empty list0 or list8.
 */
const COMMON_STATES: ReadonlyArray<{ readonly bytes: Buffer; readonly state: unknown }> =
  Reader === undefined
    ? []
    : [0x24, 0x25, 0x26].flatMap((descriptor) =>
        [
          [0x00, 0x53, descriptor, 0x45],
          [0x00, 0x53, descriptor, 0xc0, 0x01, 0x00],
        ].map((encoded) => {
          const bytes = Buffer.from(encoded);
          return { bytes, state: new Reader(bytes).read() };
        }),
      );

function commonState(start: number, length: number): unknown {
  for (let i = 0; i < COMMON_STATES.length; i++) {
    const common = COMMON_STATES[i] as (typeof COMMON_STATES)[number];
    const bytes = common.bytes;
    if (bytes.length !== length) continue;
    let same = true;
    for (let j = 0; j < length && same; j++) same = input[start + j] === bytes[j];
    if (same) return common.state;
  }
  return undefined;
}

/** A delivery state (field of type '*'): rhea keeps it as its typed value, so rhea's reader reads it. */
function typedValue(): unknown {
  if (Reader === undefined) throw GIVE_UP;
  const start = at;
  if (input[at] === 0x40) {
    at += 1;
    return new Reader(input.subarray(start, at)).read();
  }
  skipValue();
  return commonState(start, at - start) ?? readExactly(Reader, input.subarray(start, at));
}

/**
 * rhea's typed value of `bytes` when reading it takes exactly those bytes. rhea reads a list or map by its
 * count and ignores its size: when the two disagree, rhea's reader of the whole frame reads it, its own way.
 */
function readExactly(reader: new (buffer: Buffer) => TypedReader, bytes: Buffer): unknown {
  const typed = new reader(bytes);
  let value: unknown;
  try {
    value = typed.read();
  } catch {
    throw GIVE_UP;
  }
  if (typed.position !== bytes.length) throw GIVE_UP;
  return value;
}

function readTransfer(count: number): TransferPerformative {
  const transfer = new TransferPerformative();
  if (count > 11) throw GIVE_UP;
  if (count > 0) transfer.handle = uint();
  if (count > 1) transfer.delivery_id = uint();
  if (count > 2) transfer.delivery_tag = binary();
  if (count > 3) transfer.message_format = uint();
  if (count > 4) transfer.settled = bool();
  if (count > 5) transfer.more = bool();
  if (count > 6) transfer.rcv_settle_mode = ubyte();
  if (count > 7) {
    if (input[at] !== 0x40) throw GIVE_UP; // a delivery state on a transfer: rare, left to rhea
    at += 1;
    transfer.state = null;
  }
  if (count > 8) transfer.resume = bool();
  if (count > 9) transfer.aborted = bool();
  if (count > 10) transfer.batchable = bool();
  return transfer;
}

function readDisposition(count: number): DispositionPerformative {
  const disposition = new DispositionPerformative();
  if (count > 6) throw GIVE_UP;
  if (count > 0) disposition.role = bool();
  if (count > 1) disposition.first = uint();
  if (count > 2) disposition.last = uint();
  if (count > 3) disposition.settled = bool();
  if (count > 4) disposition.state = typedValue();
  if (count > 5) disposition.batchable = bool();
  return disposition;
}

function readFlow(count: number): FlowPerformative {
  const flow = new FlowPerformative();
  if (count > 11) throw GIVE_UP;
  if (count > 0) flow.next_incoming_id = uint();
  if (count > 1) flow.incoming_window = uint();
  if (count > 2) flow.next_outgoing_id = uint();
  if (count > 3) flow.outgoing_window = uint();
  if (count > 4) flow.handle = uint();
  if (count > 5) flow.delivery_count = uint();
  if (count > 6) flow.link_credit = uint();
  if (count > 7) flow.available = uint();
  if (count > 8) flow.drain = bool();
  if (count > 9) flow.echo = bool();
  if (count > 10) {
    if (input[at] !== 0x40) throw GIVE_UP; // properties: rare, left to rhea
    at += 1;
    flow.properties = null;
  }
  return flow;
}

/**
 * The frame of `size` bytes at `offset` when it is an AMQP transfer, disposition or flow this reader covers;
 * undefined otherwise (rhea then reads it).
 */
export function readKnownFrame(buffer: Buffer, offset: number, size: number): ReadFrame | undefined {
  // size (4), data offset 2 (no extended header), type AMQP (0), channel (2), then a described list
  // whose descriptor is a small ulong.
  if (size < 12 || buffer[offset + 4] !== 2 || buffer[offset + 5] !== 0) return undefined;
  if (buffer[offset + 8] !== 0x00 || buffer[offset + 9] !== 0x53) return undefined;
  const descriptor = buffer[offset + 10];
  if (
    descriptor !== DESCRIPTOR_TRANSFER &&
    descriptor !== DESCRIPTOR_DISPOSITION &&
    descriptor !== DESCRIPTOR_FLOW
  )
    return undefined;
  input = buffer;
  end = offset + size;
  at = offset + 11;
  try {
    const count = listCount();
    let performative: ReadFrame['performative'];
    if (descriptor === DESCRIPTOR_TRANSFER) performative = readTransfer(count);
    else if (descriptor === DESCRIPTOR_DISPOSITION) performative = readDisposition(count);
    else performative = readFlow(count);
    const channel = buffer.readUInt16BE(offset + 6);
    const payload = at < end ? buffer.subarray(at, end) : undefined;
    return { size, type: 0, channel, performative, payload };
  } catch (error) {
    if (error === GIVE_UP) return undefined;
    throw error;
  } finally {
    input = EMPTY;
  }
}

interface AmqpTransport {
  header_received: unknown;
  read_complete: boolean;
  frame_type: number;
  handler: FrameHandler;
  read(buffer: Buffer): number;
}

type UnwrapOutcome = (outcome: unknown) => unknown;

let outcomesShared = false;

/**
 * rhea makes a delivery's outcome object anew from the disposition's state for every delivery it settles
 * (`message.unwrap_outcome`); for the shared common states it is made once. Process-wide, as rhea's module
 * function is; any other state goes to rhea's own.
 */
function shareCommonOutcomes(): void {
  if (outcomesShared) return;
  outcomesShared = true;
  const message = (rhea as unknown as { message?: { unwrap_outcome?: UnwrapOutcome } }).message;
  const unwrap = message?.unwrap_outcome;
  if (message === undefined || typeof unwrap !== 'function') return; // not the rhea we know
  const unwrapped = new Map<unknown, unknown>(COMMON_STATES.map(({ state }) => [state, unwrap(state)]));
  message.unwrap_outcome = (outcome: unknown): unknown =>
    unwrapped.has(outcome) ? unwrapped.get(outcome) : unwrap(outcome);
}

/** Lets `connection` read transfers, dispositions and flows without rhea's typed-value tree (see above). */
export function readFramesDirectly(connection: RheaConnection): void {
  const transport = (connection as unknown as { amqp_transport?: AmqpTransport }).amqp_transport;
  if (Reader === undefined || rheaLogs()) return;
  shareCommonOutcomes();
  if (transport === undefined || typeof transport.read !== 'function' || !('read_complete' in transport))
    return;
  const rheaRead = transport.read;
  transport.read = function (buffer) {
    const handOffs = readHandOffsFrom(connection.socket);
    if (!this.header_received || this.frame_type !== 0) return rheaRead.call(this, buffer);
    let offset = 0;
    while (offset < buffer.length - 4 && !this.read_complete) {
      const size = buffer.readUInt32BE(offset);
      if (buffer.length < offset + size) break;
      if (
        handOffs !== undefined &&
        size === HAND_OFF_MARKER_BYTES &&
        buffer[offset + 5] === HAND_OFF_FRAME_TYPE
      ) {
        const handedOff = takeHandedOff(handOffs, buffer, offset);
        offset += size;
        handedOff.performative.dispatch(this.handler, handedOff);
        continue;
      }
      const frame = readKnownFrame(buffer, offset, size);
      if (frame === undefined) {
        // rhea reads this one frame, and throws on it as it would have; a frame too short to be one, with
        // whatever follows it, is left to rhea whole.
        if (size < 8) return offset + rheaRead.call(this, buffer.subarray(offset));
        const read = rheaRead.call(this, buffer.subarray(offset, offset + size));
        offset += read;
        if (read < size) break;
        continue;
      }
      offset += size;
      frame.performative.dispatch(this.handler, frame);
    }
    return offset;
  };
}

/** The frame a marker stands for (message-hand-off.ts), taken by the number the marker carries. */
function takeHandedOff(handOffs: HandOffQueue, buffer: Buffer, offset: number): ReadFrame {
  const frame = handOffs.take(buffer.readUInt32BE(offset + 8));
  if (frame === undefined) throw new Error('a hand-off marker whose frame is not the next in the pipe');
  return frame as ReadFrame;
}

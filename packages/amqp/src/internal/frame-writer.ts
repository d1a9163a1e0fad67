// rhea's AMQP transport writes each pending frame with its own `socket.write`, encoded into a new zero-filled
// 1 KiB buffer (`Buffer.alloc`, outside Node's buffer pool) that it then slices: a fresh ArrayBuffer for every
// transfer, disposition and flow. On the connections this package creates, the AMQP transport encodes the
// frames pending at each write one after the other into one buffer kept for the purpose, in the frame layout
// of AMQP 1.0 (2.3.1: size, data offset 2, type, channel): transfers, dispositions and flows by their own
// writer (lean-performatives.ts), any other performative by rhea's typed-value writer; it writes a pooled
// copy of them with one `socket.write` (to the in-memory pipe, which copies anyway, the buffer itself with
// `writeCopy`). rhea asks for a write after every frame it makes, so that is usually one frame: the gain is the allocation, not fewer writes (the socket is corked per tick anyway).
// Holding a processing round's frames back to write them together was tried and dropped: encoded late they
// are wrong (rhea clears the close frame's error right after handing it over), and encoded at once but written
// at the end of the round they measured no gain (gateway, MQTT→MQTT QoS 1: 96 → 103 µs CPU per message).
// The protocol header (the first write) and SASL frames stay rhea's, as does everything while rhea's frame
// logging is switched on (DEBUG=rhea…), since this path does not log.
import {
  installLeanPerformatives,
  OutgoingPerformative,
  type TypedWriter as PerformativeWriter,
} from './lean-performatives';
import { HAND_OFF_FRAME_TYPE, type HandOffQueue, handOffOutOf, markWritesHandOffs } from './message-hand-off';
import { rhea } from './rhea';
import { rheaLogs } from './rhea-logging';
import type { RheaConnection } from './rhea-types';

const TYPE_AMQP = 0x00;
const TYPE_SASL = 0x01;
/** Frames of one round usually take a few hundred bytes; a round beyond this gets its own buffer. */
const SCRATCH_BYTES = 64 * 1024;

interface TypedWriter extends PerformativeWriter {
  skip(bytes: number): void;
}

interface PendingFrame {
  readonly type: number;
  readonly channel?: number;
  readonly performative?: unknown;
  /** Bytes; or, in a transfer handed over as an object (message-hand-off.ts), the message object. */
  readonly payload?: Buffer | object;
}

interface AmqpTransport {
  header_sent: unknown;
  pending: PendingFrame[];
  write(socket: { write(bytes: Buffer): unknown }): void;
}

const Writer = (rhea as unknown as { types: { Writer?: new (buffer?: Buffer) => TypedWriter } }).types.Writer;

let scratch: TypedWriter | undefined;

function writer(): TypedWriter {
  if (Writer === undefined) throw new Error('rhea types.Writer is missing');
  scratch ??= new Writer(Buffer.allocUnsafe(SCRATCH_BYTES));
  return scratch;
}

/**
 * One frame appended to `out`, as rhea's frames.write_frame writes it; with `handOffs`, a transfer or flow goes
 * there as the object our reader would read, and `out` gets its marker (message-hand-off.ts).
 */
function appendFrame(out: TypedWriter, frame: PendingFrame, handOffs: HandOffQueue | undefined): void {
  const start = out.position;
  out.skip(4); // the size, filled in below
  out.write_uint(2, 1); // data offset: 2 words, no extended header
  const performative = frame.performative;
  if (handOffs !== undefined && frame.type === TYPE_AMQP && performative instanceof OutgoingPerformative) {
    const read = performative.toRead();
    if (read !== undefined) {
      const channel = frame.channel ?? 0;
      out.write_uint(HAND_OFF_FRAME_TYPE, 1);
      out.write_uint(0, 2);
      out.write_uint(
        handOffs.put({ size: 0, type: TYPE_AMQP, channel, performative: read, payload: frame.payload }),
        4,
      );
      out.buffer.writeUInt32BE(out.position - start, start);
      return;
    }
  }
  out.write_uint(frame.type, 1);
  if (frame.type === TYPE_AMQP) out.write_uint(frame.channel ?? 0, 2);
  else if (frame.type === TYPE_SASL) out.write_uint(0, 2);
  else throw new Error(`unknown frame type ${frame.type}`);
  if (performative) {
    if (performative instanceof OutgoingPerformative) performative.writeTo(out);
    else out.write(performative);
    const payload = frame.payload;
    if (payload instanceof Uint8Array) out.write_bytes(payload);
    else if (payload !== undefined) throw new Error('a handed-off message in a frame that is not handed off');
  }
  out.buffer.writeUInt32BE(out.position - start, start);
}

/** What was appended, as a buffer of its own; the scratch buffer is kept for the next round. */
function takeBytes(out: TypedWriter): Buffer {
  const length = out.position;
  out.position = 0;
  if (length > SCRATCH_BYTES || out.buffer.length > SCRATCH_BYTES) {
    // A large round (a big message): hand this buffer over whole and start a new one.
    const bytes = out.buffer.subarray(0, length);
    scratch = undefined;
    return bytes;
  }
  const bytes = Buffer.allocUnsafe(length);
  out.buffer.copy(bytes, 0, 0, length);
  return bytes;
}

/** A socket that copies what it is given at once (the in-memory pipe): the scratch buffer needs no copy of its own. */
interface CopyingSocket {
  writeCopy(bytes: Uint8Array): unknown;
}

function copiesWrites(socket: object): socket is CopyingSocket {
  return typeof (socket as Partial<CopyingSocket>).writeCopy === 'function';
}

/** What was appended, written to `socket`. */
function writeOut(socket: { write(bytes: Buffer): unknown }, out: TypedWriter): void {
  if (copiesWrites(socket) && out.buffer.length <= SCRATCH_BYTES) {
    const length = out.position;
    out.position = 0;
    socket.writeCopy(out.buffer.subarray(0, length));
    return;
  }
  socket.write(takeBytes(out));
}

/** Lets `connection` write its AMQP frames without a fresh 1 KiB buffer each (see above). */
export function writeFramesTogether(connection: RheaConnection): void {
  const transport = (connection as unknown as { amqp_transport?: AmqpTransport }).amqp_transport;
  if (Writer === undefined || rheaLogs()) return;
  if (transport === undefined || typeof transport.write !== 'function' || !Array.isArray(transport.pending))
    return; // not the rhea we know: leave it writing as usual
  // Transfers, dispositions and flows made as plain fields, encoded below without a typed tree (lean-performatives.ts).
  installLeanPerformatives();
  const rheaWrite = transport.write;
  transport.write = function (socket) {
    if (!this.header_sent || this.pending.length === 0) {
      rheaWrite.call(this, socket);
      return;
    }
    const frames = this.pending;
    this.pending = [];
    const out = writer();
    out.position = 0;
    const handOffs = handOffOutOf(socket);
    for (let i = 0; i < frames.length; i++) {
      const start = out.position;
      try {
        appendFrame(out, frames[i] as PendingFrame, handOffs);
      } catch (error) {
        // A frame rhea cannot encode: the ones before it are written, it and the rest stay pending.
        out.position = start;
        if (start > 0) writeOut(socket, out);
        this.pending = frames.slice(i);
        throw error;
      }
    }
    writeOut(socket, out);
  };
  markWritesHandOffs(connection);
}

// On an in-process transport made with `handOffMessages` (in-process.ts), transfers and flows cross the pipe as
// the objects our frame reader would have made of their bytes, and a transfer's message as the object its Sender
// was given: nothing of them is encoded or decoded. The frame writer puts such a frame in the pipe's hand-off
// queue and writes, in its place in the byte stream, a marker frame of a private type holding the frame's number
// in the queue (frame-writer.ts); the frame reader, meeting the marker, takes that frame from the queue and hands
// it to rhea as if it had read it (frame-reader.ts). Everything else (open, attach, dispositions, …) stays bytes,
// and the markers keep every frame in its one order. The frames are those of any connection: delivery ids,
// tags, settlement, credit, session windows; a transfer whose payload is a message object carries the private
// message format below, which the Receiver turns back into 0. The queue holds what the pipe holds, the frames of
// the turn not yet delivered: nothing accumulates across turns.
import type { RheaConnection } from './rhea-types';

/**
 * The message format of a handed-off transfer: a vendor format ("DRG", version 0) that never leaves the process
 * (AMQP 1.0 §2.7.5: the upper three octets name the format's owner, the last its version).
 */
export const HAND_OFF_FORMAT = 0x44524700;

/** The frame type of a marker: not one of AMQP's (0x00) or SASL's (0x01), so no other reader takes it. */
export const HAND_OFF_FRAME_TYPE = 0xd7;
/** A marker: the 8-byte frame header and the number of its frame in the queue. */
export const HAND_OFF_MARKER_BYTES = 12;

/** A frame between the writer and the reader: an object, never bytes. */
export type HandedOffFrame = object;

/**
 * One direction of a pipe: what its writer has put in and its reader not yet taken, in frame order. Each put
 * gets the next number (mod 2^32), which the marker carries; the reader takes only with the number it read.
 * Markers and queue cannot drift apart unnoticed: the take fails, and the connection with it, instead of handing
 * over another frame.
 */
export class HandOffQueue {
  #items: HandedOffFrame[] = [];
  #head = 0;
  #put = 0;
  #taken = 0;
  #closed = false;

  /** The frame's number; nothing is kept once the pipe is closed, as the markers are dropped then. */
  put(frame: HandedOffFrame): number {
    const number = this.#put;
    this.#put = (number + 1) >>> 0;
    if (!this.#closed) this.#items.push(frame);
    return number;
  }

  /** The frame put in as `number`; undefined when it is not the next one (or the queue is empty). */
  take(number: number): HandedOffFrame | undefined {
    const items = this.#items;
    if (this.#head >= items.length || number !== this.#taken) return undefined;
    const frame = items[this.#head] as HandedOffFrame;
    items[this.#head] = EMPTY_SLOT;
    this.#head++;
    this.#taken = (this.#taken + 1) >>> 0;
    if (this.#head === items.length) {
      // Emptied (every turn, at throughput): start again at the front instead of growing.
      items.length = 0;
      this.#head = 0;
    }
    return frame;
  }

  /** The pipe closed: what it holds will never be read, and nothing more is kept. */
  close(): void {
    this.#closed = true;
    this.#items = [];
    this.#head = 0;
  }
}

const EMPTY_SLOT: HandedOffFrame = Object.freeze({});

/** A socket that carries frames beside its bytes (the in-memory pipe of a hand-off transport). */
export interface HandOffSocket {
  /** Where this end's writer puts frames; undefined when the transport does not hand off. */
  readonly handOffOut: HandOffQueue | undefined;
  /** Where this end's reader takes them from (the other end's `handOffOut`). */
  readonly handOffIn: HandOffQueue | undefined;
  /** Set by our frame reader when it reads from this end: it takes frames from `handOffIn`. */
  readsHandOffs: boolean;
  /** Whether the other end's reader takes messages (rhea's own client on a pipe does not). */
  readonly peerReadsHandOffs: boolean;
}

function handOffSocket(socket: unknown): HandOffSocket | undefined {
  if (typeof socket !== 'object' || socket === null) return undefined;
  const candidate = socket as Partial<HandOffSocket>;
  return candidate.handOffOut instanceof HandOffQueue ? (socket as HandOffSocket) : undefined;
}

/**
 * The queue `socket`'s writer puts frames in: when it hands off and our reader reads the other end (bytes until
 * then: the frames before its first read, and always for a rhea client on the pipe).
 */
export function handOffOutOf(socket: unknown): HandOffQueue | undefined {
  const handOff = handOffSocket(socket);
  return handOff?.peerReadsHandOffs === true ? handOff.handOffOut : undefined;
}

/** The queue our reader takes frames from, if `socket` hands off; marks the socket as read by it. */
export function readHandOffsFrom(socket: unknown): HandOffQueue | undefined {
  const handOff = handOffSocket(socket);
  if (handOff === undefined) return undefined;
  handOff.readsHandOffs = true;
  return handOff.handOffIn;
}

const WRITES_HAND_OFFS = Symbol('dragoman.writesHandOffs');
type MarkedConnection = RheaConnection & { [WRITES_HAND_OFFS]?: true };

/** The frame writer is ours on `connection` (frame-writer.ts): it can put frames in a queue. */
export function markWritesHandOffs(connection: RheaConnection): void {
  (connection as MarkedConnection)[WRITES_HAND_OFFS] = true;
}

/**
 * Whether a Sender on `connection` may hand its messages off: its socket is a hand-off pipe, our frame writer
 * writes this end, and our frame reader reads the other (rhea's own frame layer, e.g. while DEBUG=rhea logs
 * frames, or rhea's own client on the pipe, knows nothing of it). The other end has read frames by the time
 * a link is attached (the connection's open at least).
 */
export function handsOffMessages(connection: RheaConnection): boolean {
  return (
    (connection as MarkedConnection)[WRITES_HAND_OFFS] === true &&
    handOffOutOf(connection.socket) !== undefined
  );
}

// On an in-process transport made with `handOffMessages` (in-process.ts), a Sender does not encode its messages
// and the Receiver at the other end does not decode them: the message object travels beside the frames. The
// transfer frame is written and read as on any connection (same delivery id, tag, settlement, credit and
// session window), with this private message format and the message's number in the queue as its only payload;
// the frame writer puts the message in the pipe's hand-off queue as it writes the frame (frame-writer.ts), and
// the frame reader takes it from the queue as it reads that frame (frame-reader.ts). Both follow the frames' one
// order on the pipe: the n-th hand-off transfer written is the n-th read, and the number only checks that. The queue holds what the pipe holds, the
// frames of the turn not yet delivered: nothing accumulates across turns.
import type { RheaConnection } from './rhea-types';

/**
 * The message format of a handed-off transfer: a vendor format ("DRG", version 0) that never leaves the process
 * (AMQP 1.0 §2.7.5: the upper three octets name the format's owner, the last its version).
 */
export const HAND_OFF_FORMAT = 0x44524700;

/** A message between the frame that announced it and the Receiver: an object, never bytes. */
export type HandedOffMessage = object;

/**
 * One direction of a pipe: what its writer has put in and its reader not yet taken, in frame order. Each put
 * gets the next number (mod 2^32), which the frame carries as its four payload bytes; the reader takes only with
 * the number it read. Frames and queue cannot drift apart unnoticed (say, a frame read by some other reader):
 * the next take fails, and the connection with it, instead of handing over another transfer's message.
 */
export class HandOffQueue {
  #items: HandedOffMessage[] = [];
  #head = 0;
  #put = 0;
  #taken = 0;
  #closed = false;

  /** The message's number; nothing is kept once the pipe is closed, as the frame's bytes are dropped then. */
  put(message: HandedOffMessage): number {
    const number = this.#put;
    this.#put = (number + 1) >>> 0;
    if (!this.#closed) this.#items.push(message);
    return number;
  }

  /** The message put in as `number`; undefined when it is not the next one (or the queue is empty). */
  take(number: number): HandedOffMessage | undefined {
    const items = this.#items;
    if (this.#head >= items.length || number !== this.#taken) return undefined;
    const message = items[this.#head] as HandedOffMessage;
    items[this.#head] = EMPTY_SLOT;
    this.#head++;
    this.#taken = (this.#taken + 1) >>> 0;
    if (this.#head === items.length) {
      // Emptied (every turn, at throughput): start again at the front instead of growing.
      items.length = 0;
      this.#head = 0;
    }
    return message;
  }

  /** The pipe closed: what it holds will never be read, and nothing more is kept. */
  close(): void {
    this.#closed = true;
    this.#items = [];
    this.#head = 0;
  }
}

const EMPTY_SLOT: HandedOffMessage = Object.freeze({});

/** A socket that carries messages beside its bytes (the in-memory pipe of a hand-off transport). */
export interface HandOffSocket {
  /** Where this end's writer puts messages; undefined when the transport does not hand off. */
  readonly handOffOut: HandOffQueue | undefined;
  /** Where this end's reader takes them from (the other end's `handOffOut`). */
  readonly handOffIn: HandOffQueue | undefined;
  /** Set by our frame reader when it reads from this end: it takes messages from `handOffIn`. */
  readsHandOffs: boolean;
  /** Whether the other end's reader takes messages (rhea's own client on a pipe does not). */
  readonly peerReadsHandOffs: boolean;
}

function handOffSocket(socket: unknown): HandOffSocket | undefined {
  if (typeof socket !== 'object' || socket === null) return undefined;
  const candidate = socket as Partial<HandOffSocket>;
  return candidate.handOffOut instanceof HandOffQueue ? (socket as HandOffSocket) : undefined;
}

/** The queue `socket`'s writer puts messages in, if it hands off. */
export function handOffOutOf(socket: unknown): HandOffQueue | undefined {
  return handOffSocket(socket)?.handOffOut;
}

/** The queue our reader takes messages from, if `socket` hands off; marks the socket as read by it. */
export function readHandOffsFrom(socket: unknown): HandOffQueue | undefined {
  const handOff = handOffSocket(socket);
  if (handOff === undefined) return undefined;
  handOff.readsHandOffs = true;
  return handOff.handOffIn;
}

const WRITES_HAND_OFFS = Symbol('dragoman.writesHandOffs');
type MarkedConnection = RheaConnection & { [WRITES_HAND_OFFS]?: true };

/** The frame writer is ours on `connection` (frame-writer.ts): it can put messages in a queue. */
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
  if ((connection as MarkedConnection)[WRITES_HAND_OFFS] !== true) return false;
  const socket = handOffSocket(connection.socket);
  return socket?.peerReadsHandOffs === true;
}

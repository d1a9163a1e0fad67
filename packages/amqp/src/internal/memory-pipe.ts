import { EventEmitter } from 'node:events';

/**
 * One end of an in-memory byte pipe, shaped like the parts of a `net.Socket` rhea uses (`write`, `end`,
 * `destroy`, and the 'data', 'end', 'error' and 'close' events).
 *
 * What is written in one turn of the event loop reaches the other end as one 'data' chunk in the check
 * phase (`setImmediate`), after the I/O callbacks of that turn: the frames of a whole processing round travel
 * together, and neither end can starve the event loop by answering the other forever within one turn.
 * Delivering on `process.nextTick` instead was measured (gateway, MQTT→MQTT QoS 1) to save about 10 % CPU per
 * message, but it also returns link credit within the same tick, which takes away the pacing a socket gives:
 * a pre-settled publisher then outran a slower AMQP consumer of the embedded backend and most of its QoS 0
 * messages were dropped there.
 *
 * The bound: what waits in an end is what was written since the last delivery, i.e. one turn's output.
 * rhea never holds back on `write()` (it has no back-pressure towards its socket; a TCP socket buffers
 * without limit as well), and the other end processes each chunk synchronously, so nothing accumulates across
 * turns.
 *
 * Small writes are copied into a slab (a few KiB at most, sized to the traffic), so that a turn's frames reach
 * the peer as one slice of it without a Buffer and a concatenation per frame; `writeCopy` is that copy for a
 * writer that reuses its own buffer (the frame writer). One immediate serves every end with output in a turn.
 */
export class PipeEnd extends EventEmitter {
  /** What rhea prints in its logs for a socket. */
  readonly description: string;
  #peer: PipeEnd | undefined;
  /** Written chunks not yet delivered, in order, besides the open slab segment after them. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Where small writes are copied; the bytes from `#segmentStart` to `#slabUsed` are pending. */
  #slab: Buffer | undefined;
  #slabUsed = 0;
  #segmentStart = 0;
  #scheduled = false;
  /** end() called: nothing more may be written; the peer gets 'end' after the pending data. */
  #ending = false;
  #closed = false;

  constructor(description: string) {
    super();
    this.description = description;
  }

  /** @internal Links two ends. */
  static pair(description: string): [PipeEnd, PipeEnd] {
    const a = new PipeEnd(`${description} (client)`);
    const b = new PipeEnd(`${description} (server)`);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  /** False once the end is closed or ending (like a destroyed socket, the chunk is dropped). */
  get writable(): boolean {
    return !this.#closed && !this.#ending;
  }

  /** rhea's log line for the socket (it would otherwise read localAddress/remoteAddress). */
  get_id_string(): string {
    return this.description;
  }

  write(chunk: Uint8Array | string): boolean {
    if (!this.writable) return false;
    if (typeof chunk === 'string') chunk = Buffer.from(chunk);
    if (chunk.length <= COPIED_WRITE_BYTES) this.#copyIntoSlab(chunk);
    else this.#pushChunk(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    this.#schedule();
    return true;
  }

  /** Like `write`, for a writer that reuses `bytes` once this returns: they are copied now. */
  writeCopy(bytes: Uint8Array): boolean {
    if (!this.writable) return false;
    if (bytes.length <= COPIED_WRITE_BYTES) this.#copyIntoSlab(bytes);
    else this.#pushChunk(Buffer.from(bytes));
    this.#schedule();
    return true;
  }

  #copyIntoSlab(bytes: Uint8Array): void {
    let slab = this.#slab;
    if (slab === undefined || this.#slabUsed + bytes.length > slab.length) {
      // The open segment moves to a new slab with the bytes; what was delivered from the old one stays there.
      const open = this.#slabUsed - this.#segmentStart;
      const fresh = Buffer.allocUnsafe(slabSize(open + bytes.length));
      if (slab !== undefined && open > 0) fresh.set(slab.subarray(this.#segmentStart, this.#slabUsed));
      this.#slab = slab = fresh;
      this.#segmentStart = 0;
      this.#slabUsed = open;
    }
    slab.set(bytes, this.#slabUsed);
    this.#slabUsed += bytes.length;
  }

  #pushChunk(chunk: Buffer): void {
    this.#closeSegment();
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
  }

  /** The open slab segment, as a pending chunk of its own. */
  #closeSegment(): void {
    const slab = this.#slab;
    if (slab === undefined || this.#slabUsed === this.#segmentStart) return;
    this.#pending.push(slab.subarray(this.#segmentStart, this.#slabUsed));
    this.#pendingBytes += this.#slabUsed - this.#segmentStart;
    this.#segmentStart = this.#slabUsed;
  }

  /** What is pending, dropped. */
  #discard(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#segmentStart = this.#slabUsed;
  }

  /** What is pending, taken as one buffer (a slice of the slab when that is all). */
  #take(): Buffer | undefined {
    const slab = this.#slab;
    if (this.#pending.length === 0) {
      if (slab === undefined || this.#slabUsed === this.#segmentStart) return undefined;
      const bytes = slab.subarray(this.#segmentStart, this.#slabUsed);
      this.#segmentStart = this.#slabUsed;
      return bytes;
    }
    this.#closeSegment();
    const pending = this.#pending;
    const bytes = pending.length === 1 ? pending[0] : Buffer.concat(pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    return bytes;
  }

  /** Sends what is pending, then 'end' to the peer; both ends close after that. */
  end(): this {
    if (this.#closed || this.#ending) return this;
    this.#ending = true;
    this.#schedule();
    return this;
  }

  /** Closes both ends at once, dropping what is pending: the peer sees 'end' (as a reset socket's peer would). */
  destroy(error?: Error): this {
    if (this.#closed) return this;
    this.#close(error);
    const peer = this.#peer;
    if (peer !== undefined && !peer.#closed) {
      peer.#closed = true;
      peer.#discard();
      setImmediate(() => {
        peer.emit('end');
        peer.emit('close', false);
      });
    }
    return this;
  }

  /** Sockets have it; rhea calls it for TCP_NODELAY. Nothing to do in memory. */
  setNoDelay(): this {
    return this;
  }

  #close(error: Error | undefined): void {
    this.#closed = true;
    this.#discard();
    setImmediate(() => {
      if (error !== undefined) this.emit('error', error);
      this.emit('close', error !== undefined);
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (endsToFlush.length === 0) setImmediate(flushEnds);
    endsToFlush.push(this);
  }

  /** @internal Delivers what is pending to the peer (from `flushEnds`). */
  static flush(end: PipeEnd): void {
    end.#flush();
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    const peer = this.#peer;
    const bytes = this.#take();
    if (peer === undefined || peer.#closed) return;
    if (bytes !== undefined) peer.emit('data', bytes);
    if (this.#ending && !this.#closed) {
      this.#closed = true;
      if (!peer.#closed) {
        peer.#closed = true;
        peer.#discard();
        peer.emit('end');
        peer.emit('close', false);
      }
      this.emit('close', false);
    }
  }
}

/** Small writes are copied into a slab; larger ones are passed on as they are. */
const COPIED_WRITE_BYTES = 2048;
/** A slab has room for several times what it was made for, within these bounds (an idle end keeps its slab). */
const MIN_SLAB_BYTES = 256;
const MAX_SLAB_BYTES = 8 * 1024;

function slabSize(needed: number): number {
  return Math.max(needed, Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, 8 * needed)));
}

/** Ends with output this turn, flushed together in the check phase; one the flush writes to waits a turn. */
let endsToFlush: PipeEnd[] = [];

function flushEnds(): void {
  const ends = endsToFlush;
  endsToFlush = [];
  for (let i = 0; i < ends.length; i++) PipeEnd.flush(ends[i] as PipeEnd);
}

/** A pipe end that could not connect: it reports `error` and closes on the next turn, as a refused socket does. */
export function refusedPipe(description: string, error: Error): PipeEnd {
  const end = new PipeEnd(description);
  end.destroy(error);
  return end;
}

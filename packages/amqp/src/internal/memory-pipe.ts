import { EventEmitter } from 'node:events';
import { HandOffQueue, type HandOffSocket } from './message-hand-off';

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
 * Small writes are copied into a buffer the end reuses, and a turn's frames reach the peer as one copy of it,
 * without a Buffer per frame and a concatenation; `writeCopy` is that copy for a writer that reuses its own
 * buffer (the frame writer). The peer gets a buffer of its own, exactly sized: the messages it keeps views of
 * hold no larger buffer alive (slices of a shared slab did, and measured 10 MiB more RSS at throughput). One
 * immediate serves every end with output in a turn.
 *
 * A pair made to hand messages off (`handOff`) also carries, in each direction, the messages of the transfers
 * written to it (message-hand-off.ts); closing either end drops them with the bytes.
 */
export class PipeEnd extends EventEmitter implements HandOffSocket {
  /** What rhea prints in its logs for a socket. */
  readonly description: string;
  handOffOut: HandOffQueue | undefined = undefined;
  handOffIn: HandOffQueue | undefined = undefined;
  readsHandOffs = false;
  #peer: PipeEnd | undefined;
  /** Written chunks not yet delivered, in order, before what the turn buffer holds. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Where small writes are copied until the turn's delivery, which takes a copy; reused turn after turn. */
  #turn: Buffer | undefined;
  #turnUsed = 0;
  #scheduled = false;
  /** end() called: nothing more may be written; the peer gets 'end' after the pending data. */
  #ending = false;
  #closed = false;

  constructor(description: string) {
    super();
    this.description = description;
  }

  /** @internal Links two ends; with `handOff`, each direction also carries messages (see above). */
  static pair(description: string, handOff = false): [PipeEnd, PipeEnd] {
    const a = new PipeEnd(`${description} (client)`);
    const b = new PipeEnd(`${description} (server)`);
    a.#peer = b;
    b.#peer = a;
    if (handOff) {
      a.handOffOut = b.handOffIn = new HandOffQueue();
      b.handOffOut = a.handOffIn = new HandOffQueue();
    }
    return [a, b];
  }

  get peerReadsHandOffs(): boolean {
    return this.#peer?.readsHandOffs === true;
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
    if (chunk.length <= COPIED_WRITE_BYTES) this.#copyIn(chunk);
    else this.#pushChunk(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    this.#schedule();
    return true;
  }

  /** Like `write`, for a writer that reuses `bytes` once this returns: they are copied now. */
  writeCopy(bytes: Uint8Array): boolean {
    if (!this.writable) return false;
    if (bytes.length <= COPIED_WRITE_BYTES) this.#copyIn(bytes);
    else this.#pushChunk(Buffer.from(bytes));
    this.#schedule();
    return true;
  }

  /** Appends small writes to the turn buffer, grown by doubling. */
  #copyIn(bytes: Uint8Array): void {
    let turn = this.#turn;
    const needed = this.#turnUsed + bytes.length;
    if (turn === undefined || needed > turn.length) {
      let size = Math.max(MIN_TURN_BYTES, turn?.length ?? 0);
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      if (turn !== undefined && this.#turnUsed > 0) turn.copy(grown, 0, 0, this.#turnUsed);
      this.#turn = turn = grown;
    }
    turn.set(bytes, this.#turnUsed);
    this.#turnUsed = needed;
  }

  #pushChunk(chunk: Buffer): void {
    this.#closeTurn();
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
  }

  /** The turn buffer's bytes so far, as a pending chunk of their own (a copy: the turn buffer is reused). */
  #closeTurn(): void {
    const bytes = this.#copyOfTurn();
    if (bytes === undefined) return;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  #copyOfTurn(): Buffer | undefined {
    const used = this.#turnUsed;
    if (this.#turn === undefined || used === 0) return undefined;
    const bytes = Buffer.allocUnsafe(used);
    this.#turn.copy(bytes, 0, 0, used);
    this.#turnUsed = 0;
    return bytes;
  }

  /** What is pending, dropped, and the messages handed off either way with it (nobody reads them now). */
  #discard(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#turnUsed = 0;
    this.handOffOut?.close();
    this.handOffIn?.close();
  }

  /** What is pending, taken as one buffer of its own. */
  #take(): Buffer | undefined {
    let bytes: Buffer | undefined;
    if (this.#pending.length === 0) {
      bytes = this.#copyOfTurn();
    } else {
      this.#closeTurn();
      const pending = this.#pending;
      bytes = pending.length === 1 ? pending[0] : Buffer.concat(pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    // A turn buffer grown for a burst is not kept by an end that may then stay idle.
    if (this.#turn !== undefined && this.#turn.length > MAX_KEPT_TURN_BYTES) this.#turn = undefined;
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

/** Small writes are copied into the turn buffer; larger ones are passed on as they are. */
const COPIED_WRITE_BYTES = 2048;
/** A turn buffer starts this small and doubles; one grown past the second bound is let go after its turn. */
const MIN_TURN_BYTES = 512;
const MAX_KEPT_TURN_BYTES = 8 * 1024;

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

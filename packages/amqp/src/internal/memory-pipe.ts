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
 */
export class PipeEnd extends EventEmitter {
  /** What rhea prints in its logs for a socket. */
  readonly description: string;
  #peer: PipeEnd | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
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
    const buffer =
      typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    this.#pending.push(buffer);
    this.#pendingBytes += buffer.length;
    this.#schedule();
    return true;
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
      peer.#pending = [];
      peer.#pendingBytes = 0;
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
    this.#pending = [];
    this.#pendingBytes = 0;
    setImmediate(() => {
      if (error !== undefined) this.emit('error', error);
      this.emit('close', error !== undefined);
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    const peer = this.#peer;
    const pending = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (peer === undefined || peer.#closed) return;
    if (pending.length > 0) {
      peer.emit('data', pending.length === 1 ? pending[0] : Buffer.concat(pending, bytes));
    }
    if (this.#ending && !this.#closed) {
      this.#closed = true;
      if (!peer.#closed) {
        peer.#closed = true;
        peer.#pending = [];
        peer.#pendingBytes = 0;
        peer.emit('end');
        peer.emit('close', false);
      }
      this.emit('close', false);
    }
  }
}

/** A pipe end that could not connect: it reports `error` and closes on the next turn, as a refused socket does. */
export function refusedPipe(description: string, error: Error): PipeEnd {
  const end = new PipeEnd(description);
  end.destroy(error);
  return end;
}

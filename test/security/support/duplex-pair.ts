/**
 * Two connected in-memory Duplex streams, like the two ends of a socket (Node 20 has no `duplexPair`): what one
 * side writes the other reads; ending one side's writable ends the other's readable; destroying one side ends
 * the other. Neither side is half-open, so a closed connection closes both.
 */
import { Duplex } from 'node:stream';

class End extends Duplex {
  peer: End | undefined;

  constructor() {
    super({ allowHalfOpen: false });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (peer !== undefined && !peer.destroyed && !peer.readableEnded) peer.push(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer?.endReadable();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.peer?.endReadable();
    callback(error);
  }

  endReadable(): void {
    if (!this.destroyed && !this.readableEnded) this.push(null);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

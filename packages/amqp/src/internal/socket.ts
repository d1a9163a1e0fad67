import type { RheaConnection } from './rhea-types';

/**
 * rhea notices a transport loss only through the socket's 'end' and 'error' events. A socket destroyed
 * without either (ours when we tear a connection down, or a peer resetting it) would leave rhea believing it
 * is connected, with its heartbeat timers holding the process open: hand rhea the loss on 'close'.
 */
export function watchSocketClose(
  connection: RheaConnection,
  socket: { once(event: 'close', listener: () => void): unknown },
): void {
  socket.once('close', () => {
    if (connection.socket_ready) connection._disconnected();
  });
}

interface StreamSocket {
  write: (...args: never[]) => boolean;
  end: (...args: never[]) => unknown;
  cork(): void;
  readonly writable: boolean;
  writeCopy?: (bytes: Uint8Array) => boolean;
}

/** Writes up to this size are copied into the tick's batch; larger ones follow it as they are. */
const BATCHED_WRITE_BYTES = 16 * 1024;
/** A tick's batch starts at the size the last one needed (at least this), so it seldom grows. */
const MIN_BATCH_BYTES = 1024;

/**
 * rhea writes every frame with its own `socket.write` (ours, frame-writer.ts, a copy of each): with TCP_NODELAY a
 * segment and a wake-up on the other side per frame, and for Node's stream a buffered request per frame. The
 * frames a tick writes are copied into one buffer instead and leave in one `write` on the next tick (as a cork
 * would, without a request and a buffer per frame); `writeCopy` lets the frame writer hand its own reused buffer,
 * copied at once. A write too large to copy, a string or one with a callback goes after what is batched, and
 * `end()` sends the batch first: the order of the bytes is kept. For TCP and TLS sockets (the in-memory pipe
 * batches itself).
 */
export function coalesceWrites(target: object): void {
  const socket = target as StreamSocket;
  if (typeof socket.cork !== 'function') return;
  const write = socket.write;
  const end = socket.end;
  let batch: Buffer | undefined;
  let used = 0;
  let lastSize = MIN_BATCH_BYTES;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (batch === undefined || used === 0) return;
    const bytes = batch.subarray(0, used);
    lastSize = Math.max(MIN_BATCH_BYTES, used);
    batch = undefined;
    used = 0;
    if (socket.writable) write.call(socket, bytes as never);
  };
  const copyIn = (bytes: Uint8Array): void => {
    const needed = used + bytes.length;
    if (batch === undefined || needed > batch.length) {
      let size = Math.max(lastSize, batch?.length ?? 0);
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      if (batch !== undefined && used > 0) batch.copy(grown, 0, 0, used);
      batch = grown;
    }
    batch.set(bytes, used);
    used = needed;
    if (!scheduled) {
      scheduled = true;
      process.nextTick(flush);
    }
  };
  socket.writeCopy = (bytes: Uint8Array): boolean => {
    if (!socket.writable) return false;
    if (bytes.length > BATCHED_WRITE_BYTES) {
      flush();
      return write.call(socket, Buffer.from(bytes) as never);
    }
    copyIn(bytes);
    return true;
  };
  socket.write = ((chunk: unknown, ...rest: never[]) => {
    if (!(chunk instanceof Uint8Array) || rest.length > 0 || chunk.length > BATCHED_WRITE_BYTES) {
      flush();
      return write.call(socket, chunk as never, ...rest);
    }
    if (!socket.writable) return false;
    copyIn(chunk);
    return true;
  }) as StreamSocket['write'];
  socket.end = ((...args: never[]) => {
    flush();
    return end.apply(socket, args);
  }) as StreamSocket['end'];
}

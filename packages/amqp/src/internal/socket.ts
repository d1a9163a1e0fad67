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

interface CorkableSocket {
  write: (...args: never[]) => boolean;
  cork(): void;
  uncork(): void;
}

/**
 * rhea writes every frame with its own `socket.write`; with TCP_NODELAY that is a segment (and a wake-up
 * on the other side) per frame. Cork the socket on the first write of a tick and uncork on the next tick, so
 * the frames of one processing round leave in one write.
 */
export function coalesceWrites(target: object): void {
  const socket = target as CorkableSocket;
  if (typeof socket.cork !== 'function' || typeof socket.uncork !== 'function') return;
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: never[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(socket, args);
  }) as CorkableSocket['write'];
}

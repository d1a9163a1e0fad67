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

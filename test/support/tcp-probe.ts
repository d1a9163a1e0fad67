import { connect } from 'node:net';

/** Resolves once a TCP connection to host:port succeeds (and closes it again); rejects on refusal or timeout. */
export function probeTcp(port: number, host = '127.0.0.1', timeoutMs = 2_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
    });
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

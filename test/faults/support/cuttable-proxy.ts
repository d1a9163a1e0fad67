/**
 * A TCP proxy that can make the network disappear and come back without touching either end's state: `cut()`
 * drops every proxied connection at once (both sockets destroyed, as a failed link or a rebooted router does)
 * and, until `restore()`, drops each new connection as soon as it arrives.
 */
import { EventEmitter, once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

export interface CuttableProxy {
  readonly port: number;
  /** `amqp://127.0.0.1:<port>` style address of the proxy. */
  url(scheme: string): string;
  /** Proxied connections open right now. */
  readonly connections: number;
  /** Connections dropped so far (by `cut()` or while cut). */
  readonly dropped: number;
  /** Emits 'refused' for each connection dropped on arrival while cut (someone tried to reconnect). */
  readonly events: EventEmitter;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: { host: string; port: number }): Promise<CuttableProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let isCut = false;
  let dropped = 0;
  const events = new EventEmitter();
  const server: Server = createServer((inbound) => {
    inbound.on('error', () => {});
    if (isCut) {
      dropped += 1;
      inbound.destroy();
      events.emit('refused');
      return;
    }
    const outbound = connect(target.port, target.host);
    outbound.on('error', () => {});
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.once('close', drop);
    outbound.once('close', drop);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    get dropped() {
      return dropped;
    },
    events,
    cut() {
      isCut = true;
      for (const [inbound, outbound] of [...pairs]) {
        dropped += 1;
        inbound.destroy();
        outbound.destroy();
      }
      pairs.clear();
    },
    restore() {
      isCut = false;
    },
    async close() {
      isCut = true;
      for (const [inbound, outbound] of pairs) {
        inbound.destroy();
        outbound.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

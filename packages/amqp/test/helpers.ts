import { type AddressInfo, Server } from 'node:net';
import type { Connection, Container } from 'rhea';
import * as rheaNamespace from 'rhea';
import { afterEach } from 'vitest';
import type { AmqpConnection, AmqpListener } from '../src/index';

export type Rhea = typeof rheaNamespace;
/** rhea's container: the default export under Node's ESM loader, the namespace elsewhere (tsx, bundlers). */
export const rhea: Rhea = (rheaNamespace as Rhea & { default?: Rhea }).default ?? rheaNamespace;

/** Something with on/off, like an EventEmitter (typed emitters included). */
interface Emitter {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Waits for `event` on `emitter`, failing after `ms` (tests never sleep for correctness). Unlike
 * `events.once` it does not listen to 'error', so it does not change whether an emitter emits one.
 */
export function waitFor<T extends unknown[] = unknown[]>(
  emitter: Emitter,
  event: string,
  ms = 10_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as unknown as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no '${event}' event within ${ms} ms`));
    }, ms);
    emitter.on(event, listener);
  });
}

/** Polls `predicate` on every event-loop turn until true, failing after `ms`. For state that has no event. */
export async function until(predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The text of a message body rhea decoded: a data section's bytes as UTF-8, anything else through String(). */
export function bodyText(body: unknown): string {
  const section = body as { content?: unknown };
  if (section !== null && typeof section === 'object' && Buffer.isBuffer(section.content))
    return section.content.toString();
  return String(body);
}

/**
 * Makes a rhea container listen on a free port of 127.0.0.1, accepting connections by hand (autoaccept off)
 * and ignoring its 'error' events; resolves once it listens. The caller closes `server`.
 */
export async function rheaListen(
  container: Container,
  options: Record<string, unknown> = {},
): Promise<{ server: Server; port: number }> {
  container.on('error', () => {});
  const server = container.listen({
    port: 0,
    host: '127.0.0.1',
    autoaccept: false,
    ...options,
  } as never) as unknown as Server;
  await waitFor(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * For a describe block whose tests each open our client and a rhea listener: `track` hands back what it is given,
 * and after each test closes what was tracked, clients first, then listeners (what a failed test never opened
 * is simply absent).
 */
export function closedAfterEach(): <T extends AmqpConnection | Server>(opened: T) => T {
  let clients: AmqpConnection[] = [];
  let servers: Server[] = [];
  afterEach(async () => {
    const [closingClients, closingServers] = [clients, servers];
    clients = [];
    servers = [];
    for (const client of closingClients) await closeClientAndServer(client);
    for (const server of closingServers) await closeClientAndServer(undefined, server);
  });
  return (opened) => {
    if (opened instanceof Server) servers.push(opened);
    else clients.push(opened);
    return opened;
  };
}

/** Closes our client, then the rhea listener it dialled; either may be absent (a test that failed early). */
export async function closeClientAndServer(client?: AmqpConnection, server?: Server): Promise<void> {
  await client?.close();
  if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A rhea client (container `id`) connected to our `listener`, its 'error' and 'disconnected' events ignored. */
export function rheaConnectTo(listener: AmqpListener, id: string): Connection {
  const container = rhea.create_container({ id });
  container.on('error', () => {});
  container.on('disconnected', () => {});
  return container.connect({ host: '127.0.0.1', port: listener.address().port, reconnect: false });
}

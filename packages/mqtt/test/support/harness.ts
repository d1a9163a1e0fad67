import type { EventEmitter } from 'node:events';
import { once } from 'node:events';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach } from 'vitest';
import { type MqttEndpoint, MqttServer, type MqttServerOptions } from '../../src/index';

export const TIMEOUT_MS = 10_000;

/** Waits for one event (with a generous time-out) and returns its arguments. */
export async function next<T extends unknown[] = unknown[]>(emitter: object, event: string): Promise<T> {
  return (await once(emitter as EventEmitter, event, { signal: AbortSignal.timeout(TIMEOUT_MS) })) as T;
}

/** Waits until `check` holds, re-checking whenever `target` emits one of `events`. */
export async function until(check: () => boolean, target: object, events: string[]): Promise<void> {
  const emitter = target as EventEmitter;
  if (check()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`condition not met within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    const onEvent = (): void => {
      if (check()) {
        cleanup();
        resolve();
      }
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const e of events) emitter.off(e, onEvent);
    };
    for (const e of events) emitter.on(e, onEvent);
  });
}

export interface Harness {
  server: MqttServer;
  port: number;
  /** Sockets accepted so far. */
  sockets: net.Socket[];
  close(): Promise<void>;
}

/** What a test opened: its server and its mqtt.js clients. */
export interface Opened {
  harness: Harness | undefined;
  readonly clients: MqttClient[];
}

/** A test's server and clients (`opened.harness = await startServer()`), closed after each test: clients first. */
export function closedAfterEach(): Opened {
  const opened: Opened = { harness: undefined, clients: [] };
  afterEach(async () => {
    for (const c of opened.clients.splice(0)) c.end(true);
    await opened.harness?.close();
    opened.harness = undefined;
  });
  return opened;
}

/** An MqttServer behind a TCP listener on 127.0.0.1, free port. */
export async function startServer(options: MqttServerOptions = {}): Promise<Harness> {
  const server = new MqttServer(options);
  const sockets: net.Socket[] = [];
  const listener = net.createServer((socket) => {
    sockets.push(socket);
    server.accept(socket);
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    server,
    port: address.port,
    sockets,
    async close() {
      server.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

/** The next endpoint the server hands out. */
export async function nextEndpoint(server: MqttServer): Promise<MqttEndpoint> {
  const [endpoint] = await next<[MqttEndpoint]>(server, 'endpoint');
  return endpoint;
}

/** An mqtt.js client that does not reconnect; call end() in afterEach. */
export function client(port: number, options: IClientOptions = {}): MqttClient {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT_MS,
    ...options,
  });
  c.on('error', () => {
    // Errors are asserted through the events the tests wait for.
  });
  return c;
}

/** A raw TCP socket to the server (for bytes mqtt.js would never send). */
export async function rawSocket(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

/**
 * Starts `opened`'s server and connects one mqtt.js client to it (closed after the test with the rest): the
 * client and the endpoint the server made for it, not yet accepted.
 */
export async function serverWithClient(
  opened: Opened,
  clientOptions: IClientOptions,
  serverOptions: MqttServerOptions = {},
): Promise<{ endpoint: MqttEndpoint; mqttClient: MqttClient }> {
  opened.harness = await startServer(serverOptions);
  const endpointPromise = nextEndpoint(opened.harness.server);
  const mqttClient = client(opened.harness.port, clientOptions);
  opened.clients.push(mqttClient);
  return { endpoint: await endpointPromise, mqttClient };
}

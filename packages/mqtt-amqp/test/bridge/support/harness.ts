/**
 * Runs a bridge gateway against an AMQP peer for tests: MqttServer + net server on a free port, the
 * gateway attached, and helpers to connect mqtt.js clients and wait on events (never on time).
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { MqttServer, type MqttServerOptions } from '@dragoman/mqtt';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { afterEach, beforeEach } from 'vitest';
import { type BridgeGateway, createBridgeGateway } from '../../../src/bridge/gateway';
import type { GatewayBridgeOptions } from '../../../src/bridge/types';
import { RecordingPeer } from './recording-peer';

export const EVENT_TIMEOUT_MS = 10_000;

export interface RunningGateway {
  readonly gateway: BridgeGateway;
  readonly mqtt: MqttServer;
  readonly port: number;
  readonly url: string;
  /** Connects an mqtt.js client (no reconnect); resolves on CONNACK success. */
  connect(options?: IClientOptions): Promise<MqttClient>;
  /** Like `connect`, also giving the CONNACK. */
  connectAck(options?: IClientOptions): Promise<{ client: MqttClient; connack: IConnackPacket }>;
  /** Connects and resolves with the CONNACK failure (or the error), for expected refusals. */
  connectExpectingFailure(options?: IClientOptions): Promise<{ code: number | undefined; error: Error }>;
  close(): Promise<void>;
}

export async function runGateway(
  options: GatewayBridgeOptions,
  serverOptions: MqttServerOptions = {},
): Promise<RunningGateway> {
  const gateway = createBridgeGateway(options);
  const mqttServer = new MqttServer(serverOptions);
  gateway.attach(mqttServer);
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    mqttServer.accept(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `mqtt://127.0.0.1:${port}`;
  const clients = new Set<MqttClient>();
  const base: IClientOptions = { reconnectPeriod: 0, connectTimeout: EVENT_TIMEOUT_MS };
  const connectAck = async (clientOptions: IClientOptions = {}) => {
    const client = mqtt.connect(url, { ...base, ...clientOptions });
    clients.add(client);
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', (packet) => resolve(packet));
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    });
    client.removeAllListeners('error');
    client.on('error', () => {});
    return { client, connack };
  };
  return {
    gateway,
    mqtt: mqttServer,
    port,
    url,
    connectAck,
    async connect(clientOptions = {}) {
      return (await connectAck(clientOptions)).client;
    },
    async connectExpectingFailure(clientOptions = {}) {
      const client = mqtt.connect(url, { ...base, ...clientOptions });
      clients.add(client);
      return new Promise((resolve, reject) => {
        client.once('connect', () => reject(new Error('connected, expected a refusal')));
        client.once('error', (error: Error & { code?: number }) => {
          resolve({ code: error.code, error });
        });
      });
    },
    async close() {
      for (const client of clients) client.end(true);
      await gateway.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A recording AMQP peer and a gateway bridged to it, both fresh for each test. */
export interface GatewayOnPeer {
  /** A test may replace the peer or the gateway; what is current at its end is closed. */
  peer: RecordingPeer;
  gw: RunningGateway;
}

/**
 * Starts a recording peer and a gateway on it before each test of the enclosing suite and closes both after it
 * (gateway first). Read `peer` and `gw` inside a test: they are that test's.
 */
export function gatewayOnRecordingPeer(options: Omit<GatewayBridgeOptions, 'amqp'> = {}): GatewayOnPeer {
  let current: GatewayOnPeer | undefined;
  beforeEach(async () => {
    const peer = await RecordingPeer.start();
    current = { peer, gw: await runGateway({ ...options, amqp: { url: peer.url } }) };
  });
  afterEach(async () => {
    const running = current;
    current = undefined;
    await running?.gw.close();
    await running?.peer.close();
  });
  const started = (): GatewayOnPeer => {
    if (current === undefined) throw new Error('gatewayOnRecordingPeer: use peer and gw inside a test');
    return current;
  };
  return {
    get peer() {
      return started().peer;
    },
    set peer(peer) {
      started().peer = peer;
    },
    get gw() {
      return started().gw;
    },
    set gw(gw) {
      started().gw = gw;
    },
  };
}

/** Resolves with the arguments of the next `event`, failing after the standard timeout. */
export async function next<T extends unknown[] = unknown[]>(
  emitter: object,
  event: string,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<T> {
  return (await once(emitter as NodeJS.EventEmitter, event, { signal: AbortSignal.timeout(timeoutMs) })) as T;
}

/** Tracks whether a promise has settled, without waiting for it. */
export function track<T>(promise: Promise<T>): { readonly settled: boolean; readonly promise: Promise<T> } {
  const state = { settled: false, promise };
  promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

/** Polls `check` after each `event` of `emitter` until it holds (event-driven: no timers). */
export function until(
  emitter: NodeJS.EventEmitter,
  event: string,
  check: () => boolean,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`timed out waiting for a condition on '${event}'`));
    }, timeoutMs);
    const onEvent = (): void => {
      if (!check()) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve();
    };
    emitter.on(event, onEvent);
  });
}

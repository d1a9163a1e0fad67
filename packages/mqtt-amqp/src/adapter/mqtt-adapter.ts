/**
 * The MQTT front end as an `@dragoman/adapter` Adapter: a TCP listener, an MqttServer and a BridgeGateway,
 * started and stopped through the adapter lifecycle so that a host runs it beside adapters for other
 * protocols.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { Adapter, AdapterContext, StartOptions, StopOptions } from '@dragoman/adapter';
import type { ConnectOptions } from '@dragoman/amqp';
import { MqttServer, type MqttServerOptions } from '@dragoman/mqtt';
import { type BridgeGateway, createBridgeGateway } from '../bridge/gateway';
import type { GatewayBridgeOptions } from '../bridge/types';
import { ConfigurationError } from '../errors';

export const DEFAULT_MQTT_ADAPTER_PORT = 1883;
export const DEFAULT_MQTT_ADAPTER_MAX_CONNECTIONS = 10_000;

export interface MqttAdapterOptions {
  /** Adapter name (and the host's configuration section). Default `mqtt`. */
  readonly name?: string;
  /** Address to listen on. Default `127.0.0.1` (give `0.0.0.0` or `::` to serve other machines). */
  readonly host?: string;
  /** Default: `port` of the configuration section, else 1883. 0 picks a free port. */
  readonly port?: number;
  /** MQTT sockets open at once; more are closed on arrival. Default 10 000. */
  readonly maxConnections?: number;
  /** Options of the MqttServer (packet size, connect time-out, receive maximum, …). */
  readonly mqtt?: MqttServerOptions;
  /**
   * Options of the BridgeGateway. `amqp` defaults to the host's connect options
   * (`context.amqp.connectOptions`): the bridge opens its own pooled or per-client connections.
   */
  readonly bridge?: Omit<GatewayBridgeOptions, 'amqp'> & { readonly amqp?: ConnectOptions };
}

/**
 * Serves MQTT clients over TCP and bridges each to AMQP (spec/mqtt-over-amqp.md). `stop` stops accepting,
 * disconnects every client (MQTT 5: DISCONNECT 0x8B; wills are published), waits for the bridges to release
 * their links and closes the AMQP connections; when the deadline passes first, it drops the sockets.
 */
export class MqttAdapter implements Adapter {
  readonly name: string;
  readonly #options: MqttAdapterOptions;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #mqtt: MqttServer | undefined;
  #gateway: BridgeGateway | undefined;

  constructor(options: MqttAdapterOptions = {}) {
    this.name = options.name ?? 'mqtt';
    this.#options = options;
  }

  /** The bridge gateway, once started (stats, per-client bridges). */
  get gateway(): BridgeGateway | undefined {
    return this.#gateway;
  }

  /** The bound address, once started. */
  address(): AddressInfo {
    const address = this.#server?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new ConfigurationError('port', 'the MQTT adapter is not listening');
    }
    return address;
  }

  /** `mqtt://host:port`, once started. */
  get url(): string {
    const { address, port } = this.address();
    return `mqtt://${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  async start(context: AdapterContext, { signal }: StartOptions): Promise<void> {
    const amqp = this.#options.bridge?.amqp ?? context.amqp.connectOptions;
    if (amqp === undefined) {
      throw new ConfigurationError(
        'amqp',
        'the MQTT adapter needs AMQP connect options (bridge.amqp, or a host given options rather than a connection)',
      );
    }
    const maxConnections = this.#options.maxConnections ?? DEFAULT_MQTT_ADAPTER_MAX_CONNECTIONS;
    const gateway = createBridgeGateway({ ...this.#options.bridge, amqp });
    const mqtt = new MqttServer(this.#options.mqtt);
    gateway.attach(mqtt);
    const server = createServer((socket) => {
      if (this.#sockets.size >= maxConnections) {
        context.logger.warn({ max: maxConnections }, 'MQTT connection refused: too many connections');
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      socket.on('error', (error) => context.logger.debug({ err: error }, 'MQTT socket error'));
      mqtt.accept(socket);
    });
    this.#gateway = gateway;
    this.#mqtt = mqtt;
    this.#server = server;
    const port = this.#options.port ?? portOf(context.config.port) ?? DEFAULT_MQTT_ADAPTER_PORT;
    server.listen({ host: this.#options.host ?? '127.0.0.1', port, signal });
    await once(server, 'listening', { signal });
    server.on('error', (error) => context.fail(error));
    context.logger.info({ url: this.url }, 'MQTT adapter listening');
  }

  async stop({ signal }: StopOptions): Promise<void> {
    const server = this.#server;
    const closed =
      server === undefined || !server.listening
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()));
    const gatewayClosed = this.#gateway?.close() ?? Promise.resolve();
    await Promise.race([gatewayClosed.catch(() => undefined), abortOf(signal)]);
    // Past the deadline, or every bridge released: drop what is still connected.
    this.#mqtt?.close();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}

/** The MQTT bridge as an adapter for `runAdapters` of @dragoman/adapter. */
export function createMqttAdapter(options: MqttAdapterOptions = {}): MqttAdapter {
  return new MqttAdapter(options);
}

function portOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65_535
    ? value
    : undefined;
}

function abortOf(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { AmqpConnection, RHEA_LINK_DEFAULTS } from './connection';
import { InvalidArgumentError } from './errors';
import { limitIncomingFrames, maxFrameSizeOf } from './internal/frame-size-limit';
import { PipeEnd } from './internal/memory-pipe';
import { rhea } from './internal/rhea';
import type { RheaConnection, RheaContainer } from './internal/rhea-types';
import { coalesceWrites, watchSocketClose } from './internal/socket';
import type { AddressInfo, AmqpErrorInit, ListenerEvents, ListenOptions, SaslMechanism } from './types';

export const DEFAULT_MAX_CONNECTIONS = 1000;

/**
 * A TCP or TLS server speaking AMQP 1.0. Each inbound connection is announced by 'connection' once its open
 * handshake (and SASL) completed, as an `AmqpConnection` whose peer-attached links arrive as 'incomingLink'.
 */
export class AmqpListener extends EventEmitter<ListenerEvents> {
  readonly #server: net.Server;
  readonly #container: RheaContainer;
  readonly #options: ListenOptions;
  readonly #connections = new Set<AmqpConnection>();
  readonly #sockets = new Set<net.Socket | PipeEnd>();
  #closed = false;
  readonly #acceptInProcess = (socket: PipeEnd): void => this.accept(socket);

  /** @internal Use `listen()`. */
  constructor(server: net.Server, container: RheaContainer, options: ListenOptions) {
    super();
    this.#server = server;
    this.#container = container;
    this.#options = options;
  }

  /** The bound address (port 0 resolved to the real port). */
  address(): AddressInfo {
    const address = this.#server.address();
    if (address === null || typeof address === 'string')
      throw new InvalidArgumentError('listener is not bound to a TCP port');
    return address;
  }

  /** `amqp://host:port` or `amqps://host:port` of this listener. */
  get url(): string {
    const { address, port, family } = this.address();
    const host = family === 'IPv6' ? `[${address}]` : address;
    return `${this.#options.tls !== undefined ? 'amqps' : 'amqp'}://${host}:${port}`;
  }

  /** Open inbound connections. */
  get connections(): ReadonlySet<AmqpConnection> {
    return this.#connections;
  }

  /**
   * Stops accepting, closes every inbound connection (with `error`, default `amqp:connection:forced` so that
   * clients know to reconnect) and resolves when the server is closed.
   */
  async close(
    error: AmqpErrorInit = { condition: 'amqp:connection:forced', description: 'listener closing' },
  ): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.inProcess?.unbind(this.#acceptInProcess);
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.all([...this.#connections].map((c) => c.close(error)));
    for (const socket of this.#sockets) socket.destroy();
    await serverClosed;
    this.emit('close');
  }

  /** @internal Starts accepting in-process connections too (once the TCP/TLS port is bound). */
  bindInProcess(): void {
    if (!this.#closed) this.#options.inProcess?.bind(this.#acceptInProcess);
  }

  /** @internal */
  accept(socket: net.Socket | PipeEnd): void {
    if (this.#closed || this.#sockets.size >= (this.#options.maxConnections ?? DEFAULT_MAX_CONNECTIONS)) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    // Acknowledgements and flow frames are small and latency-bound: never let Nagle hold them back.
    socket.setNoDelay(true);
    const o = this.#options;
    // In-process connections have no network that could fail silently: no heartbeats.
    const heartbeats = o.idleTimeoutMs !== 0 && !(socket instanceof PipeEnd);
    const rheaConnection = this.#container.create_connection({
      id: randomUUID(),
      container_id: o.containerId ?? this.#container.id,
      ...(heartbeats ? { idle_time_out: o.idleTimeoutMs ?? 60_000 } : {}),
      max_frame_size: maxFrameSizeOf(o.maxFrameSize),
      ...(o.properties !== undefined ? { properties: o.properties } : {}),
      ...(o.offeredCapabilities !== undefined ? { offered_capabilities: [...o.offeredCapabilities] } : {}),
      ...(mechanisms(o).includes('EXTERNAL') ? { enable_sasl_external: true } : {}),
      ...(mechanisms(o).includes('ANONYMOUS') ? {} : { require_sasl: true }),
      ...RHEA_LINK_DEFAULTS,
    } as unknown as Parameters<RheaContainer['create_connection']>[0]) as RheaConnection;
    const connection = new AmqpConnection({
      kind: 'inbound',
      container: this.#container,
      connection: rheaConnection,
    });
    connection.once('open', () => {
      this.#connections.add(connection);
      this.emit('connection', connection);
    });
    connection.once('close', () => this.#connections.delete(connection));
    watchSocketClose(rheaConnection, socket);
    coalesceWrites(socket);
    (rheaConnection as unknown as { accept(socket: net.Socket | PipeEnd): void }).accept(socket);
    limitIncomingFrames(rheaConnection);
  }
}

function mechanisms(o: ListenOptions): readonly SaslMechanism[] {
  return o.sasl?.mechanisms ?? (o.sasl?.authenticate !== undefined ? ['ANONYMOUS', 'PLAIN'] : ['ANONYMOUS']);
}

/**
 * Listens for AMQP connections on `host` (default 127.0.0.1) and `port` (default 0: a free port); with `tls`,
 * speaks amqps. SASL: ANONYMOUS by default; PLAIN checked by `sasl.authenticate`; EXTERNAL takes the identity
 * from the client certificate (needs `tls` with `requestCert` and `rejectUnauthorized`).
 */
export async function listen(options: ListenOptions = {}): Promise<AmqpListener> {
  const container = rhea.create_container({ id: options.containerId ?? randomUUID() }) as RheaContainer;
  container.on('error', () => {});
  const mechs = mechanisms(options);
  for (const m of mechs) {
    if (m !== 'ANONYMOUS' && m !== 'PLAIN' && m !== 'EXTERNAL')
      throw new InvalidArgumentError(`unsupported SASL mechanism '${m}'`);
  }
  if (mechs.includes('PLAIN') && options.sasl?.authenticate === undefined) {
    throw new InvalidArgumentError('SASL PLAIN needs sasl.authenticate');
  }
  if (options.inProcess?.bound === true) {
    throw new InvalidArgumentError(`in-process transport '${options.inProcess.name}' already has a listener`);
  }
  maxFrameSizeOf(options.maxFrameSize); // checked now, not at the first connection
  if (mechs.includes('EXTERNAL') && options.tls === undefined) {
    throw new InvalidArgumentError('SASL EXTERNAL needs tls (client certificates)');
  }
  const serverMechanisms = container.sasl_server_mechanisms as {
    enable_anonymous(): void;
    enable_plain(callback: (username: string, password: string, hostname?: string) => Promise<boolean>): void;
  };
  if (mechs.includes('ANONYMOUS')) serverMechanisms.enable_anonymous();
  const authenticate = options.sasl?.authenticate;
  if (mechs.includes('PLAIN') && authenticate !== undefined) {
    serverMechanisms.enable_plain(async (username, password, hostname) => {
      try {
        return (await authenticate({ mechanism: 'PLAIN', username, password, hostname })) === true;
      } catch {
        return false;
      }
    });
  }
  let listener: AmqpListener | undefined;
  const server =
    options.tls !== undefined
      ? tls.createServer(options.tls, (socket) => listener?.accept(socket))
      : net.createServer((socket) => listener?.accept(socket));
  listener = new AmqpListener(server, container, options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => {
    if (listener !== undefined && listener.listenerCount('error') > 0) listener.emit('error', error);
  });
  listener.bindInProcess();
  return listener;
}

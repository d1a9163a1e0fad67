/**
 * The MQTT front doors: TCP (or TLS) and WebSocket (or secure WebSocket). Each accepted connection becomes a
 * Duplex handed to the one `MqttServer`; a shared gate bounds how many are open at once.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { MqttServer } from '@dragoman/mqtt';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { type ClientAuthTls, clientAuthServerOptions } from './client-certificates';
import { listenOn } from './listen';
import type { GatewayMetrics, Transport } from './metrics';
import type { SourceLimit, SourceLimits } from './source-limits';
import type { TlsMaterial } from './tls-files';
import type { HostPort, ListenerAddress } from './types';

/** Subprotocols of MQTT over WebSocket, in order of preference (`mqttv3.1` is what MQTT 3.1 clients ask for). */
const MQTT_SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];
/** Room for WebSocket messages carrying more than one MQTT packet, beyond the largest packet allowed. */
const WS_PAYLOAD_SLACK = 64 * 1024;

/** Bounds the open MQTT connections across listeners. */
export class ConnectionGate {
  #open = 0;
  constructor(readonly max: number) {}
  get open(): number {
    return this.#open;
  }
  tryAcquire(): boolean {
    if (this.#open >= this.max) return false;
    this.#open += 1;
    return true;
  }
  release(): void {
    this.#open -= 1;
  }
}

/** A listener's TLS: its certificate and key, and whether (and how) it asks clients for theirs. */
export interface ListenerTls extends TlsMaterial {
  readonly clientAuth?: ClientAuthTls | undefined;
}

export interface ListenerContext {
  /**
   * The MQTT server for an admitted connection (`socket` is the TCP or TLS socket, under the WebSocket too):
   * the shared one, or one of its own when the connection carries a client certificate.
   */
  serverFor(socket: Socket): MqttServer;
  readonly gate: ConnectionGate;
  readonly sources: SourceLimits;
  /**
   * Answers a connection over a source limit: a server that rejects every CONNECT with the limit's code
   * (undefined: too many refusals under way, close it at once).
   */
  refuser(limit: SourceLimit, socket: Socket): MqttServer | undefined;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
}

interface SocketListeners {
  error(this: Socket, error: Error): void;
  close(this: Socket): void;
}

export class MqttListener {
  readonly #server: Server;
  /** Open sockets, each with the source address it counts against (undefined: it was refused by a limit). */
  readonly #sockets = new Map<Socket, string | undefined>();
  /** The sockets' 'error' and 'close' listeners, made once and shared by every socket of this listener. */
  #listeners: SocketListeners | undefined;
  #idleWaiters: (() => void)[] = [];
  #listening = false;
  #address: ListenerAddress | undefined;

  private constructor(
    server: Server,
    private readonly transport: Transport,
    private readonly scheme: string,
    private readonly path: string,
  ) {
    this.#server = server;
  }

  get listening(): boolean {
    return this.#listening;
  }

  get address(): ListenerAddress {
    if (this.#address === undefined) throw new Error('listener not started');
    return this.#address;
  }

  /** Open connections (sockets) of this listener. */
  get connections(): number {
    return this.#sockets.size;
  }

  async start(at: HostPort, option: string): Promise<ListenerAddress> {
    const bound = await listenOn(this.#server, at, option);
    this.#listening = true;
    const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    this.#address = {
      host: bound.address,
      port: bound.port,
      url: `${this.scheme}://${host}:${bound.port}${this.path}`,
    };
    return this.#address;
  }

  /** Stops accepting; open connections stay. */
  stopAccepting(): void {
    if (!this.#listening) return;
    this.#listening = false;
    this.#server.close();
  }

  /** Resolves when no connection of this listener is open. */
  idle(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops every connection still open. */
  destroyConnections(): void {
    for (const socket of this.#sockets.keys()) socket.destroy();
  }

  /** The listeners every socket of this listener shares (one context per listener). */
  #socketListeners(context: ListenerContext): SocketListeners {
    if (this.#listeners !== undefined) return this.#listeners;
    const listener = this;
    this.#listeners = {
      error(error) {
        context.logger.debug({ err: error, transport: listener.transport }, 'socket error');
      },
      close() {
        const sockets = listener.#sockets;
        if (!sockets.has(this)) return;
        const address = sockets.get(this);
        sockets.delete(this);
        context.gate.release();
        if (address !== undefined) context.sources.release(address);
        if (sockets.size === 0) {
          const waiters = listener.#idleWaiters;
          listener.#idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
      },
    };
    return this.#listeners;
  }

  /**
   * Admits a socket (gate, source limits, metrics) and returns the MQTT server to hand it to: the gateway's,
   * or a refusing one when a source limit is hit; undefined when it was closed at once.
   */
  #admit(socket: Socket, context: ListenerContext): MqttServer | undefined {
    socket.on('error', this.#socketListeners(context).error);
    if (!context.gate.tryAcquire()) {
      context.metrics.error('max-connections');
      context.metrics.limitHit('connections');
      context.logger.warn(
        { transport: this.transport, max: context.gate.max },
        'connection refused: too many connections',
      );
      socket.destroy();
      return undefined;
    }
    const address = socket.remoteAddress ?? 'unknown';
    const limit = context.sources.admit(address);
    this.#sockets.set(socket, limit === undefined ? address : undefined);
    context.metrics.socketOpened(this.transport, socket);
    socket.on('close', this.#socketListeners(context).close);
    if (limit === undefined) return context.serverFor(socket);
    context.metrics.limitHit(limit);
    context.logger.info({ transport: this.transport, address, limit }, 'connection refused: limit reached');
    const refuser = context.refuser(limit, socket);
    if (refuser === undefined) socket.destroy();
    return refuser;
  }

  /** MQTT over TCP, or over TLS when `tls` is given. */
  static tcp(context: ListenerContext, tls: ListenerTls | undefined): MqttListener {
    const onSocket = (socket: Socket): void => {
      listener.#admit(socket, context)?.accept(socket);
    };
    const server =
      tls === undefined
        ? createNetServer(onSocket)
        : createTlsServer(
            { cert: tls.cert, key: tls.key, ...clientAuthServerOptions(tls.clientAuth) },
            onSocket,
          );
    if (tls !== undefined) {
      server.on('tlsClientError', (error) => {
        context.metrics.error('tls-handshake');
        context.logger.debug({ err: error, transport: 'tcp' }, 'TLS handshake failed');
      });
    }
    const listener = new MqttListener(server, 'tcp', tls === undefined ? 'mqtt' : 'mqtts', '');
    return listener;
  }

  /** MQTT over WebSocket at `path` (subprotocol `mqtt`), or over secure WebSocket when `tls` is given. */
  static webSocket(
    context: ListenerContext,
    tls: ListenerTls | undefined,
    path: string,
    maxPacketSize: number,
  ): MqttListener {
    const notWebSocket = (_request: IncomingMessage, response: ServerResponse): void => {
      response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      response.end(`MQTT over WebSocket: connect with a WebSocket client to ${path}\n`);
    };
    const server =
      tls === undefined
        ? createHttpServer(notWebSocket)
        : createHttpsServer(
            { cert: tls.cert, key: tls.key, ...clientAuthServerOptions(tls.clientAuth) },
            notWebSocket,
          );
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: maxPacketSize + WS_PAYLOAD_SLACK,
      handleProtocols: (offered) => MQTT_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
    const listener = new MqttListener(server, 'ws', tls === undefined ? 'ws' : 'wss', path);
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const raw = socket as Socket;
      const requestPath = (request.url ?? '/').split('?')[0];
      if (requestPath !== path) {
        raw.on('error', () => {});
        raw.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const target = listener.#admit(raw, context);
      if (target === undefined) return;
      wss.handleUpgrade(request, raw, head, (ws) => {
        ws.on('error', (error) => {
          context.metrics.error('websocket');
          context.logger.debug({ err: error, transport: 'ws' }, 'WebSocket error');
        });
        const stream = createWebSocketStream(ws);
        stream.on('error', () => {}); // the MQTT endpoint sees the loss as its stream closing
        target.accept(stream);
      });
    });
    if (tls !== undefined) {
      server.on('tlsClientError', (error) => {
        context.metrics.error('tls-handshake');
        context.logger.debug({ err: error, transport: 'ws' }, 'TLS handshake failed');
      });
    }
    server.on('clientError', (_error, socket) => socket.destroy());
    return listener;
  }
}

/**
 * The MQTT front end of the gateway as an `@dragoman/adapter` Adapter: the TCP/TLS and WebSocket listeners,
 * one `MqttServer`, and `@dragoman/mqtt-amqp`'s `BridgeGateway` towards the AMQP network the host gives it
 * (`context.amqp.connectOptions`). An adapter host runs it beside adapters for other protocols.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Adapter, AdapterContext, StopOptions } from '@dragoman/adapter';
import { DEFAULT_MAX_MESSAGE_SIZE } from '@dragoman/amqp';
import {
  type CloseReason,
  type MqttEndpoint,
  MqttServer,
  type MqttServerOptions,
  ReasonCode,
} from '@dragoman/mqtt';
import {
  type AuthorizationDenial,
  type Authorizer,
  type BridgeGateway,
  createBridgeGateway,
  type Dialect,
  type DialectName,
  type GatewayBridgeOptions,
  rabbitmqDialect,
} from '@dragoman/mqtt-amqp';
import type { Logger } from 'pino';
import { Admission } from './admission';
import { type ExchangeIdentities, enhancedAuthentication } from './auth-hook';
import { type ClientAuthTls, type PeerCertificate, peerCertificate } from './client-certificates';
import type { DescribeOption } from './config/resolve';
import { ConfigError } from './errors';
import type { ErrorReason, GatewayMetrics } from './metrics';
import { ConnectionGate, type ListenerContext, MqttListener } from './mqtt-listeners';
import { SourceLimits } from './source-limits';
import { TenantConnections, tenantResolver } from './tenant-quota';
import type { TlsMaterial } from './tls-files';
import type { AuthenticationHook, GatewayConfig, ListenerAddress } from './types';
import type { UserDirectory } from './users';

/** Close reasons that are failures (the others are ordinary ends of a connection). */
const FAILED_CLOSES: ReadonlySet<CloseReason['kind']> = new Set([
  'protocol-error',
  'keep-alive-timeout',
  'connect-timeout',
  'connection-lost',
]);

export interface MqttFrontEndOptions {
  readonly config: GatewayConfig;
  readonly describe: DescribeOption;
  readonly mqttTls: TlsMaterial | undefined;
  readonly wsTls: TlsMaterial | undefined;
  /** Checks CONNECT credentials when `config.auth` is `users`; tenants with `tenantFrom: users-file`. */
  readonly users: UserDirectory | undefined;
  /** PEM CAs of device certificates (`config.clientCert`). */
  readonly clientCa: Buffer | undefined;
  /** Password checks and enhanced-authentication methods (`authModule` or the host's). */
  readonly hook: AuthenticationHook | undefined;
  /** Decides PUBLISH / SUBSCRIBE per identity and topic (`--acl`); undefined: everything allowed. */
  readonly authorize: Authorizer | undefined;
  readonly logger: Logger;
}

export class MqttFrontEnd implements Adapter {
  readonly name = 'mqtt';
  readonly #options: MqttFrontEndOptions;
  #bridge: BridgeGateway | undefined;
  #mqtt: MqttServer | undefined;
  #tcp: MqttListener | undefined;
  #ws: MqttListener | undefined;
  #metrics: GatewayMetrics | undefined;
  #refusers: { quota: MqttServer; rate: MqttServer } | undefined;
  /** Servers of single connections that carry a client certificate. */
  readonly #ownServers = new Set<MqttServer>();

  constructor(options: MqttFrontEndOptions) {
    this.#options = options;
  }

  /** The metrics to count into (they read this front end's stats, so they are made after it). */
  useMetrics(metrics: GatewayMetrics): void {
    this.#metrics = metrics;
  }

  get addresses(): { readonly mqtt: ListenerAddress | undefined; readonly ws: ListenerAddress | undefined } {
    return { mqtt: this.#tcp?.address, ws: this.#ws?.address };
  }

  /** `up` while listening, `down` when configured but not listening, `off` when not configured. */
  listenerState(which: 'mqtt' | 'ws'): 'up' | 'down' | 'off' {
    if (this.#options.config[which] === undefined) return 'off';
    const listener = which === 'mqtt' ? this.#tcp : this.#ws;
    return listener?.listening === true ? 'up' : 'down';
  }

  get bridge(): BridgeGateway | undefined {
    return this.#bridge;
  }

  /** Clients whose socket is paused because their AMQP topic link has no credit. */
  stalledClients(): number {
    return this.#bridge?.stats().pausedClients ?? 0;
  }

  async start(context: AdapterContext): Promise<void> {
    const { config, describe, logger } = this.#options;
    const metrics = this.#metrics;
    if (metrics === undefined) throw new Error('MqttFrontEnd: useMetrics() before start()');
    const amqp = context.amqp.connectOptions;
    if (amqp === undefined)
      throw new ConfigError('the MQTT front end needs AMQP connect options from its host');
    const dialect = dialectOf(config);
    const connection: Omit<GatewayBridgeOptions, 'amqp'> =
      config.auth === 'pass-through'
        ? { connectionMode: 'per-client', credentials: 'client' }
        : config.amqp.kind === 'external' && config.amqp.identity === 'device'
          ? { connectionMode: 'per-client', credentials: 'client-identity' }
          : { connectionMode: 'pooled', poolSize: config.limits.poolSize };
    const authorize = this.#options.authorize;
    const tenantOf = tenantResolver(config.tenantFrom, this.#options.users);
    const bridgeOptions: GatewayBridgeOptions = {
      amqp,
      dialect,
      ...connection,
      ...(tenantOf !== undefined ? { tenantFrom: tenantOf } : {}),
      // The AMQP part of CONNECT must end before the MQTT connect time-out does.
      connectTimeoutMs: Math.max(500, Math.min(8_000, config.limits.connectTimeout - 2_000)),
      maxMessageSize: amqpMessageSizeFor(config),
      maxSubscriptionsPerClient: config.limits.maxSubscriptions,
      maxSessionExpirySeconds: config.limits.maxSessionExpiry,
      maxTopicLength: config.limits.maxTopicLength,
      maxTopicLevels: config.limits.maxTopicLevels,
      onLimit: (limit) => metrics.limitHit(limit),
      ...(authorize !== undefined
        ? { authorize, onDenied: (denial: AuthorizationDenial) => reportDenial(denial, metrics, logger) }
        : {}),
    };
    const bridge = createBridgeGateway(bridgeOptions);
    this.#bridge = bridge;
    metrics.countMessagesOf(() => bridge.messageCounts());
    const exchanges: ExchangeIdentities = new WeakMap();
    const admission = new Admission({
      auth: config.auth,
      users: this.#options.users,
      hook: this.#options.hook,
      exchanges,
      tenantOf,
      tenants: new TenantConnections(config.limits.maxConnectionsPerTenant),
      metrics,
      logger,
    });
    const serverOptions: MqttServerOptions = {
      connectTimeoutMs: config.limits.connectTimeout,
      maxPacketSize: config.limits.maxPacketSize,
      receiveMaximum: config.limits.receiveMaximum,
      enforceReceiveMaximum: config.limits.receiveMaximumExceeded === 'disconnect',
      outboundWindow: config.limits.maxInflight,
    };
    const instrument = clientInstruments(metrics, logger);
    /** An MQTT server whose clients come with `peer` (undefined: no client certificate). */
    const serve = (peer: PeerCertificate | undefined): MqttServer => {
      const certificate = peer?.kind === 'identified' ? peer.certificate : undefined;
      const authenticate = enhancedAuthentication(this.#options.hook, certificate, exchanges);
      const server = new MqttServer({
        ...serverOptions,
        ...(authenticate !== undefined ? { authenticate } : {}),
      });
      server.on('connectionError', (reason) => {
        metrics.error(reason.kind as ErrorReason);
        countLimit(reason, metrics);
        logger.debug({ reason: reason.kind }, 'MQTT connection failed before CONNECT completed');
      });
      server.on('endpoint', (endpoint) => {
        instrument(endpoint);
        void admission.admit(endpoint, peer).then((admitted) => {
          if (admitted) handOver(endpoint, bridge, logger);
        });
      });
      return server;
    };
    const mqtt = serve(undefined);
    this.#mqtt = mqtt;
    const identityMode = config.clientCert?.identity;
    const serverFor = (socket: Socket): MqttServer => {
      if (identityMode === undefined || !(socket instanceof TLSSocket)) return mqtt;
      const peer = peerCertificate(socket, identityMode);
      if (peer === undefined) return mqtt;
      // The endpoint does not tell which socket it serves: a server of its own carries the certificate.
      const own = serve(peer);
      this.#ownServers.add(own);
      socket.once('close', () => this.#ownServers.delete(own));
      return own;
    };

    this.#refusers = {
      quota: refusingServer(ReasonCode.QuotaExceeded, config.limits.maxPacketSize),
      rate: refusingServer(ReasonCode.ConnectionRateExceeded, config.limits.maxPacketSize),
    };
    const refusers = this.#refusers;
    let refusing = 0;
    const listeners: ListenerContext = {
      serverFor,
      gate: new ConnectionGate(config.limits.maxConnections),
      sources: new SourceLimits({
        maxPerAddress: config.limits.maxConnectionsPerAddress,
        ratePerAddress: config.limits.connectRatePerAddress,
        rateGlobal: config.limits.connectRate,
      }),
      refuser: (limit, socket) => {
        if (refusing >= MAX_REFUSALS) return undefined;
        refusing += 1;
        socket.once('close', () => {
          refusing -= 1;
        });
        return limit === 'connections-per-address' ? refusers.quota : refusers.rate;
      },
      metrics,
      logger,
    };
    if (config.mqtt !== undefined) {
      const tls = this.#options.mqttTls;
      this.#tcp = MqttListener.tcp(listeners, tls && { ...tls, clientAuth: this.#clientAuth() });
      await this.#tcp.start(config.mqtt, describe('mqtt'));
    }
    if (config.ws !== undefined) {
      const tls = this.#options.wsTls;
      this.#ws = MqttListener.webSocket(
        listeners,
        tls && { ...tls, clientAuth: this.#clientAuth() },
        config.ws.path,
        config.limits.maxPacketSize,
      );
      await this.#ws.start(config.ws, describe('ws'));
    }
  }

  /** What the TLS listeners ask of clients' certificates (undefined: nothing). */
  #clientAuth(): ClientAuthTls | undefined {
    const { config, clientCa } = this.#options;
    if (config.clientCert === undefined || clientCa === undefined) return undefined;
    return {
      ca: clientCa,
      require: config.clientCert.mode === 'require',
      identity: config.clientCert.identity,
    };
  }

  /** Disconnects (MQTT 5: `reasonCode`) or drops every client of the shared and the per-connection servers. */
  #closeServers(reasonCode: number): void {
    this.#mqtt?.close(reasonCode);
    for (const server of this.#ownServers) server.close(reasonCode);
  }

  /**
   * Stops accepting, pauses every client and drains: PUBLISHes already taken get their AMQP outcome and
   * PUBACK / PUBREC until the deadline; then every client is disconnected (MQTT 5: DISCONNECT 0x8B), the
   * bridges release their links and the sockets close. At the deadline (`signal`) drops what is left.
   */
  async stop({ signal, deadline }: StopOptions): Promise<void> {
    const listeners = [this.#tcp, this.#ws].filter((l): l is MqttListener => l !== undefined);
    for (const listener of listeners) listener.stopAccepting();
    this.#refusers?.quota.close();
    this.#refusers?.rate.close();
    const bridgeClosed =
      this.#bridge?.close({ drainMs: Math.max(0, deadline - Date.now()), signal }) ?? Promise.resolve(true);
    // Endpoints the bridge does not serve (CONNECT still being checked) go once the bridges have drained.
    const drained = Promise.all([
      bridgeClosed.then(() => this.#closeServers(ReasonCode.ServerShuttingDown)),
      ...listeners.map((l) => l.idle()),
    ]);
    await Promise.race([drained, aborted(signal)]);
    if (signal.aborted) {
      this.#options.logger.warn('shutdown deadline passed: dropping the remaining connections');
      this.#closeServers(ReasonCode.ServerShuttingDown);
    }
    for (const listener of listeners) listener.destroyConnections();
  }
}

/** Connections being refused (over a source limit) at once, beyond which they are closed without an answer. */
const MAX_REFUSALS = 256;
/** Time a refused connection has to send its CONNECT. */
const REFUSAL_CONNECT_TIMEOUT_MS = 5_000;

/** An MQTT server that answers every CONNECT with `reasonCode` (3.1.1: return code 3). */
function refusingServer(reasonCode: number, maxPacketSize: number): MqttServer {
  const server = new MqttServer({ maxPacketSize, connectTimeoutMs: REFUSAL_CONNECT_TIMEOUT_MS });
  server.on('endpoint', (endpoint) => endpoint.reject(reasonCode));
  server.on('connectionError', () => {});
  return server;
}

/** Counts close reasons that are limits: the connect time-out, a packet over the size limit (0x95). */
function countLimit(reason: CloseReason, metrics: GatewayMetrics): void {
  if (reason.kind === 'connect-timeout') metrics.limitHit('connect-timeout');
  else if (reason.kind === 'protocol-error' && reason.reasonCode === ReasonCode.PacketTooLarge)
    metrics.limitHit('packet-size');
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** The largest AMQP message taken: an MQTT packet admitted must fit the AMQP message that carries it. */
export function amqpMessageSizeFor(config: GatewayConfig): number {
  return Math.max(DEFAULT_MAX_MESSAGE_SIZE, 2 * config.limits.maxPacketSize);
}

export function dialectOf(config: GatewayConfig): DialectName | Dialect {
  return config.dialect === 'rabbitmq-v1' ? rabbitmqDialect({ addressFormat: 'v1' }) : config.dialect;
}

/**
 * Counts how each MQTT client ends and logs it, with one handler shared by every client: per client, one
 * listener is set and no closure is made. Its messages are counted by the bridge (`GatewayMetrics.countMessagesOf`).
 */
function clientInstruments(metrics: GatewayMetrics, logger: Logger): (endpoint: MqttEndpoint) => void {
  function onClose(this: MqttEndpoint, reason: CloseReason): void {
    if (FAILED_CLOSES.has(reason.kind)) metrics.error(reason.kind as ErrorReason);
    countLimit(reason, metrics);
    logger.debug({ clientId: this.clientId, reason: reason.kind }, 'MQTT client closed');
  }
  return (endpoint) => {
    endpoint.on('close', onClose); // emitted once; `on` spares the per-client wrapper `once` makes
  };
}

/** Logs a denied PUBLISH / SUBSCRIBE (warn when the hook failed) and counts it. */
function reportDenial(denial: AuthorizationDenial, metrics: GatewayMetrics, logger: Logger): void {
  const { request, cause } = denial;
  metrics.denied(request.action);
  const fields = {
    clientId: request.identity.clientId,
    username: request.identity.username,
    tenant: request.identity.tenant,
    action: request.action,
    topic: request.topic,
    cause,
    reasonCode: denial.reasonCode,
    ...(denial.error !== undefined ? { err: denial.error } : {}),
  };
  if (cause === 'denied') logger.info(fields, 'MQTT request not authorized');
  else logger.warn(fields, 'MQTT request denied: the authorization hook failed');
}

function handOver(endpoint: MqttEndpoint, bridge: BridgeGateway, logger: Logger): void {
  if (endpoint.state !== 'connecting') return; // went away while being checked
  try {
    bridge.handle(endpoint);
    logger.debug(
      { clientId: endpoint.clientId, protocolVersion: endpoint.protocolVersion },
      'MQTT client connecting',
    );
  } catch {
    // The gateway is closing: the endpoint has been refused (server unavailable).
  }
}

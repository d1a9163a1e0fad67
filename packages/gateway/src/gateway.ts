/**
 * `startGateway`: the composition behind the `dragoman` command, for host applications too. MQTT listeners
 * (TCP/TLS, WebSocket) feed one `MqttServer`; each MQTT client is bridged to AMQP by `@dragoman/mqtt-amqp`'s
 * `BridgeGateway`, towards the embedded backend or an external AMQP 1.0 network; metrics, health and a
 * deadline-bounded shutdown around it.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { ConnectOptions, ListenOptions } from '@dragoman/amqp';
import { type CloseReason, type MqttEndpoint, MqttServer, ReasonCode } from '@dragoman/mqtt';
import {
  type Backend,
  type BridgeGateway,
  createBackend,
  createBridgeGateway,
  createMemoryStores,
  type Dialect,
  type DialectName,
  type GatewayBridgeOptions,
  openLmdbStores,
  rabbitmqDialect,
  type Stores,
} from '@dragoman/mqtt-amqp';
import type { Logger } from 'pino';
import { AmqpMonitor } from './amqp-monitor';
import { type DescribeOption, resolveConfig } from './config/resolve';
import { redact } from './config/values';
import { ConfigError, errorCode } from './errors';
import { createOperationsServer } from './http-server';
import { listenFailure, listenOn } from './listen';
import { createLogger } from './logger';
import { type ErrorReason, GatewayMetrics } from './metrics';
import { ConnectionGate, type ListenerContext, MqttListener } from './mqtt-listeners';
import { readPemFile, readTlsFiles, type TlsMaterial } from './tls-files';
import type {
  GatewayAddresses,
  GatewayConfig,
  GatewayHealth,
  GatewayOptions,
  ListenerAddress,
  RunningGateway,
  StartDependencies,
} from './types';
import { loadUsers, type UserDirectory } from './users';

/** How long start-up waits for the AMQP side to answer before reporting "listening" anyway. */
const AMQP_FIRST_ANSWER_MS = 5_000;

/** Close reasons that are failures (the others are ordinary ends of a connection). */
const FAILED_CLOSES: ReadonlySet<CloseReason['kind']> = new Set([
  'protocol-error',
  'keep-alive-timeout',
  'connect-timeout',
  'connection-lost',
]);

interface Internal {
  readonly user: string;
  readonly password: string;
}

/** What has been started so far; closed in reverse order, also when start-up fails half way. */
interface Parts {
  stores?: Stores;
  backend?: Backend;
  bridge?: BridgeGateway;
  monitor?: AmqpMonitor;
  mqtt?: MqttServer;
  listeners: MqttListener[];
  operations?: Server;
}

/**
 * Starts a gateway. Options are validated first (`ConfigError`, nothing started); a port in use is also a
 * `ConfigError` (whatever was started is closed again). `describe` names options in error messages (the CLI
 * passes the flag or variable each value came from).
 */
export async function startGateway(
  options: GatewayOptions = {},
  dependencies: StartDependencies & { readonly describe?: DescribeOption } = {},
): Promise<RunningGateway> {
  const describe: DescribeOption = dependencies.describe ?? ((key) => key);
  const config = resolveConfig(options, describe);
  const logger = dependencies.logger ?? createLogger(config.logLevel, config.logFormat);

  // Files first: a bad certificate or users file fails before anything listens.
  const mqttTls =
    config.mqtt?.tls && readTlsFiles(config.mqtt.tls, describe('mqttCert'), describe('mqttKey'));
  const wsTls = config.ws?.tls && readTlsFiles(config.ws.tls, describe('wsCert'), describe('wsKey'));
  const amqpListenTls =
    config.amqp.kind === 'embedded' && config.amqp.tls !== undefined
      ? readTlsFiles(config.amqp.tls, describe('amqpListenCert'), describe('amqpListenKey'))
      : undefined;
  const amqpCa =
    config.amqp.kind === 'external' && config.amqp.ca !== undefined
      ? readPemFile(config.amqp.ca, describe('amqpCa'))
      : undefined;
  const users = config.users !== undefined ? loadUsers(config.users, describe('users')) : undefined;
  const internal: Internal | undefined =
    config.auth !== 'none' && config.amqp.kind === 'embedded'
      ? {
          user: `dragoman-internal-${randomBytes(6).toString('hex')}`,
          password: randomBytes(24).toString('base64url'),
        }
      : undefined;

  const parts: Parts = { listeners: [] };
  let stopping = false;
  let bridgeRef: BridgeGateway | undefined;
  let mqttRef: MqttServer | undefined;
  const listenerUp = (listener: MqttListener | undefined): 'up' | 'down' | 'off' =>
    listener === undefined ? 'off' : listener.listening ? 'up' : 'down';
  let tcpListener: MqttListener | undefined;
  let wsListener: MqttListener | undefined;
  const health = (): GatewayHealth => {
    const mqtt = listenerUp(tcpListener);
    const ws = listenerUp(wsListener);
    const amqp = parts.monitor?.up === true ? 'up' : 'down';
    const ok = !stopping && mqtt !== 'down' && ws !== 'down' && amqp === 'up';
    return { status: stopping ? 'stopping' : ok ? 'ok' : 'unavailable', mqtt, ws, amqp };
  };
  const metrics = new GatewayMetrics(() => ({
    bridge: bridgeRef?.stats() ?? emptyBridgeStats,
    backend: parts.backend?.stats(),
    stalledClients: countStalled(mqttRef, bridgeRef),
    amqpUp: parts.monitor?.up === true,
  }));

  try {
    // AMQP side.
    let amqpAddress: GatewayAddresses['amqp'];
    let connectOptions: ConnectOptions;
    if (config.amqp.kind === 'embedded') {
      const storeOptions = { maxBacklogPerSession: config.limits.maxOfflineMessages };
      if (config.amqp.store !== undefined) {
        try {
          parts.stores = openLmdbStores({ path: config.amqp.store, ...storeOptions });
        } catch (error) {
          throw new ConfigError(
            `${describe('store')} ${config.amqp.store}: cannot open the store (${errorCode(error)})`,
            {
              option: describe('store'),
              cause: error,
            },
          );
        }
      } else {
        parts.stores = createMemoryStores(storeOptions);
      }
      const listen = backendListenOptions(config, amqpListenTls, users, internal);
      try {
        parts.backend = await createBackend({ listen, store: parts.stores, dialect: dialectOf(config) });
      } catch (error) {
        if (typeof (error as { code?: unknown }).code === 'string') {
          throw listenFailure(describe('amqpListen'), config.amqp.listen, error);
        }
        throw error;
      }
      parts.backend.on('error', (error) => {
        metrics.error('backend');
        logger.error({ err: error }, 'backend operation failed');
      });
      parts.backend.on('willPublished', (clientId, will) =>
        logger.info({ clientId, topic: will.topic }, 'will published'),
      );
      const bound = parts.backend.address;
      amqpAddress = { host: bound.address, port: bound.port, url: parts.backend.url, embedded: true };
      connectOptions = {
        host: loopbackFor(config.amqp.listen.host),
        port: bound.port,
        transport: amqpListenTls !== undefined ? 'tls' : 'tcp',
        // Our own listener: trust its certificate whatever host name it carries.
        ...(amqpListenTls !== undefined
          ? { tls: { ca: amqpListenTls.cert, checkServerIdentity: () => undefined } }
          : {}),
        ...(internal !== undefined
          ? { sasl: { mechanism: 'PLAIN', username: internal.user, password: internal.password } }
          : {}),
      };
    } else {
      const url = new URL(config.amqp.url);
      const port = url.port !== '' ? Number(url.port) : url.protocol === 'amqps:' ? 5671 : 5672;
      amqpAddress = { host: url.hostname, port, url: redact(config.amqp.url), embedded: false };
      connectOptions = { url: config.amqp.url, ...(amqpCa !== undefined ? { tls: { ca: amqpCa } } : {}) };
    }
    parts.monitor = new AmqpMonitor(connectOptions, logger.child({ component: 'amqp-monitor' }));

    const bridgeOptions: GatewayBridgeOptions =
      config.auth === 'pass-through'
        ? {
            amqp: connectOptions,
            dialect: dialectOf(config),
            connectionMode: 'per-client',
            credentials: 'client',
          }
        : {
            amqp: connectOptions,
            dialect: dialectOf(config),
            connectionMode: 'pooled',
            poolSize: config.limits.poolSize,
          };
    parts.bridge = bridgeRef = createBridgeGateway(bridgeOptions);
    const bridge = parts.bridge;

    // MQTT side.
    parts.mqtt = mqttRef = new MqttServer({
      maxPacketSize: config.limits.maxPacketSize,
      receiveMaximum: config.limits.receiveMaximum,
      outboundWindow: config.limits.maxInflight,
    });
    const mqtt = parts.mqtt;
    mqtt.on('connectionError', (reason) => {
      metrics.error(reason.kind === 'rejected' ? 'rejected' : (reason.kind as ErrorReason));
      logger.debug({ reason: reason.kind }, 'MQTT connection failed before CONNECT completed');
    });
    mqtt.on('endpoint', (endpoint) => {
      instrument(endpoint, metrics, logger);
      if (users !== undefined && config.auth === 'users') {
        void admitWithUsers(endpoint, users, bridge, metrics, logger);
      } else {
        handOver(endpoint, bridge, logger);
      }
    });

    const context: ListenerContext = {
      mqtt,
      gate: new ConnectionGate(config.limits.maxConnections),
      metrics,
      logger,
    };
    let mqttAddress: ListenerAddress | undefined;
    let wsAddress: ListenerAddress | undefined;
    if (config.mqtt !== undefined) {
      tcpListener = MqttListener.tcp(context, mqttTls);
      parts.listeners.push(tcpListener);
      mqttAddress = await tcpListener.start(config.mqtt, describe('mqtt'));
    }
    if (config.ws !== undefined) {
      wsListener = MqttListener.webSocket(context, wsTls, config.ws.path, config.limits.maxPacketSize);
      parts.listeners.push(wsListener);
      wsAddress = await wsListener.start(config.ws, describe('ws'));
    }
    let metricsAddress: ListenerAddress | undefined;
    if (config.metrics !== undefined) {
      parts.operations = createOperationsServer(metrics.registry, health, logger);
      const bound = await listenOn(parts.operations, config.metrics, describe('metrics'));
      const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
      metricsAddress = { host: bound.address, port: bound.port, url: `http://${host}:${bound.port}/metrics` };
    }

    const addresses: GatewayAddresses = {
      mqtt: mqttAddress,
      ws: wsAddress,
      amqp: amqpAddress,
      metrics: metricsAddress,
    };
    const amqpUp = await parts.monitor.firstAnswer(AMQP_FIRST_ANSWER_MS);
    if (!amqpUp)
      logger.warn({ url: amqpAddress.url }, 'AMQP side not reachable yet; clients are refused until it is');
    logger.info({ addresses: flatAddresses(addresses), auth: config.auth }, 'dragoman gateway started');

    let closing: Promise<boolean> | undefined;
    return {
      addresses,
      metrics: metrics.registry,
      config,
      logger,
      health,
      close: (deadlineMs = config.shutdownTimeout) => {
        stopping = true;
        closing ??= shutdown(parts, deadlineMs, logger);
        return closing;
      },
    };
  } catch (error) {
    stopping = true;
    await shutdown(parts, 0, logger, false).catch(() => {});
    throw error;
  }
}

const emptyBridgeStats = {
  clients: 0,
  amqpConnections: 0,
  heldDeliveries: 0,
  outstandingCredit: 0,
  publishLinks: 0,
  queuedPublishes: 0,
  unconfirmedPublishes: 0,
  heldDeliveriesHighWater: 0,
};

function dialectOf(config: GatewayConfig): DialectName | Dialect {
  return config.dialect === 'rabbitmq-v1' ? rabbitmqDialect({ addressFormat: 'v1' }) : config.dialect;
}

function loopbackFor(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

function backendListenOptions(
  config: GatewayConfig,
  tls: TlsMaterial | undefined,
  users: UserDirectory | undefined,
  internal: Internal | undefined,
): ListenOptions {
  if (config.amqp.kind !== 'embedded') throw new Error('not an embedded backend');
  return {
    host: config.amqp.listen.host,
    port: config.amqp.listen.port,
    ...(tls !== undefined ? { tls: { cert: tls.cert, key: tls.key } } : {}),
    ...(internal !== undefined
      ? {
          sasl: {
            mechanisms: ['PLAIN'] as const,
            authenticate: ({ username, password }: { username: string; password: string }) =>
              (username === internal.user && password === internal.password) ||
              (users?.verify(username, password) ?? false),
          },
        }
      : {}),
  };
}

/** Counts the messages of one MQTT client and logs its end. */
function instrument(endpoint: MqttEndpoint, metrics: GatewayMetrics, logger: Logger): void {
  endpoint.on('publish', (message) => metrics.message('in', message.qos));
  // The endpoint has no event for what it sends: count the bridge's publishes as they complete.
  const publish = endpoint.publish.bind(endpoint);
  endpoint.publish = (message, options) => {
    const result = publish(message, options);
    result.then(
      () => metrics.message('out', message.qos ?? 0),
      () => metrics.error('publish-failed'),
    );
    return result;
  };
  endpoint.once('close', (reason) => {
    if (FAILED_CLOSES.has(reason.kind)) metrics.error(reason.kind as ErrorReason);
    logger.debug({ clientId: endpoint.clientId, reason: reason.kind }, 'MQTT client closed');
  });
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

async function admitWithUsers(
  endpoint: MqttEndpoint,
  users: UserDirectory,
  bridge: BridgeGateway,
  metrics: GatewayMetrics,
  logger: Logger,
): Promise<void> {
  const ok = await users.verify(endpoint.username, endpoint.password?.toString('utf8'));
  if (endpoint.state !== 'connecting') return;
  if (!ok) {
    metrics.error('auth-failed');
    logger.info(
      { clientId: endpoint.clientId, username: endpoint.username },
      'MQTT client refused: bad user name or password',
    );
    endpoint.reject(ReasonCode.BadUserNameOrPassword);
    return;
  }
  handOver(endpoint, bridge, logger);
}

function countStalled(mqtt: MqttServer | undefined, bridge: BridgeGateway | undefined): number {
  if (mqtt === undefined || bridge === undefined) return 0;
  let stalled = 0;
  for (const endpoint of mqtt.endpoints) {
    if (bridge.bridge(endpoint.clientId)?.stats().paused === true) stalled += 1;
  }
  return stalled;
}

function flatAddresses(addresses: GatewayAddresses): Record<string, string> {
  const out: Record<string, string> = {};
  if (addresses.mqtt !== undefined) out.mqtt = addresses.mqtt.url;
  if (addresses.ws !== undefined) out.ws = addresses.ws.url;
  out.amqp = addresses.amqp.url;
  if (addresses.metrics !== undefined) out.metrics = addresses.metrics.url;
  return out;
}

/**
 * Stops accepting, disconnects MQTT clients (0x8B), waits for the bridges to finish until the deadline, then
 * drops what is left and closes the AMQP side. Resolves to whether it all finished in time.
 */
async function shutdown(parts: Parts, deadlineMs: number, logger: Logger, announce = true): Promise<boolean> {
  const started = Date.now();
  for (const listener of parts.listeners) listener.stopAccepting();
  const bridgeClosed = parts.bridge?.close() ?? Promise.resolve();
  parts.mqtt?.close(ReasonCode.ServerShuttingDown);
  const drained = await withDeadline(
    Promise.all([bridgeClosed, ...parts.listeners.map((l) => l.idle())]),
    deadlineMs,
  );
  if (!drained && announce) {
    logger.warn({ deadlineMs }, 'shutdown deadline passed: dropping the remaining connections');
  }
  for (const listener of parts.listeners) listener.destroyConnections();
  await parts.monitor?.close().catch(() => {});
  const left = Math.max(0, deadlineMs - (Date.now() - started));
  let backendClosed = true;
  if (parts.backend !== undefined) {
    backendClosed = await withDeadline(parts.backend.close(), Math.max(left, 1_000));
  }
  await parts.stores
    ?.close()
    .catch((error: unknown) => logger.error({ err: error }, 'closing the store failed'));
  if (parts.operations !== undefined) {
    const server = parts.operations;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
  const clean = drained && backendClosed;
  if (announce) logger.info({ clean, ms: Date.now() - started }, 'dragoman gateway stopped');
  return clean;
}

async function withDeadline(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `startGateway`: the composition behind the `dragoman` command, for host applications too. The AMQP side
 * (the embedded backend, or an external network) first; then an `@dragoman/adapter` host running the MQTT front
 * end (TCP/TLS and WebSocket listeners, one `MqttServer`, the MQTT ⇄ AMQP bridge) and any adapters the host
 * application adds; metrics, health and a deadline-bounded shutdown around it.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { type AdapterHost, AdapterStartError, runAdapters } from '@dragoman/adapter';
import { type ConnectOptions, createInProcessTransport, type ListenOptions } from '@dragoman/amqp';
import {
  type Backend,
  createBackend,
  createMemoryStores,
  DEFAULT_MAX_IN_MEMORY_PER_CLIENT,
  DEFAULT_STORE_LIMITS,
  openLmdbStores,
  StoreLimitError,
  type Stores,
} from '@dragoman/mqtt-amqp';
import type { Logger } from 'pino';
import { loadAcl } from './acl';
import { registryMetrics } from './adapter-metrics';
import { externalConnectOptions } from './amqp-client';
import { AmqpMonitor } from './amqp-monitor';
import { checkAuthenticationHook, loadAuthModule } from './auth-hook';
import { type DescribeOption, resolveConfig } from './config/resolve';
import { redact } from './config/values';
import { ConfigError, errorCode } from './errors';
import { createOperationsServer } from './http-server';
import { listenFailure, listenOn } from './listen';
import { createLogger } from './logger';
import { GatewayMetrics } from './metrics';
import { amqpMessageSizeFor, dialectOf, MqttFrontEnd } from './mqtt-front-end';
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

/** How long start-up waits for the AMQP side to answer before reporting "started" anyway. */
const AMQP_FIRST_ANSWER_MS = 5_000;
/** Time the embedded backend gets to close after the deadline was spent on the MQTT side. */
const BACKEND_CLOSE_MIN_MS = 1_000;

interface Internal {
  readonly user: string;
  readonly password: string;
}

/** What has been started so far; closed in reverse order, also when start-up fails half way. */
interface Parts {
  stores?: Stores;
  backend?: Backend;
  monitor?: AmqpMonitor;
  adapters?: AdapterHost;
  operations?: Server;
}

/**
 * Starts a gateway. Options are validated first (`ConfigError`, nothing started); a port in use is also a
 * `ConfigError` (whatever was started is closed again). `describe` names options in error messages (the CLI
 * passes the flag or variable each value came from); `adapters` run beside the MQTT front end, on the same
 * AMQP side, and stop with it.
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
  const authorize = config.acl !== undefined ? loadAcl(config.acl, describe('acl')) : undefined;
  const clientCa =
    config.clientCert !== undefined ? readPemFile(config.clientCert.ca, describe('clientCa')) : undefined;
  const amqpClientTls =
    config.amqp.kind === 'external' && config.amqp.tls !== undefined
      ? readTlsFiles(config.amqp.tls, describe('amqpCert'), describe('amqpKey'))
      : undefined;
  if (config.authModule !== undefined && dependencies.authenticate !== undefined) {
    throw new ConfigError(`${describe('authModule')} and the authenticate hook exclude each other`, {
      option: describe('authModule'),
    });
  }
  const hook =
    config.authModule !== undefined
      ? await loadAuthModule(config.authModule, describe('authModule'))
      : dependencies.authenticate !== undefined
        ? checkAuthenticationHook(dependencies.authenticate, 'authenticate', 'authenticate')
        : undefined;
  const internal: Internal | undefined =
    config.auth !== 'none' && config.amqp.kind === 'embedded'
      ? {
          user: `dragoman-internal-${randomBytes(6).toString('hex')}`,
          password: randomBytes(24).toString('base64url'),
        }
      : undefined;

  const parts: Parts = {};
  let stopping = false;
  const frontEnd = new MqttFrontEnd({
    config,
    describe,
    mqttTls,
    wsTls,
    users,
    authorize,
    clientCa,
    hook,
    logger,
  });
  const metrics = new GatewayMetrics(() => ({
    bridge: frontEnd.bridge?.stats() ?? emptyBridgeStats,
    backend: parts.backend?.stats(),
    stalledClients: frontEnd.stalledClients(),
    amqpUp: parts.monitor?.up === true,
  }));
  frontEnd.useMetrics(metrics);
  const health = (): GatewayHealth => {
    const mqtt = frontEnd.listenerState('mqtt');
    const ws = frontEnd.listenerState('ws');
    const amqp = parts.monitor?.up === true ? 'up' : 'down';
    const ok = !stopping && mqtt !== 'down' && ws !== 'down' && amqp === 'up';
    return { status: stopping ? 'stopping' : ok ? 'ok' : 'unavailable', mqtt, ws, amqp };
  };

  try {
    const amqpSide = await startAmqpSide(
      config,
      describe,
      parts,
      { amqpListenTls, amqpCa, amqpClientTls, users, internal },
      metrics,
      logger,
    );
    parts.monitor = new AmqpMonitor(amqpSide.connect, logger.child({ component: 'amqp-monitor' }));

    try {
      parts.adapters = await runAdapters(
        { amqp: amqpSide.connect, logger, metrics: registryMetrics(metrics.registry) },
        [frontEnd, ...(dependencies.adapters ?? [])],
      );
    } catch (error) {
      throw error instanceof AdapterStartError && error.cause instanceof ConfigError ? error.cause : error;
    }
    parts.adapters.on('failure', (adapter, error) => logger.error({ err: error, adapter }, 'adapter failed'));

    let metricsAddress: ListenerAddress | undefined;
    if (config.metrics !== undefined) {
      parts.operations = createOperationsServer(metrics.registry, health, logger);
      const bound = await listenOn(parts.operations, config.metrics, describe('metrics'));
      const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
      metricsAddress = { host: bound.address, port: bound.port, url: `http://${host}:${bound.port}/metrics` };
    }

    const addresses: GatewayAddresses = {
      ...frontEnd.addresses,
      amqp: amqpSide.address,
      metrics: metricsAddress,
    };
    const amqpUp = await parts.monitor.firstAnswer(AMQP_FIRST_ANSWER_MS);
    if (!amqpUp)
      logger.warn(
        { url: amqpSide.address.url },
        'AMQP side not reachable yet; clients are refused until it is',
      );
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

interface AmqpSide {
  readonly address: GatewayAddresses['amqp'];
  /** How the gateway's own connections reach it. */
  readonly connect: ConnectOptions;
}

interface AmqpFiles {
  readonly amqpListenTls: TlsMaterial | undefined;
  readonly amqpCa: Buffer | undefined;
  /** The gateway's client certificate for an external network (SASL EXTERNAL). */
  readonly amqpClientTls: TlsMaterial | undefined;
  readonly users: UserDirectory | undefined;
  readonly internal: Internal | undefined;
}

/**
 * The embedded backend's in-memory window per session. What is in flight to a client stays in its session's
 * memory until acknowledged, so the window holds `--max-inflight` (a smaller one would cap it at the backend's
 * default); and every message of the window is in the session's backlog too, so it never exceeds
 * `--max-offline-messages` (more would let the backlog policy evict a message in flight).
 */
function sessionWindow(limits: GatewayConfig['limits']): number {
  return Math.min(Math.max(limits.maxInflight, DEFAULT_MAX_IN_MEMORY_PER_CLIENT), limits.maxOfflineMessages);
}

/** Starts the embedded backend (and its store), or describes the external network. */
async function startAmqpSide(
  config: GatewayConfig,
  describe: DescribeOption,
  parts: Parts,
  files: AmqpFiles,
  metrics: GatewayMetrics,
  logger: Logger,
): Promise<AmqpSide> {
  if (config.amqp.kind === 'external') {
    const url = new URL(config.amqp.url);
    const port = url.port !== '' ? Number(url.port) : url.protocol === 'amqps:' ? 5671 : 5672;
    return {
      address: { host: url.hostname, port, url: redact(config.amqp.url), embedded: false },
      connect: externalConnectOptions(config.amqp.url, files.amqpCa, files.amqpClientTls),
    };
  }
  const storeOptions = {
    maxBacklogPerSession: config.limits.maxOfflineMessages,
    maxRetained: config.limits.maxRetained,
    // Whatever a client may publish can be stored for a subscriber, retained or kept as a will: a smaller
    // store limit would drop, after the publisher's PUBACK, what the MQTT side let in.
    maxPayloadBytes: Math.max(DEFAULT_STORE_LIMITS.maxPayloadBytes, config.limits.maxPacketSize),
  };
  if (config.amqp.store !== undefined) {
    try {
      // The backend keeps its QoS 2 memory in these stores too, committed with the routing (exactly-once across
      // a crash).
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
  // The gateway's own connections reach the embedded backend through memory: the same AMQP frames as on its
  // TCP/TLS port (which stays open for other AMQP peers), without a loopback socket, and each message handed
  // over as the object the bridge or the backend built instead of encoded and decoded again.
  const inProcess = createInProcessTransport('embedded backend', { handOffMessages: true });
  const listen = {
    ...backendListenOptions(config.amqp.listen.host, config.amqp.listen.port, files),
    inProcess,
  };
  try {
    parts.backend = await createBackend({
      listen,
      store: parts.stores,
      dialect: dialectOf(config),
      maxInMemoryPerClient: sessionWindow(config.limits),
      // QoS 0 only waits there for credit: kept to the backend's default, however large the window for QoS 1/2.
      maxInMemoryForQos0: DEFAULT_MAX_IN_MEMORY_PER_CLIENT,
      // As the bridge's own links: room for the largest PUBLISH and the AMQP around it.
      maxMessageSize: amqpMessageSizeFor(config),
    });
  } catch (error) {
    if (typeof (error as { code?: unknown }).code === 'string') {
      throw listenFailure(describe('amqpListen'), config.amqp.listen, error);
    }
    throw error;
  }
  parts.backend.on('error', (error) => {
    if (error instanceof StoreLimitError && error.limit === 'retained') {
      // Not a failure: the retained store is full, the publish was refused (MQTT 5: 0x97).
      metrics.limitHit('retained');
      logger.warn({ max: error.max }, 'retained message refused: the retained store is full');
      return;
    }
    metrics.error('backend');
    logger.error({ err: error }, 'backend operation failed');
  });
  parts.backend.on('willPublished', (clientId, will) =>
    logger.info({ clientId, topic: will.topic }, 'will published'),
  );
  const bound = parts.backend.address;
  const tls = files.amqpListenTls;
  return {
    address: { host: bound.address, port: bound.port, url: parts.backend.url, embedded: true },
    connect: {
      host: loopbackFor(config.amqp.listen.host),
      port: bound.port,
      transport: tls !== undefined ? 'tls' : 'tcp',
      // Our own listener: trust its certificate whatever host name it carries.
      ...(tls !== undefined ? { tls: { ca: tls.cert, checkServerIdentity: () => undefined } } : {}),
      ...(files.internal !== undefined
        ? { sasl: { mechanism: 'PLAIN', username: files.internal.user, password: files.internal.password } }
        : {}),
      inProcess,
    },
  };
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
  pausedClients: 0,
};

function loopbackFor(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/** SASL of the embedded backend: ANONYMOUS without authentication, else PLAIN (users file + internal user). */
function backendListenOptions(host: string, port: number, files: AmqpFiles): ListenOptions {
  const { amqpListenTls: tls, users, internal } = files;
  return {
    host,
    port,
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

function flatAddresses(addresses: GatewayAddresses): Record<string, string> {
  const out: Record<string, string> = {};
  if (addresses.mqtt !== undefined) out.mqtt = addresses.mqtt.url;
  if (addresses.ws !== undefined) out.ws = addresses.ws.url;
  out.amqp = addresses.amqp.url;
  if (addresses.metrics !== undefined) out.metrics = addresses.metrics.url;
  return out;
}

/**
 * Stops the adapters (the MQTT front end: stop accepting, disconnect clients with 0x8B, drain until the
 * deadline), then closes the AMQP side and the metrics server. Resolves to whether it all finished in time.
 */
async function shutdown(parts: Parts, deadlineMs: number, logger: Logger, announce = true): Promise<boolean> {
  const started = Date.now();
  const report = await parts.adapters?.stop(deadlineMs);
  const drained = report?.clean ?? true;
  await parts.monitor?.close().catch(() => {});
  let backendClosed = true;
  if (parts.backend !== undefined) {
    const left = Math.max(BACKEND_CLOSE_MIN_MS, deadlineMs - (Date.now() - started));
    backendClosed = await withDeadline(parts.backend.close(), left);
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

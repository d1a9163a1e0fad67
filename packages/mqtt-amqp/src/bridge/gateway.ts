import type { MqttEndpoint, MqttServer } from '@dragoman/mqtt';
import { createAddresses } from '../addresses';
import type { Addresses } from '../types';
import { ConnectionPool, type ConnectionProvider, PerClientConnections } from './amqp-lease';
import { type BridgeEnvironment, ClientBridge } from './bridge';
import { ClientRegistry } from './client-registry';
import { type BridgeCodec, createBridgeCodec } from './codec';
import { GatewayClosedError } from './errors';
import { MessageTally } from './message-tally';
import { type ResolvedBridgeOptions, resolveBridgeOptions } from './options';
import { BridgeReasonCode } from './reason-codes';
import { TeardownPacer } from './teardown-pacer';
import type {
  BridgeCloseOptions,
  BridgeStats,
  GatewayBridgeOptions,
  GatewayStats,
  MessageCounts,
} from './types';

/**
 * The MQTT-facing front end of MQTT over AMQP: hand it each MQTT endpoint whose CONNECT arrived and it runs
 * one bridge per client (spec/mqtt-over-amqp.md) over a small pool of shared AMQP connections, or one AMQP
 * connection per client (`connectionMode: 'per-client'`).
 *
 * ```ts
 * const gateway = createBridgeGateway({ amqp: { url: 'amqp://localhost:5672' } });
 * const mqtt = new MqttServer();
 * gateway.attach(mqtt);
 * net.createServer((socket) => mqtt.accept(socket)).listen(1883);
 * ```
 */
export class BridgeGateway {
  readonly options: ResolvedBridgeOptions;
  private readonly addresses: Addresses;
  private readonly codec: BridgeCodec;
  private readonly connections: ConnectionProvider;
  private readonly registry = new ClientRegistry<ClientBridge>();
  /** What every bridge shares (one object for all, not one per client). */
  private readonly environment: BridgeEnvironment;
  private readonly bridges = new Set<ClientBridge>();
  private readonly tally = new MessageTally();
  private closed = false;
  private highWater = 0;

  constructor(options: GatewayBridgeOptions) {
    this.options = resolveBridgeOptions(options);
    this.addresses = createAddresses(options.addresses);
    this.codec = createBridgeCodec({
      addresses: this.addresses,
      ...(options.dialect !== undefined ? { dialect: options.dialect } : {}),
    });
    const amqp = { ...this.options.amqp };
    const shared = {
      subscriptionService: this.addresses.subscriptionService,
      attachTimeoutMs: this.options.connectTimeoutMs,
    };
    this.connections =
      this.options.connectionMode === 'pooled'
        ? new ConnectionPool(
            { ...amqp, idleTimeoutMs: amqp.idleTimeoutMs ?? this.options.idleTimeoutMs },
            this.options.poolSize,
            shared,
          )
        : new PerClientConnections(amqp, this.options.credentials, shared);
    this.environment = {
      options: this.options,
      codec: this.codec,
      addresses: this.addresses,
      registry: this.registry,
      connections: this.connections,
      tally: this.tally,
      teardowns: new TeardownPacer(),
      onClosed: (done) => {
        this.highWater = Math.max(this.highWater, done.heldHighWater);
        this.bridges.delete(done);
      },
    };
  }

  /**
   * Starts the bridge for an endpoint whose CONNECT has arrived (an MqttServer 'endpoint'). The bridge
   * accepts or rejects the CONNECT itself. Throws `GatewayClosedError` after `close()` (the endpoint is
   * rejected with "server unavailable" first).
   */
  handle(endpoint: MqttEndpoint): ClientBridge {
    if (this.closed) {
      if (endpoint.state === 'connecting') endpoint.reject(BridgeReasonCode.ServerUnavailable);
      throw new GatewayClosedError();
    }
    const bridge = new ClientBridge(endpoint, this.environment);
    this.bridges.add(bridge);
    void bridge.start();
    return bridge;
  }

  /** Serves every endpoint `server` emits. Returns a function that stops doing so. */
  attach(server: MqttServer): () => void {
    const onEndpoint = (endpoint: MqttEndpoint): void => {
      try {
        this.handle(endpoint);
      } catch {
        // Closed gateway: the endpoint has been rejected.
      }
    };
    server.on('endpoint', onEndpoint);
    return () => server.off('endpoint', onEndpoint);
  }

  /** The bridge of a connected (or connecting) client id (`<tenant>:<client id>` with tenants). */
  bridge(clientId: string): ClientBridge | undefined {
    return this.registry.current(clientId);
  }

  stats(): GatewayStats {
    let heldDeliveries = 0;
    let outstandingCredit = 0;
    let publishLinks = 0;
    let queuedPublishes = 0;
    let unconfirmedPublishes = 0;
    let highWater = this.highWater;
    let pausedClients = 0;
    for (const bridge of this.bridges) {
      const s: BridgeStats = bridge.stats();
      if (s.paused) pausedClients++;
      heldDeliveries += s.heldDeliveries;
      outstandingCredit += s.outstandingCredit;
      publishLinks += s.publishLinks;
      queuedPublishes += s.queuedPublishes;
      unconfirmedPublishes += s.unconfirmedPublishes;
      highWater = Math.max(highWater, bridge.heldHighWater);
    }
    return {
      clients: this.bridges.size,
      amqpConnections: this.connections.size,
      heldDeliveries,
      outstandingCredit,
      publishLinks,
      queuedPublishes,
      unconfirmedPublishes,
      heldDeliveriesHighWater: highWater,
      pausedClients,
    };
  }

  /**
   * PUBLISHes the bridges have handled since the gateway was made, by QoS (e.g. for a Prometheus counter read
   * at scrape time). Counting costs one increment per message: no listener, no callback.
   */
  messageCounts(): MessageCounts {
    return this.tally.snapshot();
  }

  /**
   * Shuts the gateway down: (1) refuses new CONNECTs and pauses every client (no new PUBLISH is taken; one
   * parked is never acknowledged, so the client sends it again elsewhere), (2) waits until every PUBLISH
   * already taken has its AMQP outcome and its PUBACK / PUBREC written, for at most `drainMs` (default 0: no
   * drain; `signal` ends it early), (3) disconnects every client (MQTT 5: DISCONNECT 0x8B server shutting down; 3.1.1: the
   * connection is closed; their wills are published, as for any server-side close), waits for their links
   * to detach, (4) closes the AMQP connections. Resolves to true when the drain finished within `drainMs`,
   * false when the deadline cut it short (those clients resend their unacknowledged PUBLISHes on reconnect).
   */
  async close(options: BridgeCloseOptions = {}): Promise<boolean> {
    if (this.closed) return true;
    this.closed = true;
    const bridges = [...this.bridges];
    const drainMs = Math.max(0, options.drainMs ?? 0);
    let drained = true;
    if (drainMs > 0) {
      const ends: AbortSignal[] = [];
      if (Number.isFinite(drainMs)) ends.push(AbortSignal.timeout(drainMs));
      if (options.signal !== undefined) ends.push(options.signal);
      const deadline = AbortSignal.any(ends);
      await Promise.all(bridges.map((bridge) => bridge.drain(deadline)));
      drained = bridges.every((bridge) => bridge.drained);
    }
    for (const bridge of bridges)
      bridge.serverDisconnect(BridgeReasonCode.ServerShuttingDown, 'gateway shutting down');
    await Promise.all(bridges.map((bridge) => bridge.released));
    await this.connections.close();
    return drained;
  }
}

export function createBridgeGateway(options: GatewayBridgeOptions): BridgeGateway {
  return new BridgeGateway(options);
}

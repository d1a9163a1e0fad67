/**
 * Prometheus metrics of one gateway, in its own registry. Events the composition sees (connections, messages,
 * errors) are counted as they happen; the bridge's and backend's counters are read at scrape time.
 */
import type { Socket } from 'node:net';
import type { BackendStats, GatewayStats, MessageCounts } from '@dragoman/mqtt-amqp';
import { Counter, Gauge, Registry } from 'prom-client';
import { oncePerScrape } from './once-per-scrape';
import { registerProcessMetrics } from './process-metrics';

export type Transport = 'tcp' | 'ws';
/** `in`: from MQTT clients towards AMQP. `out`: from AMQP to MQTT clients. */
export type Direction = 'in' | 'out';

/** Why something failed; the `reason` label of `dragoman_errors_total`. */
export type ErrorReason =
  | 'protocol-error'
  | 'keep-alive-timeout'
  | 'connect-timeout'
  | 'connection-lost'
  | 'rejected'
  | 'auth-failed'
  | 'max-connections'
  | 'tls-handshake'
  | 'websocket'
  | 'publish-failed'
  | 'backend'
  | 'amqp-connection';

/** The `limit` label of `dragoman_limit_hits_total`. */
export type LimitName =
  | 'connections'
  | 'connections-per-address'
  | 'connections-per-tenant'
  | 'connect-rate'
  | 'connect-rate-per-address'
  | 'connect-timeout'
  | 'packet-size'
  | 'subscriptions-per-client'
  | 'topic-length'
  | 'topic-levels'
  | 'amqp-resource-limit'
  | 'retained';

const LIMITS: readonly LimitName[] = [
  'connections',
  'connections-per-address',
  'connections-per-tenant',
  'connect-rate',
  'connect-rate-per-address',
  'connect-timeout',
  'packet-size',
  'subscriptions-per-client',
  'topic-length',
  'topic-levels',
  'amqp-resource-limit',
  'retained',
];

/** Values read when Prometheus scrapes. */
export interface MetricsSample {
  readonly bridge: GatewayStats;
  readonly backend: BackendStats | undefined;
  /** MQTT clients whose socket is paused because the AMQP side gives no credit. */
  readonly stalledClients: number;
  readonly amqpUp: boolean;
}

interface TrackedSocket {
  readonly transport: Transport;
  read: number;
  written: number;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #connections: Gauge<'transport'>;
  readonly #connectionsTotal: Counter<'transport'>;
  readonly #messages: Counter<'direction' | 'qos'>;
  readonly #bytes: Counter<'direction' | 'transport'>;
  readonly #errors: Counter<'reason'>;
  readonly #denials: Counter<'action'>;
  readonly #limitHits: Counter<'limit'>;
  readonly #sockets = new Map<Socket, TrackedSocket>();
  /**
   * The bridge's message counts, read at collection (`countMessagesOf`): a counter's `inc` hashes its labels
   * into a new string each call, too much per message.
   */
  #messageCounts: (() => MessageCounts) | undefined;
  /** Every tracked socket's 'close' listener, one for all (a socket calls it with itself as `this`). */
  readonly #socketClosed: (this: Socket) => void;

  constructor(sample: () => MetricsSample) {
    const metrics = this;
    // Reading the stats walks every client and session (15,000 of them: a few ms), and a dozen collectors need
    // them: one sample per scrape serves them all.
    const current = oncePerScrape(sample);
    this.#socketClosed = function (this: Socket): void {
      metrics.#onSocketClosed(this);
    };
    const registers = [this.registry];
    registerProcessMetrics(this.registry);
    this.#connections = new Gauge({
      name: 'dragoman_mqtt_connections',
      help: 'Open MQTT connections (sockets), by transport',
      labelNames: ['transport'],
      registers,
    });
    this.#connectionsTotal = new Counter({
      name: 'dragoman_mqtt_connections_total',
      help: 'MQTT connections accepted, by transport',
      labelNames: ['transport'],
      registers,
    });
    const counted = new MonotonicReader();
    const messages = new Counter({
      name: 'dragoman_mqtt_messages_total',
      help: 'MQTT PUBLISH messages: in = from clients (to AMQP), out = to clients (from AMQP), by QoS',
      labelNames: ['direction', 'qos'],
      registers,
      collect() {
        const counts = metrics.#messageCounts?.();
        if (counts === undefined) return;
        for (let qos = 0; qos < 3; qos += 1) {
          const label = String(qos);
          messages.inc({ direction: 'in', qos: label }, counted.delta(`in${qos}`, counts.received[qos] ?? 0));
          messages.inc(
            { direction: 'out', qos: label },
            counted.delta(`out${qos}`, counts.delivered[qos] ?? 0),
          );
        }
      },
    });
    this.#messages = messages;
    const sockets = this.#sockets;
    const bytes = new Counter({
      name: 'dragoman_mqtt_bytes_total',
      help: 'Bytes on MQTT sockets (WebSocket framing included): in = received, out = sent, by transport',
      labelNames: ['direction', 'transport'],
      registers,
      collect() {
        // Summed here and added once per label set: an `inc` per socket would hash its labels each time.
        const added: Record<Transport, ByteSums> = { tcp: { in: 0, out: 0 }, ws: { in: 0, out: 0 } };
        for (const [socket, tracked] of sockets) addBytesSince(socket, tracked, added[tracked.transport]);
        for (const transport of ['tcp', 'ws'] as const) countBytes(bytes, transport, added[transport]);
      },
    });
    this.#bytes = bytes;
    const failed = new MonotonicReader();
    this.#errors = new Counter({
      name: 'dragoman_errors_total',
      help: 'Failures, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        const counts = metrics.#messageCounts?.();
        if (counts !== undefined)
          this.inc({ reason: 'publish-failed' }, failed.delta('publish', counts.failed));
      },
    });
    this.#denials = new Counter({
      name: 'dragoman_authorization_denials_total',
      help: 'PUBLISHes and subscription filters the authorization hook (--acl) denied, by action',
      labelNames: ['action'],
      registers,
    });
    this.#limitHits = new Counter({
      name: 'dragoman_limit_hits_total',
      help: 'Requests refused because a limit was reached, by limit (docs/configuration.md, "Limits")',
      labelNames: ['limit'],
      registers,
    });
    this.#initialiseLabels();

    new Gauge({
      name: 'dragoman_mqtt_clients',
      help: 'MQTT clients bridged to AMQP (connecting or connected)',
      registers,
      collect() {
        this.set(current().bridge.clients);
      },
    });
    new Gauge({
      name: 'dragoman_inflight_messages',
      help: 'Messages in flight: in = client PUBLISHes waiting for AMQP credit or outcome, out = AMQP deliveries held for clients',
      labelNames: ['direction'],
      registers,
      collect() {
        const s = current().bridge;
        this.set({ direction: 'in' }, s.queuedPublishes + s.unconfirmedPublishes);
        this.set({ direction: 'out' }, s.heldDeliveries);
      },
    });
    new Gauge({
      name: 'dragoman_credit_stalled_clients',
      help: 'MQTT clients not being read because their AMQP topic link has no credit',
      registers,
      collect() {
        this.set(current().stalledClients);
      },
    });
    new Gauge({
      name: 'dragoman_credit_queued_publishes',
      help: 'Client PUBLISHes read and waiting for AMQP credit or a link',
      registers,
      collect() {
        this.set(current().bridge.queuedPublishes);
      },
    });
    new Gauge({
      name: 'dragoman_amqp_outstanding_credit',
      help: 'Credit granted to the AMQP side on clients publish addresses and not yet used',
      registers,
      collect() {
        this.set(current().bridge.outstandingCredit);
      },
    });
    new Gauge({
      name: 'dragoman_amqp_connections',
      help: 'AMQP connections of the bridge',
      registers,
      collect() {
        this.set(current().bridge.amqpConnections);
      },
    });
    new Gauge({
      name: 'dragoman_amqp_up',
      help: '1 when the AMQP side (embedded backend or external network) is reachable, else 0',
      registers,
      collect() {
        this.set(current().amqpUp ? 1 : 0);
      },
    });
    this.#backendMetrics(current);
  }

  #initialiseLabels(): void {
    for (const transport of ['tcp', 'ws'] as const) {
      this.#connections.set({ transport }, 0);
      this.#connectionsTotal.inc({ transport }, 0);
      for (const direction of ['in', 'out'] as const) this.#bytes.inc({ direction, transport }, 0);
    }
    for (const action of ['publish', 'subscribe'] as const) this.#denials.inc({ action }, 0);
    for (const limit of LIMITS) this.#limitHits.inc({ limit }, 0);
    for (const direction of ['in', 'out'] as const) {
      for (const qos of ['0', '1', '2']) this.#messages.inc({ direction, qos }, 0);
    }
  }

  #backendMetrics(current: () => MetricsSample): void {
    const registers = [this.registry];
    new Gauge({
      name: 'dragoman_backend_sessions',
      help: 'Embedded backend: MQTT sessions held, and those connected',
      labelNames: ['state'],
      registers,
      collect() {
        const s = current().backend;
        if (s === undefined) return;
        this.set({ state: 'all' }, s.subscriptions.sessions);
        this.set({ state: 'connected' }, s.subscriptions.connected);
      },
    });
    new Gauge({
      name: 'dragoman_backend_buffered_messages',
      help: 'Embedded backend: messages held in memory for sessions',
      registers,
      collect() {
        const s = current().backend;
        if (s !== undefined) this.set(s.subscriptions.buffered);
      },
    });
    new Gauge({
      name: 'dragoman_backend_wills',
      help: 'Embedded backend: wills stored',
      registers,
      collect() {
        const s = current().backend;
        if (s !== undefined) this.set(s.wills.wills);
      },
    });
    const published = new MonotonicReader();
    new Counter({
      name: 'dragoman_backend_published_total',
      help: 'Embedded backend: messages published on topics (by any link, and wills)',
      registers,
      collect() {
        const s = current().backend;
        if (s !== undefined) this.inc(published.delta('published', s.published));
      },
    });
    const dropped = new MonotonicReader();
    new Counter({
      name: 'dragoman_backend_dropped_total',
      help: 'Embedded backend: messages not delivered, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        const s = current().backend;
        if (s === undefined) return;
        const reasons: Record<string, number> = {
          no_credit: s.subscriptions.droppedNoCredit,
          backlog_full: s.subscriptions.droppedBacklogFull,
          store: s.subscriptions.droppedByStore,
          expired: s.subscriptions.expired,
          native_queue_full: s.nativeDropped,
          malformed: s.malformed,
        };
        for (const [reason, value] of Object.entries(reasons))
          this.inc({ reason }, dropped.delta(reason, value));
      },
    });
  }

  /** A socket was accepted: counts it and its bytes until it closes. */
  socketOpened(transport: Transport, socket: Socket): void {
    this.#connections.inc({ transport });
    this.#connectionsTotal.inc({ transport });
    this.#sockets.set(socket, { transport, read: 0, written: 0 });
    socket.on('close', this.#socketClosed);
  }

  /** A tracked socket closed: its last bytes counted, the connection no longer. */
  #onSocketClosed(socket: Socket): void {
    const tracked = this.#sockets.get(socket);
    if (tracked === undefined) return;
    const sums = { in: 0, out: 0 };
    addBytesSince(socket, tracked, sums);
    countBytes(this.#bytes, tracked.transport, sums);
    this.#sockets.delete(socket);
    this.#connections.dec({ transport: tracked.transport });
  }

  /**
   * PUBLISHes from and to clients (`dragoman_mqtt_messages_total`) and those that failed to reach one
   * (`dragoman_errors_total{reason="publish-failed"}`) are counted by the bridge, an increment per message,
   * and read from `counts` at each scrape: a second 'publish' listener on every endpoint would make Node's
   * EventEmitter copy its listener array at every emit, and counting as publish() settles a then() each.
   */
  countMessagesOf(counts: () => MessageCounts): void {
    this.#messageCounts = counts;
  }

  error(reason: ErrorReason): void {
    this.#errors.inc({ reason });
  }

  /** A limit refused a connection or a request. */
  limitHit(limit: LimitName): void {
    this.#limitHits.inc({ limit });
  }

  /** The authorization hook denied a PUBLISH or a subscription filter. */
  denied(action: 'publish' | 'subscribe'): void {
    this.#denials.inc({ action });
  }
}

/** Bytes read and written, summed over sockets. */
interface ByteSums {
  in: number;
  out: number;
}

/** Adds to `sums` what `socket` read and wrote since `tracked` last saw it, and moves `tracked` on. */
function addBytesSince(socket: Socket, tracked: TrackedSocket, sums: ByteSums): void {
  const read = socket.bytesRead;
  const written = socket.bytesWritten;
  if (read > tracked.read) sums.in += read - tracked.read;
  if (written > tracked.written) sums.out += written - tracked.written;
  tracked.read = Math.max(read, tracked.read);
  tracked.written = Math.max(written, tracked.written);
}

function countBytes(counter: Counter<'direction' | 'transport'>, transport: Transport, sums: ByteSums): void {
  if (sums.in > 0) counter.inc({ direction: 'in', transport }, sums.in);
  if (sums.out > 0) counter.inc({ direction: 'out', transport }, sums.out);
}

/** Turns a counter read from stats (monotonic) into increments. */
class MonotonicReader {
  readonly #last = new Map<string, number>();
  delta(key: string, value: number): number {
    const last = this.#last.get(key) ?? 0;
    this.#last.set(key, value);
    return value > last ? value - last : 0;
  }
}

import type {
  AmqpConnection,
  ConnectOptions,
  ReceiverOptions,
  SendResult,
  SourceOptions,
} from '@dragoman/amqp';
import type { ReceivedMessage } from '@dragoman/reactive';
import type { DeviceSession } from './device-session';

// ---------------------------------------------------------------------------
// Logging: the subset of pino an adapter uses (a pino logger satisfies it as it is).
// ---------------------------------------------------------------------------

/** One logging method: structured fields first, then a message, as pino takes them. */
export type LogMethod = (fields: object, message?: string) => void;

/** A minimal structured logger. A pino `Logger` is one; `noopLogger` discards everything. */
export interface AdapterLogger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger that adds `bindings` to every line (pino's `child`). */
  child(bindings: Record<string, unknown>): AdapterLogger;
}

// ---------------------------------------------------------------------------
// Metrics: counters, gauges and histograms shaped like prom-client's, so that prom-client can back them.
// ---------------------------------------------------------------------------

/** Label values of one observation. Every name must have been declared in the metric's `labelNames`. */
export type MetricLabels = Readonly<Record<string, string | number>>;

export interface CounterMetric {
  inc(labels: MetricLabels, value?: number): void;
}

export interface GaugeMetric {
  set(labels: MetricLabels, value: number): void;
  inc(labels: MetricLabels, value?: number): void;
  dec(labels: MetricLabels, value?: number): void;
}

export interface HistogramMetric {
  observe(labels: MetricLabels, value: number): void;
}

export interface MetricDefinition {
  /** Prometheus-style name, e.g. `dragoman_adapter_publishes_total`. */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
}

export interface HistogramDefinition extends MetricDefinition {
  /** Upper bounds of the buckets; the registry's default when omitted. */
  readonly buckets?: readonly number[];
}

/**
 * Creates metrics. Asked twice for the same name it must return the same metric (or an equivalent one):
 * several adapters of one host share the instruments. `noopMetrics` discards everything.
 */
export interface AdapterMetrics {
  counter(definition: MetricDefinition): CounterMetric;
  gauge(definition: MetricDefinition): GaugeMetric;
  histogram(definition: HistogramDefinition): HistogramMetric;
}

// ---------------------------------------------------------------------------
// AMQP access
// ---------------------------------------------------------------------------

/** Opens an AMQP connection; the caller owns it (and closes it). */
export type ConnectionFactory = (signal?: AbortSignal) => Promise<AmqpConnection>;

/** How an adapter reaches the AMQP network. */
export interface AmqpAccess {
  /**
   * The shared, authenticated connection, opened on first use. The host owns it: do not close it. Rejects
   * when it cannot be opened (the connect error) or when the context is closed.
   */
  connection(signal?: AbortSignal): Promise<AmqpConnection>;
  /**
   * The connect options the host was given, if it was given options rather than a connection: for front ends
   * that manage their own connections (the MQTT bridge pools them, or opens one per client).
   */
  readonly connectOptions: ConnectOptions | undefined;
}

// ---------------------------------------------------------------------------
// The context an adapter runs in
// ---------------------------------------------------------------------------

/** What the host hands an adapter at start. */
export interface AdapterContext {
  /** The adapter's name (`Adapter.name`). */
  readonly name: string;
  readonly amqp: AmqpAccess;
  /** Bound to `{ adapter: name }`. */
  readonly logger: AdapterLogger;
  readonly metrics: AdapterMetrics;
  /** The adapter's own configuration section (`{}` when the host has none for it). */
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * Opens a session for one device on the shared connection (or on `options.connection`). Sessions still
   * open when the adapter has stopped are closed by the host.
   */
  openDeviceSession(deviceId: string, options?: DeviceSessionOptions): Promise<DeviceSession>;
  /**
   * Tells the host that the adapter failed while running and cannot go on (its listener died, say). The
   * host reports it (`AdapterHost` 'failure') and decides what to do; the adapter is still stopped normally.
   */
  fail(error: Error): void;
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

export interface StartOptions {
  /** Aborted when the host gives up on the start (its start time-out, or a stop requested meanwhile). */
  readonly signal: AbortSignal;
}

export interface StopOptions {
  /**
   * Aborted at the deadline: from then on, stop at once (close sockets, release what is held) rather than
   * drain. `stop` must still resolve soon after it fires.
   */
  readonly signal: AbortSignal;
  /** The deadline, as a `Date.now()` timestamp. */
  readonly deadline: number;
}

/**
 * A device-protocol front end. The host calls `start` once, then `stop` once (also after a failed start,
 * to release what was set up). Before the deadline, `stop` drains: stop accepting, let work in progress end,
 * settle or hand back what is held; once `signal` aborts, it tears down.
 */
export interface Adapter {
  readonly name: string;
  start(context: AdapterContext, options: StartOptions): Promise<void>;
  stop(options: StopOptions): Promise<void>;
}

/** A stop deadline: a signal that aborts at the deadline, or a number of milliseconds from now. */
export type StopDeadline = AbortSignal | number;

// ---------------------------------------------------------------------------
// Device sessions
// ---------------------------------------------------------------------------

/** MQTT-style quality of service: 0 = at most once (pre-settled), 1 = at least once (outcome awaited). */
export type Qos = 0 | 1;

/** What a publish came to: the peer's outcome (QoS 1), or `{ state: 'sent' }` (QoS 0: written, no outcome). */
export type PublishResult = SendResult;

export interface PublishOptions {
  /** Default 1. */
  readonly qos?: Qos;
  /** Target address; default the session's telemetry address (`telemetry/<device>`). */
  readonly address?: string;
  /**
   * Milliseconds to wait for link credit (and for the link to attach) before failing with `NoCreditError`.
   * Default: the session's `creditTimeoutMs`.
   */
  readonly creditTimeoutMs?: number;
  /** QoS 1: milliseconds to wait for the outcome before `PublishTimeoutError`. Default: the session's. */
  readonly outcomeTimeoutMs?: number;
  /** Aborting before the message is written withdraws it (rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/** How a device id maps to its AMQP addresses. */
export interface DeviceAddresses {
  /** Default `telemetry/<device>`. */
  telemetry(deviceId: string): string;
  /** Default `commands/<device>`. */
  commands(deviceId: string): string;
}

export interface DeviceSessionOptions {
  /** Use this connection (e.g. opened with the device's own credentials) instead of the shared one. Not closed by the session. */
  readonly connection?: AmqpConnection;
  readonly addresses?: Partial<DeviceAddresses>;
  /** Default 2 000 ms. */
  readonly creditTimeoutMs?: number;
  /** Default 10 000 ms. */
  readonly outcomeTimeoutMs?: number;
  /** Publishes waiting for credit, per link; beyond it `publish` fails with `NoCreditError` at once. Default 100. */
  readonly maxQueuedPerLink?: number;
  /** Sender links kept open (one per address and QoS); the least recently used is closed beyond it. Default 16. */
  readonly maxLinks?: number;
  /** Command receivers open at once (`commands()` subscriptions and `receiveCommand` waits). Default 4. */
  readonly maxCommandReceivers?: number;
}

/** A command for a device: the AMQP message with its settlement (accept, reject, release, modify). */
export type Command = ReceivedMessage;

export interface CommandOptions {
  /**
   * `manual` (default): the adapter settles each command, typically once the device has it. `auto`: accepted
   * once `onNext` returns (or its promise fulfils), as in `receiverPublisher`.
   */
  readonly settlement?: 'manual' | 'auto';
  /** Further receiver-link options (name, source terminus fields, attach time-out). */
  readonly link?: Omit<ReceiverOptions, 'source' | 'creditWindow'> & {
    readonly source?: Omit<SourceOptions, 'address'>;
  };
}

export interface ReceiveCommandOptions extends CommandOptions {
  /** Give up (resolve `undefined`) after this many milliseconds. Default 30 000. */
  readonly timeoutMs?: number;
  /** Aborting gives up too (resolves `undefined`). */
  readonly signal?: AbortSignal;
}

export type DeviceSessionState = 'open' | 'closed';

/** Counters of one device session. */
export interface DeviceSessionStats {
  readonly openLinks: number;
  /** Publishes waiting for credit. */
  readonly queued: number;
  /** QoS 1 publishes written and waiting for their outcome. */
  readonly unsettled: number;
  /** Command receivers in use: `commands()` subscriptions and `receiveCommand` waits or unsettled commands. */
  readonly commandReceivers: number;
  /** `receiveCommand` links kept attached, without credit, for the next command. */
  readonly idleCommandReceivers: number;
}

import { AmqpConnection, ConnectionClosedError, type ConnectOptions, connect } from '@dragoman/amqp';
import { validateDeviceId } from './device-id';
import { DeviceSession } from './device-session';
import { AdapterStateError } from './errors';
import { noopLogger } from './logger';
import { type AdapterInstruments, createInstruments, noopMetrics } from './metrics';
import type {
  AdapterContext,
  AdapterLogger,
  AdapterMetrics,
  AmqpAccess,
  ConnectionFactory,
  DeviceSessionOptions,
} from './types';

export interface HostContextOptions {
  /**
   * How to reach AMQP: an open connection (shared; the host never closes it), `connect()` options (the host
   * connects on first use and closes the connection in `close()`), or a factory (called on first use; its
   * connection is closed in `close()` too).
   */
  readonly amqp: AmqpConnection | ConnectOptions | ConnectionFactory;
  /** Default `noopLogger`. */
  readonly logger?: AdapterLogger;
  /** Default `noopMetrics`. */
  readonly metrics?: AdapterMetrics;
  /** Configuration sections, by adapter name: each adapter sees its own as `context.config`. */
  readonly config?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * What a host shares between its adapters: the AMQP connection, logger, metrics and configuration. Each
 * adapter gets its own `AdapterContext` from it (`forAdapter`).
 */
export class HostContext {
  readonly logger: AdapterLogger;
  readonly metrics: AdapterMetrics;
  readonly amqp: AmqpAccess;
  readonly #config: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly #instruments: AdapterInstruments;
  readonly #open: ConnectionFactory;
  readonly #owned: boolean;
  #connection: AmqpConnection | undefined;
  #connecting: Promise<AmqpConnection> | undefined;
  #closed = false;

  constructor(options: HostContextOptions) {
    this.logger = options.logger ?? noopLogger;
    this.metrics = options.metrics ?? noopMetrics;
    this.#config = options.config ?? {};
    this.#instruments = createInstruments(this.metrics);
    const amqp = options.amqp;
    let connectOptions: ConnectOptions | undefined;
    if (amqp instanceof AmqpConnection) {
      this.#connection = amqp;
      this.#open = () => Promise.resolve(amqp);
      this.#owned = false;
    } else if (typeof amqp === 'function') {
      this.#open = amqp;
      this.#owned = true;
    } else {
      connectOptions = amqp;
      this.#open = (signal) => connect(signal === undefined ? amqp : { ...amqp, signal });
      this.#owned = true;
    }
    this.amqp = {
      connection: (signal) => this.#shared(signal),
      connectOptions,
    };
  }

  /** The context one adapter runs in. */
  forAdapter(name: string, fail: (error: Error) => void): ScopedContext {
    return new ScopedContext(this, name, this.#config[name] ?? {}, this.#instruments, fail);
  }

  /** Closes the shared connection if the host opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = this.#connecting;
    const connection = this.#connection ?? (await pending?.catch(() => undefined));
    if (this.#owned && connection !== undefined) await connection.close();
  }

  async #shared(signal: AbortSignal | undefined): Promise<AmqpConnection> {
    if (this.#closed) throw new ConnectionClosedError('the adapter host is closed');
    const current = this.#connection;
    if (current !== undefined && (current.state !== 'closed' || !this.#owned)) return current;
    // An owned connection that closed for good (reconnects exhausted) is replaced on the next use.
    this.#connection = undefined;
    this.#connecting ??= this.#open(signal).then(
      (connection) => {
        this.#connecting = undefined;
        if (this.#closed) {
          void connection.close();
          throw new ConnectionClosedError('the adapter host is closed');
        }
        this.#connection = connection;
        return connection;
      },
      (error: unknown) => {
        this.#connecting = undefined;
        throw error;
      },
    );
    return this.#connecting;
  }
}

/** @internal The context of one adapter: tracks its device sessions so the host can close leftovers. */
export class ScopedContext implements AdapterContext {
  readonly name: string;
  readonly amqp: AmqpAccess;
  readonly logger: AdapterLogger;
  readonly metrics: AdapterMetrics;
  readonly config: Readonly<Record<string, unknown>>;
  readonly #sessions = new Set<DeviceSession>();
  readonly #instruments: AdapterInstruments;
  readonly #fail: (error: Error) => void;
  #stopped = false;

  constructor(
    host: HostContext,
    name: string,
    config: Readonly<Record<string, unknown>>,
    instruments: AdapterInstruments,
    fail: (error: Error) => void,
  ) {
    this.name = name;
    this.amqp = host.amqp;
    this.logger = host.logger.child({ adapter: name });
    this.metrics = host.metrics;
    this.config = config;
    this.#instruments = instruments;
    this.#fail = fail;
  }

  /** Device sessions opened and not yet closed. */
  get openSessions(): number {
    return this.#sessions.size;
  }

  async openDeviceSession(deviceId: string, options: DeviceSessionOptions = {}): Promise<DeviceSession> {
    validateDeviceId(deviceId);
    if (this.#stopped) throw new AdapterStateError(`adapter '${this.name}' has stopped`);
    const connection = options.connection ?? (await this.amqp.connection());
    if (this.#stopped) throw new AdapterStateError(`adapter '${this.name}' has stopped`);
    const session = new DeviceSession(connection, deviceId, options, {
      adapter: this.name,
      instruments: this.#instruments,
      onClosed: (closed) => this.#sessions.delete(closed),
    });
    this.#sessions.add(session);
    return session;
  }

  fail(error: Error): void {
    this.#fail(error);
  }

  /** Closes the sessions the adapter left open; no more can be opened. */
  async closeSessions(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#sessions].map((session) => session.close()));
  }
}

/** The shared context of a host: see `HostContextOptions`. */
export function createHostContext(options: HostContextOptions): HostContext {
  return new HostContext(options);
}

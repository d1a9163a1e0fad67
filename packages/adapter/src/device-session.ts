import type { AmqpConnection, AmqpMessage } from '@dragoman/amqp';
import {
  type Publisher,
  type ReceivedMessage,
  receiverPublisher,
  type Subscriber,
  type Subscription,
} from '@dragoman/reactive';
import { CommandLane } from './command-lane';
import { validateDeviceId } from './device-id';
import { CommandLimitError, NoCreditError, SessionClosedError } from './errors';
import type { AdapterInstruments } from './metrics';
import { PublishLink } from './publish-link';
import type {
  Command,
  CommandOptions,
  DeviceAddresses,
  DeviceSessionOptions,
  DeviceSessionState,
  DeviceSessionStats,
  PublishOptions,
  PublishResult,
  Qos,
  ReceiveCommandOptions,
} from './types';

export const DEFAULT_CREDIT_TIMEOUT_MS = 2_000;
export const DEFAULT_OUTCOME_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_QUEUED_PER_LINK = 100;
export const DEFAULT_MAX_LINKS = 16;
export const DEFAULT_MAX_COMMAND_RECEIVERS = 4;
export const DEFAULT_RECEIVE_COMMAND_TIMEOUT_MS = 30_000;

export const DEFAULT_DEVICE_ADDRESSES: DeviceAddresses = Object.freeze({
  telemetry: (deviceId: string) => `telemetry/${deviceId}`,
  commands: (deviceId: string) => `commands/${deviceId}`,
});

/** @internal What a host-made session reports to its host. */
export interface SessionHooks {
  readonly adapter: string;
  readonly instruments: AdapterInstruments | undefined;
  readonly onClosed: ((session: DeviceSession) => void) | undefined;
}

/** One command stream of a session, so that closing the session can end it. */
interface CommandStream {
  end(): void;
}

/**
 * One device's view of the AMQP side: publish with a chosen QoS and learn the outcome, receive commands
 * with credit. Sender links (one per address and QoS) are opened on first use and kept (at most `maxLinks`);
 * each command subscription is its own receiver link. Create one with `context.openDeviceSession(id)` inside
 * an adapter, or `createDeviceSession(connection, id)` on its own.
 */
export class DeviceSession {
  readonly deviceId: string;
  /** Where `publish` sends by default. */
  readonly telemetryAddress: string;
  /** Where commands come from. */
  readonly commandAddress: string;
  readonly connection: AmqpConnection;
  readonly #creditTimeoutMs: number;
  readonly #outcomeTimeoutMs: number;
  readonly #maxQueuedPerLink: number;
  readonly #maxLinks: number;
  readonly #maxCommandReceivers: number;
  /** Insertion order is recency: the first idle entry is the one to evict. */
  readonly #links = new Map<string, PublishLink>();
  readonly #commandStreams = new Set<CommandStream>();
  /** receiveCommand links attached with no credit, ready for the next command. */
  readonly #idleLanes = new Set<CommandLane>();
  readonly #hooks: SessionHooks;
  #state: DeviceSessionState = 'open';

  /** @internal Use `context.openDeviceSession` or `createDeviceSession`. */
  constructor(
    connection: AmqpConnection,
    deviceId: string,
    options: DeviceSessionOptions,
    hooks: SessionHooks,
  ) {
    validateDeviceId(deviceId);
    this.deviceId = deviceId;
    this.connection = connection;
    const addresses = { ...DEFAULT_DEVICE_ADDRESSES, ...options.addresses };
    this.telemetryAddress = addresses.telemetry(deviceId);
    this.commandAddress = addresses.commands(deviceId);
    this.#creditTimeoutMs = positive('creditTimeoutMs', options.creditTimeoutMs, DEFAULT_CREDIT_TIMEOUT_MS);
    this.#outcomeTimeoutMs = positive(
      'outcomeTimeoutMs',
      options.outcomeTimeoutMs,
      DEFAULT_OUTCOME_TIMEOUT_MS,
    );
    this.#maxQueuedPerLink = positive(
      'maxQueuedPerLink',
      options.maxQueuedPerLink,
      DEFAULT_MAX_QUEUED_PER_LINK,
    );
    this.#maxLinks = positive('maxLinks', options.maxLinks, DEFAULT_MAX_LINKS);
    this.#maxCommandReceivers = positive(
      'maxCommandReceivers',
      options.maxCommandReceivers,
      DEFAULT_MAX_COMMAND_RECEIVERS,
    );
    this.#hooks = hooks;
    hooks.instruments?.sessions.inc({ adapter: hooks.adapter });
  }

  get state(): DeviceSessionState {
    return this.#state;
  }

  stats(): DeviceSessionStats {
    let queued = 0;
    let unsettled = 0;
    for (const link of this.#links.values()) {
      queued += link.queued;
      unsettled += link.unsettled;
    }
    const idle = this.#idleLanes.size;
    return {
      openLinks: this.#links.size,
      queued,
      unsettled,
      commandReceivers: this.#commandStreams.size - idle,
      idleCommandReceivers: idle,
    };
  }

  /**
   * Sends `message` to `options.address` (default the telemetry address). QoS 1 (default) resolves with the
   * peer's outcome — accepted, rejected (with its error), released or modified — and QoS 0 with
   * `{ state: 'sent' }` once written. Rejects with `NoCreditError` when no credit came in time (not sent),
   * `PublishTimeoutError` when a QoS 1 outcome did not (outcome unknown), `InvalidArgumentError` (of
   * `@dragoman/amqp`) for a message that cannot be encoded, `SessionClosedError` after `close()`, and the
   * AMQP error when the link was refused or lost.
   */
  publish(message: AmqpMessage, options: PublishOptions = {}): Promise<PublishResult> {
    if (this.#state === 'closed') return Promise.reject(new SessionClosedError(this.deviceId));
    const qos: Qos = options.qos ?? 1;
    if (qos !== 0 && qos !== 1)
      return Promise.reject(new RangeError(`qos must be 0 or 1, got ${String(qos)}`));
    const address = options.address ?? this.telemetryAddress;
    let link: PublishLink;
    try {
      link = this.#link(address, qos);
    } catch (error) {
      return this.#count(qos, Promise.reject(error));
    }
    return this.#count(
      qos,
      link.publish({
        message,
        creditTimeoutMs: options.creditTimeoutMs ?? this.#creditTimeoutMs,
        outcomeTimeoutMs: options.outcomeTimeoutMs ?? this.#outcomeTimeoutMs,
        signal: options.signal,
      }),
    );
  }

  /**
   * The device's commands as a Publisher: each subscription attaches a receiver link to the command
   * address, `request(n)` grants n credit (the peer holds exactly the outstanding demand), `cancel`
   * detaches. In `manual` settlement (default) settle each command yourself. Closing the session completes
   * every command stream. More than `maxCommandReceivers` at once fail with `CommandLimitError`.
   */
  commands(options: CommandOptions = {}): Publisher<Command> {
    return {
      subscribe: (subscriber: Subscriber<Command>): void => this.#subscribeCommands(subscriber, options),
    };
  }

  /**
   * Waits for one command (credit 1). Resolves `undefined` when none came within `timeoutMs` (default
   * 30 s), on abort, or when the session closes. Settle the command: accept once the device has it, release
   * when it could not be handed over. Its link then stays attached, without credit, for the next call; a
   * wait that ends empty detaches it (credit granted cannot be taken back otherwise).
   */
  receiveCommand(options: ReceiveCommandOptions = {}): Promise<Command | undefined> {
    const timeoutMs = positive('timeoutMs', options.timeoutMs, DEFAULT_RECEIVE_COMMAND_TIMEOUT_MS);
    if (options.signal?.aborted) return Promise.resolve(undefined);
    // Lanes with default link options are kept between commands; others detach after theirs.
    const pooled = options.link === undefined;
    let lane = pooled ? this.#takeIdleLane() : undefined;
    lane ??= new CommandLane(
      this.commands({ ...options, settlement: 'manual' }),
      (idle) => {
        if (pooled && this.#state === 'open') this.#idleLanes.add(idle);
        else idle.cancel();
      },
      (dead) => this.#idleLanes.delete(dead),
    );
    return lane.take(timeoutMs, options.signal);
  }

  /**
   * Closes the session: sender links detach (publishes still waiting fail with `LinkClosedError`), command
   * streams complete (unsettled commands go back to the peer). The connection stays open.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    for (const stream of [...this.#commandStreams]) stream.end();
    const links = [...this.#links.values()];
    this.#links.clear();
    await Promise.all(links.map((link) => link.close().catch(() => undefined)));
    this.#hooks.instruments?.sessions.dec({ adapter: this.#hooks.adapter });
    this.#hooks.onClosed?.(this);
  }

  #link(address: string, qos: Qos): PublishLink {
    const key = `${qos}:${address}`;
    const existing = this.#links.get(key);
    if (existing !== undefined && !existing.closed) {
      this.#links.delete(key);
      this.#links.set(key, existing);
      return existing;
    }
    if (this.#links.size >= this.#maxLinks && !this.#evictIdle()) {
      throw new NoCreditError(address, 'queue-full', `all ${this.#maxLinks} links of the session are busy`);
    }
    const link = new PublishLink(this.connection, address, qos, {
      maxQueued: this.#maxQueuedPerLink,
      onClosed: (closed) => {
        if (this.#links.get(key) === closed) this.#links.delete(key);
      },
    });
    this.#links.set(key, link);
    return link;
  }

  #evictIdle(): boolean {
    for (const [key, link] of this.#links) {
      if (!link.idle) continue;
      this.#links.delete(key);
      void link.close().catch(() => undefined);
      return true;
    }
    return false;
  }

  #count(qos: Qos, result: Promise<PublishResult>): Promise<PublishResult> {
    const instruments = this.#hooks.instruments;
    if (instruments === undefined) return result;
    const labels = (outcome: string) => ({ adapter: this.#hooks.adapter, qos, result: outcome });
    return result.then(
      (r) => {
        instruments.publishes.inc(labels(r.state));
        return r;
      },
      (error: unknown) => {
        const name = (error as { name?: unknown } | null)?.name;
        instruments.publishes.inc(
          labels(
            name === 'NoCreditError' ? 'no-credit' : name === 'PublishTimeoutError' ? 'timeout' : 'error',
          ),
        );
        throw error;
      },
    );
  }

  #takeIdleLane(): CommandLane | undefined {
    for (const lane of this.#idleLanes) {
      this.#idleLanes.delete(lane);
      if (!lane.dead) return lane;
    }
    return undefined;
  }

  #subscribeCommands(subscriber: Subscriber<Command>, options: CommandOptions): void {
    // An idle receiveCommand link gives way to a new command receiver rather than fail it.
    if (this.#commandStreams.size >= this.#maxCommandReceivers) this.#takeIdleLane()?.cancel();
    if (this.#state === 'closed' || this.#commandStreams.size >= this.#maxCommandReceivers) {
      // §1.9: onSubscribe first, even for a subscription that fails at once.
      subscriber.onSubscribe({ request: () => undefined, cancel: () => undefined });
      subscriber.onError(
        this.#state === 'closed'
          ? new SessionClosedError(this.deviceId)
          : new CommandLimitError(this.deviceId, this.#maxCommandReceivers),
      );
      return;
    }
    let upstream: Subscription | undefined;
    let terminated = false;
    /** Set when the session closes before the link attached: complete right after onSubscribe (§1.9). */
    let endOnSubscribe = false;
    const stream: CommandStream = {
      end: () => {
        if (terminated) return;
        this.#commandStreams.delete(stream);
        if (upstream === undefined) {
          endOnSubscribe = true;
          return;
        }
        terminated = true;
        upstream.cancel();
        subscriber.onComplete();
      },
    };
    const release = (): void => {
      terminated = true;
      this.#commandStreams.delete(stream);
    };
    this.#commandStreams.add(stream);
    const instruments = this.#hooks.instruments;
    receiverPublisher(this.connection, this.commandAddress, {
      settlement: options.settlement ?? 'manual',
      ...(options.link !== undefined ? { link: options.link } : {}),
    }).subscribe({
      onSubscribe: (subscription) => {
        upstream = subscription;
        subscriber.onSubscribe({
          request: (n) => subscription.request(n),
          cancel: () => {
            release();
            subscription.cancel();
          },
        });
        if (endOnSubscribe && !terminated) {
          terminated = true;
          subscription.cancel();
          subscriber.onComplete();
        }
      },
      onNext: (command: ReceivedMessage) => {
        if (terminated) return;
        if (instruments !== undefined) {
          void command.settled.then((settlement) =>
            instruments.commands.inc({ adapter: this.#hooks.adapter, settlement }),
          );
        }
        return subscriber.onNext(command);
      },
      onError: (error) => {
        if (terminated) return;
        release();
        subscriber.onError(error);
      },
      onComplete: () => {
        if (terminated) return;
        release();
        subscriber.onComplete();
      },
    });
  }
}

/**
 * A device session on `connection`, outside any adapter host (no metrics, not closed for you). Throws
 * `InvalidDeviceIdError` for a bad id and `RangeError` for a bad option.
 */
export function createDeviceSession(
  connection: AmqpConnection,
  deviceId: string,
  options: DeviceSessionOptions = {},
): DeviceSession {
  return new DeviceSession(connection, deviceId, options, {
    adapter: '',
    instruments: undefined,
    onClosed: undefined,
  });
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

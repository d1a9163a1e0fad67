import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  type AmqpError,
  ConnectionClosedError,
  ConnectionError,
  InvalidArgumentError,
  SaslError,
  TimeoutError,
} from './errors';
import { IncomingLink } from './incoming-link';
import { processOnlyChangedLinks } from './internal/changed-links';
import { connectionErrorFrom, sessionErrorFrom, toRheaError } from './internal/convert';
import { readFramesDirectly } from './internal/frame-reader';
import { limitIncomingFrames, maxFrameSizeOf } from './internal/frame-size-limit';
import { writeFramesTogether } from './internal/frame-writer';
import { makeLeanDeliveries } from './internal/lean-deliveries';
import { installLeanLinkDispatch } from './internal/lean-dispatch';
import { processWithoutGarbage } from './internal/lean-processing';
import { findFreeHandlesQuickly } from './internal/link-handles';
import type { LinkHost, ManagedLink } from './internal/link-host';
import { DEFAULT_CLOSE_TIMEOUT_MS } from './internal/link-host';
import { resolveSettleModes, toRheaLinkOptions } from './internal/link-options';
import { receiveRawTransfers } from './internal/raw-transfers';
import { rhea } from './internal/rhea';
import type {
  RheaConnection,
  RheaContainer,
  RheaEventContext,
  RheaReceiver,
  RheaSender,
} from './internal/rhea-types';
import { freeSessionSlotsOutOfOrder } from './internal/session-window';
import { coalesceWrites, watchSocketClose } from './internal/socket';
import { Receiver } from './receiver';
import { Backoff, type ResolvedReconnectOptions, resolveReconnectOptions } from './reconnect';
import { Sender } from './sender';
import type {
  AmqpErrorInit,
  CloseInfo,
  ConnectionEvents,
  ConnectionState,
  ConnectOptions,
  PeerInfo,
  ReceiverOptions,
  SenderOptions,
} from './types';

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** rhea defaults for links: our wrappers settle and grant credit themselves. */
export const RHEA_LINK_DEFAULTS = {
  sender_options: { autosettle: true, treat_modified_as_released: false },
  receiver_options: { autoaccept: false, autosettle: true, credit_window: 0 },
} as const;

/** @internal */
export type ConnectionInit =
  | {
      readonly kind: 'outbound';
      readonly container: RheaContainer;
      readonly rheaOptions: Record<string, unknown>;
      readonly reconnect: ResolvedReconnectOptions;
      readonly connectTimeoutMs: number;
    }
  | { readonly kind: 'inbound'; readonly container: RheaContainer; readonly connection: RheaConnection };

/**
 * One AMQP connection, outbound (`connect()`) or inbound (accepted by a `listen()` listener). Both sides open
 * senders and receivers the same way; inbound connections also announce the links a peer attaches
 * ('incomingLink'). Outbound connections reconnect with back-off and re-attach their links.
 */
export class AmqpConnection extends EventEmitter<ConnectionEvents> {
  readonly #init: ConnectionInit;
  #state: ConnectionState = 'opening';
  #rhea: RheaConnection | undefined;
  readonly #links = new Set<ManagedLink>();
  readonly #backoff: Backoff | undefined;
  #reconnectTimer: unknown;
  #closeInfo: CloseInfo | undefined;
  #closeReason: Error | undefined;
  #lastError: Error | undefined;
  #openWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #closeWaiter: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #peer: PeerInfo | undefined;
  readonly #host: LinkHost;

  /** @internal Use `connect()` or `listen()`. */
  constructor(init: ConnectionInit) {
    super();
    this.#init = init;
    const self = this;
    this.#host = {
      get rheaConnection() {
        return self.#state === 'open' ? self.#rhea : undefined;
      },
      get isOpen() {
        return self.#state === 'open';
      },
      get closeReason() {
        return self.#closeReason;
      },
      forget: (link) => {
        self.#links.delete(link);
      },
    };
    if (init.kind === 'outbound') {
      this.#backoff = new Backoff(init.reconnect);
    } else {
      this.#rhea = init.connection;
      this.#wire(init.connection);
    }
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** True for connections accepted by a listener. */
  get inbound(): boolean {
    return this.#init.kind === 'inbound';
  }

  /** Our container id. */
  get containerId(): string {
    return this.#init.container.id;
  }

  /** What we know about the peer (address, SASL identity, open frame). */
  get peer(): PeerInfo {
    return this.#peer ?? this.#readPeer(this.#rhea);
  }

  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** Opens a sending link; `target` is the target address, or full options. Resolves once the peer attached. */
  async openSender(target: string | SenderOptions): Promise<Sender> {
    const options: SenderOptions = typeof target === 'string' ? { target } : target;
    this.#assertUsable();
    const settleModes = resolveSettleModes(options);
    const name = options.name ?? randomUUID();
    const sender = new Sender(
      this.#host,
      name,
      settleModes,
      {
        kind: 'local',
        rheaOptions: toRheaLinkOptions('sender', options, settleModes, name),
        attachTimeoutMs: options.attachTimeoutMs,
      },
      { maxQueued: options.maxQueued },
    );
    await this.#attach(sender.managed, sender.attach(this.#host.rheaConnection), options.signal, (reason) =>
      sender.abortAttach(reason),
    );
    return sender;
  }

  /** Opens a receiving link; `source` is the source address, or full options. Resolves once the peer attached. */
  async openReceiver(source: string | ReceiverOptions): Promise<Receiver> {
    const options: ReceiverOptions = typeof source === 'string' ? { source } : source;
    this.#assertUsable();
    const settleModes = resolveSettleModes(options);
    const name = options.name ?? randomUUID();
    const receiver = new Receiver(
      this.#host,
      name,
      settleModes,
      {
        kind: 'local',
        rheaOptions: toRheaLinkOptions('receiver', options, settleModes, name),
        attachTimeoutMs: options.attachTimeoutMs,
      },
      { creditWindow: options.creditWindow },
    );
    await this.#attach(
      receiver.managed,
      receiver.attach(this.#host.rheaConnection),
      options.signal,
      (reason) => receiver.abortAttach(reason),
    );
    return receiver;
  }

  /**
   * Closes the connection, with an error condition if given. Pending sends and attaches fail with
   * `ConnectionClosedError`. Resolves when the peer answered the close (or after a time-out).
   */
  close(error?: AmqpErrorInit): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = this.#doClose(error);
    return this.#closing;
  }

  // -------------------------------------------------------------------------
  // Internal
  // -------------------------------------------------------------------------

  /** @internal Starts an outbound connection; resolves when open. */
  start(signal: AbortSignal | undefined): Promise<void> {
    const init = this.#init;
    if (init.kind !== 'outbound') return Promise.resolve();
    if (signal?.aborted) {
      this.#state = 'closed';
      return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#failOpen(new TimeoutError(`connect timed out after ${init.connectTimeoutMs} ms`));
      }, init.connectTimeoutMs);
      timer.unref?.();
      const onAbort = (): void =>
        this.#failOpen(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#openWaiter = {
        resolve: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.#dial();
    });
  }

  #failOpen(error: Error): void {
    const waiter = this.#openWaiter;
    if (waiter === undefined) return;
    this.#openWaiter = undefined;
    const conn = this.#rhea;
    this.#rhea = undefined;
    this.#state = 'closed';
    this.#closeReason = error;
    this.#closeInfo = { remote: false, error: undefined };
    if (conn !== undefined) destroy(conn);
    waiter.reject(error);
  }

  #dial(): void {
    const init = this.#init;
    if (init.kind !== 'outbound') return;
    const conn = init.container.connect({ ...init.rheaOptions } as unknown as Parameters<
      RheaContainer['connect']
    >[0]) as RheaConnection;
    if (conn.socket !== undefined) {
      watchSocketClose(conn, conn.socket as unknown as Parameters<typeof watchSocketClose>[1]);
      coalesceWrites(conn.socket);
    }
    this.#rhea = conn;
    this.#lastError = undefined;
    this.#wire(conn);
    limitIncomingFrames(conn);
  }

  async #attach(
    link: ManagedLink,
    attached: Promise<void>,
    signal: AbortSignal | undefined,
    abort: (reason: unknown) => void,
  ): Promise<void> {
    this.#links.add(link);
    if (signal === undefined) return attached;
    if (signal.aborted) abort(signal.reason);
    const onAbort = (): void => abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await attached;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  #assertUsable(): void {
    if (this.#state === 'closed' || this.#state === 'closing') {
      throw new ConnectionClosedError('connection is closed', { cause: this.#closeReason });
    }
    if (this.#state === 'opening' && this.#init.kind === 'outbound') {
      throw new ConnectionClosedError('connection is not open yet');
    }
  }

  #wire(conn: RheaConnection): void {
    // Our Receivers decode messages themselves (internal/raw-transfers.ts).
    receiveRawTransfers(conn);
    // Frames encoded into one kept buffer, not a fresh 1 KiB one each (internal/frame-writer.ts).
    writeFramesTogether(conn);
    // Transfers, dispositions and flows read without rhea's typed-value tree (internal/frame-reader.ts).
    readFramesDirectly(conn);
    // Link events told to listeners without rhea's per-event copies (internal/lean-dispatch.ts; once per process).
    installLeanLinkDispatch();
    // Deliveries made as class instances, not object literals with fresh closures (internal/lean-deliveries.ts).
    makeLeanDeliveries(conn);
    // One unsettled delivery must not close the session's window for every link (internal/session-window.ts).
    freeSessionSlotsOutOfOrder(conn);
    // rhea's processing rounds without their per-round garbage (internal/lean-processing.ts).
    processWithoutGarbage(conn);
    // Processing the connection looks at the links with something to write, not at all (internal/changed-links.ts).
    processOnlyChangedLinks(conn);
    // A new link's handle found without looking at every handle in use (internal/link-handles.ts).
    findFreeHandlesQuickly(conn);
    conn.on('connection_open', () => {
      if (conn === this.#rhea) this.#onOpen(conn);
    });
    conn.on('connection_error', (context: RheaEventContext) => {
      if (conn !== this.#rhea) return;
      this.#lastError = toConnectionError(context.error, conn);
    });
    conn.on('connection_close', () => {
      if (conn !== this.#rhea) return;
      const error = this.#lastError ?? connectionErrorFrom(conn.remote.close?.error);
      if (this.#state === 'closing') {
        this.#closeWaiter?.();
        return;
      }
      this.#onDrop(conn, error, true);
    });
    conn.on('disconnected', (context: RheaEventContext) => {
      if (conn !== this.#rhea) return;
      this.#onDrop(conn, this.#lastError ?? context.error, false);
    });
    conn.on('session_error', () => {});
    conn.on('session_close', (context: RheaEventContext) => {
      if (conn !== this.#rhea) return;
      const error = sessionErrorFrom((context.session as { error?: unknown } | undefined)?.error);
      for (const link of [...this.#links]) link.onSessionClosed(context, error);
    });
    conn.on('sender_open', (context: RheaEventContext) => {
      if (context.sender !== undefined) this.#onIncomingLink(conn, context.sender, 'sender');
    });
    conn.on('receiver_open', (context: RheaEventContext) => {
      if (context.receiver !== undefined) this.#onIncomingLink(conn, context.receiver, 'receiver');
    });
    conn.on('error', (error: unknown) => this.#emitError(error));
    conn.on('protocol_error', (error: unknown) => this.#emitError(error));
  }

  #onOpen(conn: RheaConnection): void {
    this.#peer = this.#readPeer(conn);
    const wasReconnecting = this.#state === 'reconnecting';
    this.#state = 'open';
    this.#backoff?.reset();
    if (wasReconnecting) {
      for (const link of [...this.#links]) link.reattach(conn);
      this.emit('reconnected');
      return;
    }
    const waiter = this.#openWaiter;
    this.#openWaiter = undefined;
    waiter?.resolve();
    this.emit('open');
  }

  #onDrop(conn: RheaConnection, rawError: unknown, closedByPeer: boolean): void {
    // Outcomes that arrived in the same read as the close (a peer accepting and closing in one write) are
    // still queued inside rhea for its next tick: deliver them before failing what is left.
    try {
      conn._process();
    } catch {
      // the transport is gone; nothing more to deliver
    }
    this.#rhea = undefined;
    const error = rawError instanceof Error ? rawError : undefined;
    if (this.#state === 'closing') {
      this.#closeWaiter?.();
      return;
    }
    if (this.#openWaiter !== undefined) {
      destroy(conn);
      this.#failOpen(
        error instanceof ConnectionError || error instanceof SaslError
          ? error
          : new ConnectionClosedError(`connect failed${error ? `: ${error.message}` : ''}`, { cause: error }),
      );
      return;
    }
    const init = this.#init;
    const condition = (error as Partial<AmqpError> | undefined)?.condition;
    const mayReconnect =
      init.kind === 'outbound' &&
      init.reconnect.enabled &&
      !(error instanceof SaslError) &&
      (!closedByPeer || condition === 'amqp:connection:forced');
    if (closedByPeer) destroyLater(conn);
    if (mayReconnect && (this.#state === 'open' || this.#state === 'reconnecting')) {
      const delay = this.#backoff?.next();
      if (delay !== undefined) {
        const first = this.#state === 'open';
        this.#state = 'reconnecting';
        if (first) {
          for (const link of [...this.#links]) link.onDisconnect();
          this.emit('disconnected', { error, reconnecting: true, delayMs: delay });
        }
        this.#reconnectTimer = init.reconnect.clock.setTimeout(() => {
          this.#reconnectTimer = undefined;
          if (this.#state === 'reconnecting') this.#dial();
        }, delay);
        return;
      }
    }
    this.#state = 'closed';
    this.#closeReason = error ?? new ConnectionClosedError('connection lost');
    const amqpError = typeof condition === 'string' ? (error as AmqpError) : undefined;
    this.#closeInfo = { remote: true, error: amqpError };
    for (const link of [...this.#links]) link.onConnectionClosed(this.#closeReason);
    this.#links.clear();
    this.emit('disconnected', { error, reconnecting: false, delayMs: undefined });
    if (error !== undefined) this.#emitError(error);
    this.emit('close', this.#closeInfo);
  }

  async #doClose(error: AmqpErrorInit | undefined): Promise<void> {
    const previous = this.#state;
    this.#state = 'closing';
    if (this.#reconnectTimer !== undefined && this.#init.kind === 'outbound') {
      this.#init.reconnect.clock.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = undefined;
    }
    const reason = new ConnectionClosedError('connection closed by the application');
    this.#closeReason = reason;
    for (const link of [...this.#links]) link.onConnectionClosed(reason);
    this.#links.clear();
    const conn = this.#rhea;
    if (conn !== undefined && previous !== 'reconnecting') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DEFAULT_CLOSE_TIMEOUT_MS);
        timer.unref?.();
        this.#closeWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
        conn.close(toRheaError(error) as Parameters<RheaConnection['close']>[0]);
      });
      this.#closeWaiter = undefined;
      destroyLater(conn);
    } else if (conn !== undefined) {
      destroy(conn);
    }
    this.#rhea = undefined;
    this.#state = 'closed';
    const local =
      error === undefined
        ? undefined
        : new ConnectionError(error.condition, error.description, { info: error.info });
    this.#closeInfo = { remote: false, error: local };
    this.emit('close', this.#closeInfo);
  }

  #onIncomingLink(conn: RheaConnection, link: RheaSender | RheaReceiver, role: 'sender' | 'receiver'): void {
    if (conn !== this.#rhea) return;
    const incoming = new IncomingLink(link, role, this.#host, (managed) => this.#links.add(managed));
    if (this.listenerCount('incomingLink') === 0) {
      incoming.refuse({ condition: 'amqp:not-found', description: 'no link handler for this address' });
      return;
    }
    this.emit('incomingLink', incoming);
    incoming.afterAnnounce();
  }

  #emitError(error: unknown): void {
    if (this.listenerCount('error') > 0)
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  #readPeer(conn: RheaConnection | undefined): PeerInfo {
    const open = conn?.remote.open;
    // A server offering ANONYMOUS wraps its SASL layer in a selector (SASL or plain AMQP): look inside.
    const transport = conn?.sasl_transport as { selected?: unknown } | undefined;
    const sasl = (transport?.selected ?? transport) as
      | { username?: string; mechanism?: { username?: string; constructor?: { name?: string } } }
      | undefined;
    let user = sasl?.username ?? sasl?.mechanism?.username;
    const mechanism = sasl?.mechanism?.constructor?.name;
    if (user === undefined && conn !== undefined && typeof conn.get_peer_certificate === 'function') {
      const subject = conn.get_peer_certificate()?.subject as { CN?: unknown } | undefined;
      if (typeof subject?.CN === 'string') user = subject.CN;
    }
    return {
      remoteAddress: conn?.socket?.remoteAddress,
      remotePort: conn?.socket?.remotePort,
      mechanism: mechanismName(mechanism),
      user,
      containerId: typeof open?.container_id === 'string' ? open.container_id : undefined,
      hostname: typeof open?.hostname === 'string' ? open.hostname : undefined,
      properties:
        open?.properties !== undefined && open.properties !== null
          ? (open.properties as Record<string, unknown>)
          : undefined,
    };
  }
}

function mechanismName(constructorName: string | undefined): string | undefined {
  switch (constructorName) {
    case 'PlainServer':
    case 'PlainClient':
      return 'PLAIN';
    case 'AnonymousServer':
    case 'AnonymousClient':
      return 'ANONYMOUS';
    case 'ExternalServer':
    case 'ExternalClient':
      return 'EXTERNAL';
    default:
      return undefined;
  }
}

function toConnectionError(raw: unknown, conn: RheaConnection): Error {
  const e = (raw ?? {}) as { condition?: unknown; description?: unknown; message?: unknown };
  const condition = typeof e.condition === 'string' ? e.condition : undefined;
  const description =
    typeof e.description === 'string' ? e.description : typeof e.message === 'string' ? e.message : undefined;
  // SASL failures surface before any open frame; rhea reports them with amqp:unauthorized-access.
  if (condition === 'amqp:unauthorized-access' && conn.remote.open === undefined)
    return new SaslError(description);
  if (condition !== undefined) return new ConnectionError(condition, description);
  return raw instanceof Error ? raw : new ConnectionError('amqp:internal-error', description);
}

function destroy(conn: RheaConnection): void {
  conn.removeAllListeners();
  conn.on('error', () => {});
  conn.on('disconnected', () => {});
  try {
    conn.socket?.destroy();
  } catch {
    // already gone
  }
}

/** Lets rhea finish writing (a close frame) before the socket is torn down. */
function destroyLater(conn: RheaConnection): void {
  conn.removeAllListeners();
  conn.on('error', () => {});
  conn.on('disconnected', () => {});
  const timer = setTimeout(() => {
    try {
      conn.socket?.destroy();
    } catch {
      // already gone
    }
  }, 1000);
  timer.unref?.();
}

// ---------------------------------------------------------------------------
// connect()
// ---------------------------------------------------------------------------

/**
 * Opens an outbound AMQP connection: `connect('amqp://user:pass@host:5672')`, `connect({ host, port, … })`, or
 * both (the options override the URL). Resolves once the peer's open frame arrived; rejects with
 * `SaslError`, `ConnectionError`, `ConnectionClosedError` (network) or `TimeoutError`.
 */
export async function connect(
  target: string | ConnectOptions,
  options: ConnectOptions = {},
): Promise<AmqpConnection> {
  const merged: ConnectOptions =
    typeof target === 'string' ? { ...options, url: target } : { ...target, ...options };
  const container = rhea.create_container({ id: merged.containerId ?? randomUUID() }) as RheaContainer;
  container.on('error', () => {});
  const connection = new AmqpConnection({
    kind: 'outbound',
    container,
    rheaOptions: buildRheaOptions(merged),
    reconnect: resolveReconnectOptions(merged.reconnect),
    connectTimeoutMs: merged.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  });
  await connection.start(merged.signal);
  return connection;
}

/** @internal Exported for tests. */
export function buildRheaOptions(o: ConnectOptions): Record<string, unknown> {
  let host = o.host;
  let port = o.port;
  let transport = o.transport;
  let username: string | undefined;
  let password: string | undefined;
  let vhost: string | undefined;
  if (o.url !== undefined) {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new InvalidArgumentError(`invalid AMQP URL '${o.url}'`);
    }
    if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
      throw new InvalidArgumentError(`unsupported URL scheme '${url.protocol}' (use amqp: or amqps:)`);
    }
    transport ??= url.protocol === 'amqps:' ? 'tls' : 'tcp';
    host ??= url.hostname.replace(/^\[|\]$/g, '');
    port ??= url.port !== '' ? Number(url.port) : transport === 'tls' ? 5671 : 5672;
    if (url.username !== '') username = decodeURIComponent(url.username);
    if (url.password !== '') password = decodeURIComponent(url.password);
    if (url.pathname.length > 1) vhost = decodeURIComponent(url.pathname.slice(1));
  }
  transport ??= 'tcp';
  host ??= 'localhost';
  port ??= transport === 'tls' ? 5671 : 5672;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`invalid port ${port}`);
  const out: Record<string, unknown> = {
    ...(transport === 'tls' ? (o.tls ?? {}) : {}),
    host,
    port,
    transport,
    hostname: o.hostname ?? vhost ?? host,
    reconnect: false,
    // Acknowledgements and flow frames are small and latency-bound: never let Nagle hold them back.
    tcp_no_delay: true,
    idle_time_out: o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    ...RHEA_LINK_DEFAULTS,
  };
  if (transport === 'tls' && out.servername === undefined) out.servername = host;
  if (o.containerId !== undefined) out.container_id = o.containerId;
  out.max_frame_size = maxFrameSizeOf(o.maxFrameSize);
  if (o.channelMax !== undefined) out.channel_max = o.channelMax;
  if (o.properties !== undefined) out.properties = o.properties;
  if (o.offeredCapabilities !== undefined) out.offered_capabilities = [...o.offeredCapabilities];
  if (o.desiredCapabilities !== undefined) out.desired_capabilities = [...o.desiredCapabilities];
  if (out.idle_time_out === 0) delete out.idle_time_out;
  const inProcess = o.inProcess;
  if (inProcess !== undefined) {
    // Same frames, through memory: no socket options, no TLS, and no heartbeats (no network to fail).
    out.connection_details = () => ({
      host: inProcess.name,
      port: 0,
      connect: (_port: number, _host: string, _options: unknown, onConnect: () => void) =>
        inProcess.dial(onConnect),
    });
    out.transport = 'in-process';
    delete out.idle_time_out;
    delete out.tcp_no_delay;
  }
  const sasl =
    o.sasl ??
    (username !== undefined
      ? { mechanism: 'PLAIN' as const, username, password: password ?? '' }
      : { mechanism: 'ANONYMOUS' as const });
  switch (sasl.mechanism) {
    case 'ANONYMOUS':
      out.username = sasl.identity ?? 'anonymous';
      break;
    case 'PLAIN':
      out.username = sasl.username;
      out.password = sasl.password;
      break;
    case 'EXTERNAL':
      if (transport !== 'tls' || inProcess !== undefined)
        throw new InvalidArgumentError('SASL EXTERNAL needs amqps (a TLS client certificate)');
      if (sasl.authzid !== undefined) {
        if (sasl.authzid.includes('\u0000'))
          throw new InvalidArgumentError('SASL EXTERNAL authzid must not contain NUL');
        // rhea's own EXTERNAL client always sends an empty response: ours carries the authorization identity.
        out.sasl_mechanisms = { EXTERNAL: () => externalClient(sasl.authzid ?? '') };
      } else {
        out.enable_sasl_external = true;
      }
      break;
    case 'none':
      break;
    default:
      throw new InvalidArgumentError(
        `unsupported SASL mechanism '${(sasl as { mechanism: unknown }).mechanism}'`,
      );
  }
  return out;
}

/** A rhea SASL client mechanism for EXTERNAL whose initial response is `authzid` (RFC 4422, appendix A). */
function externalClient(authzid: string): {
  start(callback: (error: unknown, response: Buffer) => void): void;
  step(challenge: unknown, callback: (error: unknown, response: Buffer) => void): void;
} {
  return {
    start: (callback) => callback(undefined, Buffer.from(authzid, 'utf8')),
    step: (_challenge, callback) => callback(undefined, Buffer.alloc(0)),
  };
}

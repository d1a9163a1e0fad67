import type { AmqpConnection, ConnectOptions, SaslOptions } from '@dragoman/amqp';
import { connect } from '@dragoman/amqp';
import { ConnectionLoss } from './connection-loss';
import { LinkNames } from './link-names';
import { SharedSender } from './shared-sender';
import type { CredentialsMode } from './types';

/** What a client asks of the AMQP side when it connects. */
export interface LeaseRequest {
  readonly clientId: string;
  /** MQTT CONNECT user name (the client's identity) and password, for `credentials: 'client' | 'client-identity'`. */
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  /** Keep-alive in force for the client, seconds (0: none). */
  readonly keepAliveSeconds: number;
  readonly signal: AbortSignal;
}

/**
 * One client's use of an AMQP connection: the connection, the link-name registry of that connection, and
 * a way to give it back. `loss` fires when the connection goes away under the client.
 */
export interface AmqpLease {
  readonly connection: AmqpConnection;
  readonly names: LinkNames;
  /** Fires when the AMQP connection is lost (not when the lease is released); shared by its clients. */
  readonly loss: ConnectionLoss;
  /** The connection's link to the Subscription service, shared by every client on the connection. */
  readonly requests: SharedSender;
  /** Gives the connection back: a per-client connection is closed, a pooled one stays for others. */
  release(): Promise<void>;
}

/** The links a connection's clients share. */
export interface SharedLinkOptions {
  /** The Subscription service's address. */
  readonly subscriptionService: string;
  readonly attachTimeoutMs: number;
}

/** Hands out AMQP connections to clients: pooled or one per client. */
export interface ConnectionProvider {
  acquire(request: LeaseRequest): Promise<AmqpLease>;
  /** Open AMQP connections. */
  readonly size: number;
  close(): Promise<void>;
}

interface PoolSlot {
  connecting: Promise<AmqpConnection> | undefined;
  connection: AmqpConnection | undefined;
  names: LinkNames;
  requests: SharedSender | undefined;
  clients: number;
  loss: ConnectionLoss;
}

/**
 * A few shared connections, opened lazily and filled least-loaded first. A connection that drops is not
 * re-used: its clients are ended (their `loss` fires) and the next client opens a fresh one, so
 * no client ever runs on links that silently re-attached without its will and session set-up.
 */
export class ConnectionPool implements ConnectionProvider {
  private readonly slots: PoolSlot[];
  private closed = false;

  constructor(
    private readonly options: ConnectOptions,
    size: number,
    private readonly shared: SharedLinkOptions,
  ) {
    this.slots = Array.from({ length: size }, () => freshSlot());
  }

  get size(): number {
    return this.slots.filter((slot) => slot.connection?.isOpen === true).length;
  }

  async acquire(_request: LeaseRequest): Promise<AmqpLease> {
    if (this.closed) throw new Error('the connection pool is closed');
    // Least loaded first; among equals, one already open.
    const slot = [...this.slots].sort(
      (a, b) =>
        a.clients - b.clients || Number(b.connection !== undefined) - Number(a.connection !== undefined),
    )[0] as PoolSlot;
    slot.clients++;
    let connection: AmqpConnection;
    try {
      // Shared by clients to come: not tied to this client's signal (the caller bounds its own wait).
      connection = await this.open(slot);
    } catch (error) {
      slot.clients--;
      throw error;
    }
    const requests = slot.requests;
    // The connection went away while we waited for it (the slot starts over): the client gets none.
    if (slot.connection !== connection || requests === undefined) throw new Error('AMQP connection lost');
    return new PooledLease(slot, connection, requests);
  }

  async close(): Promise<void> {
    this.closed = true;
    const closing = this.slots.map(async (slot) => {
      const connection = slot.connection ?? (await slot.connecting?.catch(() => undefined));
      await connection?.close().catch(() => {});
    });
    await Promise.all(closing);
  }

  private open(slot: PoolSlot): Promise<AmqpConnection> {
    if (slot.connection?.isOpen === true) return Promise.resolve(slot.connection);
    if (slot.connecting !== undefined) return slot.connecting;
    const connecting = connect({ ...this.options, reconnect: false }).then(
      (connection) => {
        slot.connecting = undefined;
        if (this.closed) {
          void connection.close();
          throw new Error('the connection pool is closed');
        }
        slot.connection = connection;
        slot.requests = sharedRequests(connection, slot.names, this.shared);
        const onGone = (): void => {
          if (slot.connection !== connection) return;
          // Clients on it are ended; the slot starts over for the next client.
          const loss = slot.loss;
          Object.assign(slot, freshSlot());
          loss.fire();
        };
        connection.once('disconnected', onGone);
        connection.once('close', onGone);
        return connection;
      },
      (error: unknown) => {
        slot.connecting = undefined;
        throw error;
      },
    );
    slot.connecting = connecting;
    return connecting;
  }
}

function freshSlot(): PoolSlot {
  return {
    connecting: undefined,
    connection: undefined,
    names: new LinkNames(),
    requests: undefined,
    clients: 0,
    loss: new ConnectionLoss(),
  };
}

/** A client's share of a pooled connection (a class: one per client, its `release` on the prototype). */
class PooledLease implements AmqpLease {
  readonly names: LinkNames;
  readonly loss: ConnectionLoss;
  #released = false;

  constructor(
    private readonly slot: PoolSlot,
    readonly connection: AmqpConnection,
    readonly requests: SharedSender,
  ) {
    this.names = slot.names;
    this.loss = slot.loss;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    // A slot that started over (its connection lost) counts its new clients only.
    if (this.slot.loss === this.loss) this.slot.clients--;
  }
}

function sharedRequests(
  connection: AmqpConnection,
  names: LinkNames,
  shared: SharedLinkOptions,
): SharedSender {
  return new SharedSender({
    connection,
    names,
    address: shared.subscriptionService,
    purpose: 'subscriptions',
    attachTimeoutMs: shared.attachTimeoutMs,
  });
}

/**
 * One connection per client, opened at CONNECT with the client's keep-alive as its idle time-out and, for
 * `credentials: 'client'`, the client's user name and password as SASL PLAIN; for `'client-identity'`, SASL
 * EXTERNAL (the connect options' certificate) acting as the client's identity.
 */
export class PerClientConnections implements ConnectionProvider {
  private readonly open = new Set<AmqpConnection>();
  private closed = false;

  constructor(
    private readonly options: ConnectOptions,
    private readonly credentials: CredentialsMode,
    private readonly shared: SharedLinkOptions,
  ) {}

  get size(): number {
    return this.open.size;
  }

  async acquire(request: LeaseRequest): Promise<AmqpLease> {
    if (this.closed) throw new Error('the gateway is closed');
    const options: ConnectOptions = {
      ...this.options,
      reconnect: false,
      signal: request.signal,
      idleTimeoutMs: request.keepAliveSeconds * 1000,
      ...this.saslFor(request),
    };
    const connection = await connect(options);
    this.open.add(connection);
    const loss = new ConnectionLoss();
    let released = false;
    const onGone = (): void => {
      this.open.delete(connection);
      if (!released) loss.fire();
    };
    connection.once('disconnected', onGone);
    connection.once('close', onGone);
    const names = new LinkNames();
    return {
      connection,
      names,
      loss,
      requests: sharedRequests(connection, names, this.shared),
      release: async () => {
        if (released) return;
        released = true;
        this.open.delete(connection);
        await connection.close().catch(() => {});
      },
    };
  }

  private saslFor(request: LeaseRequest): { sasl?: SaslOptions } {
    switch (this.credentials) {
      case 'client':
        return {
          sasl: {
            mechanism: 'PLAIN',
            username: request.username ?? '',
            password: request.password?.toString('utf8') ?? '',
          },
        };
      case 'client-identity':
        return { sasl: { mechanism: 'EXTERNAL', authzid: request.username ?? '' } };
      default:
        return {};
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.open].map((c) => c.close().catch(() => {})));
    this.open.clear();
  }
}

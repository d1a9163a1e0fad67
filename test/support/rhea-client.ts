import rhea, { type Connection, type Message, type Session } from 'rhea';
import { withTimeout } from './wait';

/**
 * Promise helpers around rhea used directly, as an AMQP 1.0 client that others wrote:
 * the reference that shows what a peer does independently of @dragoman/amqp.
 */

export interface RheaConnectOptions {
  port: number;
  host?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

export type RheaOutcome = 'accepted' | 'rejected' | 'released' | 'modified';

export interface RheaEndpointError {
  condition: string;
  description: string;
}

export async function rheaConnect(options: RheaConnectOptions): Promise<Connection> {
  const container = rhea.create_container({ id: `dragoman-rhea-${process.pid}` });
  const connection = container.connect({
    host: options.host ?? '127.0.0.1',
    port: options.port,
    username: options.username,
    password: options.password,
    reconnect: false,
  });
  // rhea throws unhandled endpoint errors from its emitter: record them on the endpoint instead.
  connection.on('error', () => {});
  container.on('error', () => {});
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      connection.once('connection_open', () => resolve());
      connection.once('disconnected', (context) =>
        reject(new Error(`disconnected: ${context.error?.message}`)),
      );
    }),
    options.timeoutMs ?? 10_000,
    `rhea connection to ${options.port} to open`,
  );
  return connection;
}

export async function rheaClose(connection: Connection): Promise<void> {
  if (!connection.is_open()) {
    connection.socket?.destroy();
    return;
  }
  const closed = new Promise<void>((resolve) => {
    connection.once('connection_close', () => resolve());
    connection.once('disconnected', () => resolve());
  });
  connection.close();
  await withTimeout(closed, 10_000, 'rhea connection to close');
}

function endpointError(error: unknown): RheaEndpointError {
  const value = (error ?? {}) as { condition?: unknown; description?: unknown };
  return { condition: String(value.condition ?? ''), description: String(value.description ?? '') };
}

export interface RheaSendResult {
  /** Outcome per message, in send order (at-least-once sends). */
  outcomes: RheaOutcome[];
  /** Set when the peer ended the session or detached the link with an error instead. */
  error?: RheaEndpointError;
  /** Set when the connection went away before all outcomes arrived. */
  disconnected?: boolean;
}

/**
 * Sends `bodies` on a new session and link to `address` (unsettled, i.e. at-least-once) and waits
 * for every outcome, or for the session/link/connection to fail. Each step gets its own session
 * because RabbitMQ 3.10 answers some refusals by ending the whole session.
 */
export function rheaSend(
  connection: Connection,
  address: string,
  bodies: readonly unknown[],
  options: { durable?: boolean; target?: Record<string, unknown>; timeoutMs?: number } = {},
): Promise<RheaSendResult> {
  const session: Session = connection.create_session();
  const result: RheaSendResult = { outcomes: [] };
  const outcomes = new Map<number, RheaOutcome>();
  const indexOf = new WeakMap<object, number>();
  const done = new Promise<RheaSendResult>((resolve) => {
    const finish = () => {
      result.outcomes = [...outcomes.entries()].sort(([a], [b]) => a - b).map(([, outcome]) => outcome);
      connection.removeListener('disconnected', onDisconnected);
      resolve(result);
    };
    const onDisconnected = () => {
      result.disconnected = true;
      finish();
    };
    connection.once('disconnected', onDisconnected);
    session.on('session_error', () => {
      result.error = endpointError(session.error);
      finish();
    });
    session.begin();
    const sender = session.attach_sender({ target: { address, ...options.target } });
    sender.on('sender_error', () => {
      result.error = endpointError(sender.error);
      finish();
    });
    let sent = 0;
    sender.on('sendable', () => {
      while (sent < bodies.length && sender.sendable()) {
        const message: Message = { body: bodies[sent], durable: options.durable ?? false };
        indexOf.set(sender.send(message), sent);
        sent++;
      }
    });
    const settle = (outcome: RheaOutcome) => (context: { delivery?: object }) => {
      const index = context.delivery ? indexOf.get(context.delivery) : undefined;
      if (index !== undefined) outcomes.set(index, outcome);
      if (outcomes.size === bodies.length) {
        sender.close();
        session.close();
        finish();
      }
    };
    sender.on('accepted', settle('accepted'));
    sender.on('rejected', settle('rejected'));
    sender.on('released', settle('released'));
    sender.on('modified', settle('modified'));
  });
  return withTimeout(
    done,
    options.timeoutMs ?? 15_000,
    `outcomes for ${bodies.length} message(s) to ${address}`,
  );
}

export interface RheaReceiver {
  /** Bodies received so far, in order. */
  readonly bodies: unknown[];
  /** Resolves when the link is attached (rejects if the peer refuses it). */
  readonly attached: Promise<void>;
  /** Resolves once `count` messages in total have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<unknown[]>;
  close(): Promise<void>;
}

/** Attaches a receiver on a new session; every message is accepted on arrival (credit window 100). */
export function rheaReceive(
  connection: Connection,
  address: string,
  onBody?: (body: unknown) => void,
): RheaReceiver {
  const session = connection.create_session();
  const bodies: unknown[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  session.begin();
  const receiver = session.attach_receiver({ source: { address }, credit_window: 100, autoaccept: true });
  const attached = new Promise<void>((resolve, reject) => {
    receiver.once('receiver_open', () => resolve());
    const refuse = (error: unknown) =>
      reject(Object.assign(new Error(`receiver on ${address} refused`), endpointError(error)));
    receiver.once('receiver_error', () => refuse(receiver.error));
    session.once('session_error', () => refuse(session.error));
  });
  attached.catch(() => {});
  receiver.on('message', (context) => {
    bodies.push(context.message?.body);
    onBody?.(context.message?.body);
    for (const waiter of waiters.filter((w) => bodies.length >= w.count)) waiter.resolve();
  });
  return {
    bodies,
    attached,
    waitFor(count, timeoutMs = 15_000) {
      if (bodies.length >= count) return Promise.resolve(bodies);
      return withTimeout(
        new Promise<unknown[]>((resolve) => waiters.push({ count, resolve: () => resolve(bodies) })),
        timeoutMs,
        `${count} message(s) on ${address} (have ${bodies.length})`,
      );
    },
    async close() {
      if (!receiver.is_open()) return;
      const closed = new Promise<void>((resolve) => receiver.once('receiver_close', () => resolve()));
      receiver.close();
      await withTimeout(closed, 10_000, `receiver on ${address} to close`);
      session.close();
    },
  };
}

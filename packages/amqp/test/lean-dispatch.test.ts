// rhea's link events through the replaced dispatch, rhea talking to rhea: listeners on the link (one or
// several), events bubbling to the container when the link has none, and rhea's own observers (auto-accept,
// auto-settle) still acting.
import { afterEach, describe, expect, it } from 'vitest';
import { installLeanLinkDispatch } from '../src/internal/lean-dispatch';
import { rhea, rheaListen } from './helpers';

/** `promise`, or a rejection after 10 s. */
function withTimeout(promise: Promise<void>): Promise<void> {
  const signal = AbortSignal.timeout(10_000);
  return Promise.race([
    promise,
    new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
  ]);
}

/** Closes a rhea client connection and waits for the peer's close. */
function closeConnection(connection: {
  close(): void;
  once(event: string, listener: () => void): void;
}): Promise<void> {
  const closed = new Promise<void>((resolve) => connection.once('connection_close', resolve));
  connection.close();
  return withTimeout(closed);
}

interface Closable {
  close(callback?: () => void): void;
}

describe('lean link dispatch', () => {
  const toClose: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of toClose.splice(0).reverse()) await close();
  });

  /**
   * A rhea listener (`container`, made here unless given) that sends `count` text messages on every sender link
   * a peer attaches; resolves to its port.
   */
  async function rheaSource(
    count: number,
    container = rhea.create_container({ id: 'source' }),
  ): Promise<number> {
    container.on('sendable', (context) => {
      const sender = context.sender as unknown as {
        sent?: number;
        send(m: unknown): unknown;
        sendable(): boolean;
      };
      sender.sent ??= 0;
      while (sender.sent < count && sender.sendable()) sender.send({ body: `m${sender.sent++}` });
    });
    const { server, port } = await rheaListen(container);
    toClose.push(
      () => new Promise<void>((resolve) => (server as unknown as Closable).close(() => resolve())),
    );
    return port;
  }

  it('is installed, and listeners on a link get its events', async () => {
    expect(installLeanLinkDispatch()).toBe(true);
    const port = await rheaSource(3);
    const client = rhea.create_container({ id: 'client' });
    const connection = client.connect({ host: '127.0.0.1', port, reconnect: false });
    toClose.push(() => closeConnection(connection));
    const receiver = connection.open_receiver('q');
    const first: string[] = [];
    const second: string[] = [];
    const allThree = new Promise<void>((resolve) => {
      receiver.on('message', (context) => first.push(String(context.message?.body)));
      receiver.on('message', (context) => {
        second.push(String(context.message?.body));
        if (second.length === 3) resolve();
      });
    });
    await withTimeout(allThree);
    expect(first).toEqual(['m0', 'm1', 'm2']);
    expect(second).toEqual(first);
  });

  it('events a link has no listener for reach the container, and rhea’s auto-accept still settles', async () => {
    installLeanLinkDispatch();
    const accepted: string[] = [];
    const source = rhea.create_container({ id: 'counting-source' });
    const bothAccepted = new Promise<void>((resolve) => {
      source.on('accepted', (context) => {
        accepted.push(String(context.delivery?.id));
        if (accepted.length === 2) resolve();
      });
    });
    const port = await rheaSource(2, source);
    const client = rhea.create_container({ id: 'bubbling-client' });
    const received: string[] = [];
    client.on('message', (context) => received.push(String(context.message?.body)));
    const connection = client.connect({ host: '127.0.0.1', port, reconnect: false });
    toClose.push(() => closeConnection(connection));
    connection.open_receiver({ source: 'q', autoaccept: true });
    await withTimeout(bothAccepted);
    expect(received).toEqual(['m0', 'm1']);
    expect(accepted).toEqual(['0', '1']);
  });
});

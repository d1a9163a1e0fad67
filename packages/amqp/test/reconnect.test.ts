import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpListener,
  Backoff,
  binaryMessage,
  type Clock,
  connect,
  type Delivery,
  DeliveryStateError,
  type DisconnectedInfo,
  type IncomingLink,
  InvalidArgumentError,
  listen,
  payloadOf,
} from '../src/index';
import { waitFor } from './helpers';

describe('Backoff', () => {
  it('grows exponentially up to the cap, with jitter only ever shortening the delay', () => {
    const backoff = new Backoff({
      initialDelayMs: 100,
      maxDelayMs: 1000,
      multiplier: 2,
      jitter: 0.5,
      random: () => 0,
    });
    expect([1, 2, 3, 4, 5, 6].map(() => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    const jittered = new Backoff({
      initialDelayMs: 100,
      maxDelayMs: 1000,
      jitter: 0.5,
      random: () => 0.999999,
    });
    expect(jittered.next()).toBe(50);
    expect(jittered.next()).toBe(100);
    const half = new Backoff({ initialDelayMs: 100, jitter: 1, random: () => 0.5 });
    expect(half.next()).toBe(50);
  });

  it('gives up after maxAttempts and starts over after reset', () => {
    const backoff = new Backoff({ initialDelayMs: 10, maxAttempts: 2, random: () => 0 });
    expect(backoff.next()).toBe(10);
    expect(backoff.next()).toBe(20);
    expect(backoff.next()).toBeUndefined();
    expect(backoff.attempts).toBe(2);
    backoff.reset();
    expect(backoff.next()).toBe(10);
  });

  it('rejects nonsense options', () => {
    expect(() => new Backoff({ initialDelayMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => new Backoff({ initialDelayMs: 100, maxDelayMs: 10 })).toThrow(InvalidArgumentError);
    expect(() => new Backoff({ multiplier: 0.5 })).toThrow(InvalidArgumentError);
    expect(() => new Backoff({ jitter: 2 })).toThrow(InvalidArgumentError);
  });
});

/** A listener on a fixed port that hands out incoming links as they come. */
async function serverOn(
  port: number,
): Promise<{ listener: AmqpListener; nextLink(): Promise<IncomingLink> }> {
  const listener = await listen({ port });
  const links: IncomingLink[] = [];
  const waiters: Array<(l: IncomingLink) => void> = [];
  listener.on('connection', (c) =>
    c.on('incomingLink', (l) => {
      const w = waiters.shift();
      if (w) w(l);
      else links.push(l);
    }),
  );
  return {
    listener,
    nextLink: () => {
      const l = links.shift();
      return l ? Promise.resolve(l) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

describe('reconnect after the listener restarts', () => {
  let client: AmqpConnection | undefined;
  let listener: AmqpListener | undefined;
  afterEach(async () => {
    await client?.close();
    await listener?.close();
    client = undefined;
    listener = undefined;
  });

  it('re-attaches senders and re-sends unsettled at-least-once deliveries; sends made meanwhile wait and go out', async () => {
    let server = await serverOn(0);
    listener = server.listener;
    const port = listener.address().port;
    client = await connect(listener.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    const sender = await client.openSender({ target: 'q', name: 'durable-sender' });
    const receiver1 = (await server.nextLink()).acceptReceiver();

    const unsettled = sender.send(binaryMessage('in flight'));
    const first = (await receiver1.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
    expect(payloadOf(first.message).toString()).toBe('in flight');
    // The listener goes away before settling: the outcome never reaches the client.
    const disconnected = waitFor<[DisconnectedInfo]>(client, 'disconnected');
    await listener.close();
    const [info] = await disconnected;
    expect(info.reconnecting).toBe(true);
    expect(client.state).toBe('reconnecting');
    const meanwhile = sender.send(binaryMessage('while down'));
    expect(sender.queued).toBe(2);

    const reconnected = waitFor(client, 'reconnected');
    server = await serverOn(port);
    listener = server.listener;
    const link = await server.nextLink();
    expect(link.name).toBe('durable-sender');
    expect(link.address).toBe('q');
    const receiver2 = link.acceptReceiver();
    await reconnected;
    const again = (await receiver2.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
    expect(payloadOf(again.message).toString()).toBe('in flight');
    again.accept();
    const next = (await receiver2.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
    expect(payloadOf(next.message).toString()).toBe('while down');
    next.release();
    await expect(unsettled).resolves.toEqual({ state: 'accepted' });
    await expect(meanwhile).resolves.toEqual({ state: 'released' });
    expect(client.state).toBe('open');
  });

  it('re-attaches receivers with their credit; deliveries from before the drop can no longer be settled', async () => {
    let server = await serverOn(0);
    listener = server.listener;
    const port = listener.address().port;
    client = await connect(listener.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    const receiverPromise = client.openReceiver({
      source: 'events',
      name: 'durable-receiver',
      creditWindow: 0,
    });
    const sender1 = (await server.nextLink()).acceptSender();
    const receiver = await receiverPromise;
    receiver.addCredit(3);
    await sender1.whenSendable();
    const sent = sender1.send(binaryMessage('before'));
    const stale = (await receiver.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
    void sent.catch(() => undefined);

    const reconnected = waitFor(client, 'reconnected');
    await listener.close();
    server = await serverOn(port);
    listener = server.listener;
    const link = await server.nextLink();
    expect(link.name).toBe('durable-receiver');
    const sender2 = link.acceptSender();
    await reconnected;
    expect(stale.settleable).toBe(false);
    expect(stale.accept()).toBe(false);
    await expect(stale.whenSettled()).rejects.toBeInstanceOf(DeliveryStateError);
    // The receiver asks again for the credit it held when the connection dropped (3 granted, 1 used).
    await sender2.whenSendable();
    expect(sender2.credit).toBe(2);
    const outcome = sender2.send(binaryMessage('after'));
    const fresh = (await receiver.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
    expect(payloadOf(fresh.message).toString()).toBe('after');
    fresh.accept();
    await expect(outcome).resolves.toEqual({ state: 'accepted' });
  });

  it('recovers from an abrupt network drop (no close frame)', async () => {
    const server = await serverOn(0);
    listener = server.listener;
    const upstream = listener.address().port;
    // A TCP proxy in between whose sockets we cut.
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((down) => {
      const up = net.connect(upstream, '127.0.0.1');
      sockets.add(down);
      sockets.add(up);
      down.pipe(up).pipe(down);
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
      down.on('close', () => up.destroy());
      up.on('close', () => down.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyPort = (proxy.address() as net.AddressInfo).port;
    try {
      client = await connect({ host: '127.0.0.1', port: proxyPort, reconnect: { initialDelayMs: 10 } });
      const sender = await client.openSender({ target: 'q', name: 's' });
      const r1 = (await server.nextLink()).acceptReceiver();
      const inflight = sender.send(binaryMessage('x'));
      await r1.receive({ signal: AbortSignal.timeout(10_000) });
      const reconnected = waitFor(client, 'reconnected');
      for (const s of sockets) s.destroy();
      const r2 = (await server.nextLink()).acceptReceiver();
      await reconnected;
      const again = (await r2.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
      expect(payloadOf(again.message).toString()).toBe('x');
      again.accept();
      await expect(inflight).resolves.toEqual({ state: 'accepted' });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('gives up after maxAttempts and closes, failing queued sends', async () => {
    const server = await serverOn(0);
    listener = server.listener;
    client = await connect(listener.url, { reconnect: { initialDelayMs: 5, maxAttempts: 2 } });
    const sender = await client.openSender('q');
    const receiver = (await server.nextLink()).acceptReceiver({ creditWindow: 0 });
    expect(receiver.isOpen).toBe(true);
    const queued = sender.send(binaryMessage('never'));
    const failed = expect(queued).rejects.toMatchObject({ name: 'ConnectionClosedError' });
    const closed = waitFor(client, 'close');
    await listener.close();
    listener = undefined;
    await closed;
    await failed;
    expect(client.state).toBe('closed');
  });

  it('does not reconnect when the peer closes with an error other than amqp:connection:forced', async () => {
    const server = await serverOn(0);
    listener = server.listener;
    const inbound = waitFor<[AmqpConnection]>(listener, 'connection');
    client = await connect(listener.url, { reconnect: { initialDelayMs: 5 } });
    const [serverSide] = await inbound;
    const disconnected = waitFor<[DisconnectedInfo]>(client, 'disconnected');
    const closed = waitFor(client, 'close');
    await serverSide.close({ condition: 'amqp:unauthorized-access', description: 'revoked' });
    const [info] = await disconnected;
    expect(info.reconnecting).toBe(false);
    expect(info.error).toMatchObject({ condition: 'amqp:unauthorized-access' });
    await closed;
    expect(client.state).toBe('closed');
  });

  it('uses the injected clock for its delays', async () => {
    const server = await serverOn(0);
    listener = server.listener;
    const delays: number[] = [];
    const clock: Clock = {
      setTimeout: (callback, ms) => {
        delays.push(ms);
        return setTimeout(callback, 0);
      },
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    client = await connect(listener.url, {
      reconnect: { initialDelayMs: 1000, maxDelayMs: 8000, jitter: 0, maxAttempts: 3, clock },
    });
    const closed = waitFor(client, 'close');
    await listener.close();
    listener = undefined;
    await closed;
    expect(delays).toEqual([1000, 2000, 4000]);
  });
});

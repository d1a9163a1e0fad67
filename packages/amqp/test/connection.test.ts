import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpListener,
  binaryMessage,
  type CloseInfo,
  ConnectionClosedError,
  connect,
  type Delivery,
  type IncomingLink,
  InvalidArgumentError,
  listen,
  TimeoutError,
} from '../src/index';
import { waitFor } from './helpers';

let listener: AmqpListener | undefined;
const clients: AmqpConnection[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await listener?.close();
  listener = undefined;
});

describe('listener', () => {
  it('reports its url and address, tracks connections and tells who connected', async () => {
    listener = await listen({ containerId: 'our-listener', properties: { product: 'dragoman-test' } });
    expect(listener.url).toBe(`amqp://127.0.0.1:${listener.address().port}`);
    const inbound = waitFor<[AmqpConnection]>(listener, 'connection');
    const client = await connect(listener.url, {
      reconnect: false,
      containerId: 'client-1',
      properties: { role: 'test' },
    });
    clients.push(client);
    const [server] = await inbound;
    expect(server.inbound).toBe(true);
    expect(client.inbound).toBe(false);
    expect(server.peer.containerId).toBe('client-1');
    expect(server.peer.properties).toEqual({ role: 'test' });
    expect(server.peer.mechanism).toBe('ANONYMOUS');
    expect(client.peer.containerId).toBe('our-listener');
    expect(client.peer.properties).toEqual({ product: 'dragoman-test' });
    expect(listener.connections.has(server)).toBe(true);
    const closed = waitFor(server, 'close');
    await client.close();
    await closed;
    expect(listener.connections.size).toBe(0);
  });

  it('closes connections beyond maxConnections at once', async () => {
    listener = await listen({ maxConnections: 1 });
    clients.push(await connect(listener.url, { reconnect: false }));
    await expect(connect(listener.url, { reconnect: false, connectTimeoutMs: 5000 })).rejects.toBeInstanceOf(
      ConnectionClosedError,
    );
  });

  it('opens links towards the client from the listener side too', async () => {
    listener = await listen();
    const inbound = waitFor<[AmqpConnection]>(listener, 'connection');
    const client = await connect(listener.url, { reconnect: false });
    clients.push(client);
    const [server] = await inbound;
    const incoming = waitFor<[IncomingLink]>(client, 'incomingLink');
    const senderPromise = server.openSender({ target: 'device/commands', name: 'cmd' });
    const [link] = await incoming;
    expect(link.name).toBe('cmd');
    expect(link.address).toBe('device/commands');
    const receiver = link.acceptReceiver();
    const sender = await senderPromise;
    const outcome = sender.send(binaryMessage('reboot'));
    const delivery = (await receiver.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
    delivery.accept();
    await expect(outcome).resolves.toEqual({ state: 'accepted' });
  });
});

describe('connect', () => {
  it('times out against a peer that never speaks AMQP', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const sockets = new Set<net.Socket>();
    silent.on('connection', (s) => sockets.add(s));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      await expect(connect({ host: '127.0.0.1', port, connectTimeoutMs: 200 })).rejects.toBeInstanceOf(
        TimeoutError,
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('fails fast when nothing listens (no retry on the first connect)', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    await expect(connect({ host: '127.0.0.1', port })).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('rejects bad URLs and options with InvalidArgumentError', async () => {
    await expect(connect('http://example.com')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect('not a url')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect({ host: '127.0.0.1', port: 70000 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect({ host: '127.0.0.1', port: 1, reconnect: { jitter: 3 } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('an aborted signal stops the connect', async () => {
    listener = await listen();
    await expect(connect(listener.url, { signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow(
      'stop',
    );
  });

  it('openSender while reconnecting attaches once the connection is back', async () => {
    listener = await listen();
    const port = listener.address().port;
    const client = await connect(listener.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    clients.push(client);
    const disconnected = waitFor(client, 'disconnected');
    await listener.close();
    await disconnected;
    const opening = client.openSender({ target: 'later', name: 'late-sender' });
    listener = await listen({ port });
    const incoming = new Promise<IncomingLink>((resolve) =>
      listener?.on('connection', (c) => c.on('incomingLink', resolve)),
    );
    const link = await incoming;
    expect(link.name).toBe('late-sender');
    link.acceptReceiver();
    const sender = await opening;
    expect(sender.isOpen).toBe(true);
  });

  it('closing a connection that is reconnecting stops the attempts and fails pending opens', async () => {
    listener = await listen();
    const client = await connect(listener.url, { reconnect: { initialDelayMs: 50 } });
    const disconnected = waitFor(client, 'disconnected');
    await listener.close();
    listener = undefined;
    await disconnected;
    const opening = client.openSender('never');
    const failed = expect(opening).rejects.toBeInstanceOf(ConnectionClosedError);
    const closed = waitFor<[CloseInfo]>(client, 'close');
    await client.close();
    await failed;
    const [info] = await closed;
    expect(info.remote).toBe(false);
    expect(client.state).toBe('closed');
  });
});

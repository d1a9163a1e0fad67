// The in-process transport: connect({ inProcess }) reaches the listener given the same transport through
// memory, with the same AMQP (SASL, open, links, transfers, outcomes) as over TCP; rhea's own client can use it
// too (its connection_details hook), and the TCP port stays open beside it.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpListener,
  binaryMessage,
  ConnectionClosedError,
  connect,
  createInProcessTransport,
  type Delivery,
  type IncomingLink,
  InvalidArgumentError,
  listen,
  payloadOf,
  SaslError,
} from '../src/index';
import { PipeEnd } from '../src/internal/memory-pipe';
import { type Rhea, rhea, waitFor } from './helpers';

let listener: AmqpListener | undefined;
const clients: AmqpConnection[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await listener?.close();
  listener = undefined;
});

/** Accepts every peer receiver on `address` and answers each delivery the peer's sender makes with accept. */
function acceptingEcho(connection: AmqpConnection, received: string[]): void {
  connection.on('incomingLink', (link: IncomingLink) => {
    if (link.role === 'receiver') {
      const receiver = link.acceptReceiver({ creditWindow: 10 });
      receiver.on('delivery', (delivery: Delivery) => {
        received.push(Buffer.from(payloadOf(delivery.message) as Uint8Array).toString());
        delivery.accept();
      });
    } else link.refuse({ condition: 'amqp:not-allowed' });
  });
}

describe('in-process transport', () => {
  it('carries links, transfers and outcomes between connect() and listen() through memory', async () => {
    const transport = createInProcessTransport('test');
    listener = await listen({ inProcess: transport, containerId: 'backend' });
    const received: string[] = [];
    listener.on('connection', (c) => acceptingEcho(c, received));
    const client = await connect({ inProcess: transport, containerId: 'bridge', reconnect: false });
    clients.push(client);
    expect(client.peer.containerId).toBe('backend');
    const sender = await client.openSender('topic/a');
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, i) => sender.send(binaryMessage(`m${i}`))),
    );
    expect(outcomes.every((o) => o.state === 'accepted')).toBe(true);
    expect(received).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    expect(transport.bound).toBe(true);
  });

  it('keeps the TCP port open beside it', async () => {
    const transport = createInProcessTransport();
    listener = await listen({ inProcess: transport });
    const received: string[] = [];
    listener.on('connection', (c) => acceptingEcho(c, received));
    const overTcp = await connect(listener.url, { reconnect: false });
    clients.push(overTcp);
    const inMemory = await connect({ inProcess: transport, reconnect: false });
    clients.push(inMemory);
    await (await overTcp.openSender('t')).send(binaryMessage('tcp'));
    await (await inMemory.openSender('t')).send(binaryMessage('memory'));
    expect(received.sort()).toEqual(['memory', 'tcp']);
    expect(listener.connections.size).toBe(2);
  });

  it('serves a rhea client that dials it through connection_details', async () => {
    const transport = createInProcessTransport();
    listener = await listen({ inProcess: transport });
    const received: string[] = [];
    listener.on('connection', (c) => acceptingEcho(c, received));
    const container = rhea.create_container({ id: 'rhea-client' });
    const connection = container.connect({
      reconnect: false,
      connection_details: () => ({
        host: 'in-process',
        port: 0,
        connect: (_port: number, _host: string, _options: unknown, onConnect: () => void) =>
          transport.dial(onConnect),
      }),
    } as unknown as Parameters<Rhea['connect']>[0]);
    try {
      const sender = connection.open_sender('from-rhea');
      await waitFor(sender, 'sendable');
      sender.send({ body: rhea.message.data_section(Buffer.from('hello')) });
      await waitFor(sender, 'accepted');
      expect(received).toEqual(['hello']);
    } finally {
      connection.close();
      await waitFor(connection, 'connection_close');
    }
  });

  it('checks SASL PLAIN as over TCP', async () => {
    const transport = createInProcessTransport();
    listener = await listen({
      inProcess: transport,
      sasl: { authenticate: ({ username, password }) => username === 'u' && password === 'p' },
    });
    const good = await connect({
      inProcess: transport,
      reconnect: false,
      sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' },
    });
    clients.push(good);
    expect(good.isOpen).toBe(true);
    await expect(
      connect({
        inProcess: transport,
        reconnect: false,
        sasl: { mechanism: 'PLAIN', username: 'u', password: 'x' },
      }),
    ).rejects.toBeInstanceOf(SaslError);
  });

  it('refuses to connect when no listener is bound, and after the listener closed', async () => {
    const transport = createInProcessTransport();
    await expect(connect({ inProcess: transport, reconnect: false })).rejects.toBeInstanceOf(
      ConnectionClosedError,
    );
    const closing = await listen({ inProcess: transport });
    const client = await connect({ inProcess: transport, reconnect: false });
    const gone = waitFor(client, 'close');
    await closing.close();
    await gone;
    expect(transport.bound).toBe(false);
    await expect(connect({ inProcess: transport, reconnect: false })).rejects.toBeInstanceOf(
      ConnectionClosedError,
    );
  });

  it('allows one listener per transport', async () => {
    const transport = createInProcessTransport();
    listener = await listen({ inProcess: transport });
    await expect(listen({ inProcess: transport })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('counts in-process connections towards maxConnections', async () => {
    const transport = createInProcessTransport();
    listener = await listen({ inProcess: transport, maxConnections: 1 });
    clients.push(await connect({ inProcess: transport, reconnect: false }));
    await expect(
      connect({ inProcess: transport, reconnect: false, connectTimeoutMs: 5000 }),
    ).rejects.toBeInstanceOf(ConnectionClosedError);
  });
});

describe('PipeEnd', () => {
  it('delivers what one turn wrote as one chunk, in order, then end and close', async () => {
    const [a, b] = PipeEnd.pair('p');
    const chunks: Buffer[] = [];
    b.on('data', (chunk: Buffer) => chunks.push(chunk));
    a.write(Buffer.from('ab'));
    a.write(new Uint8Array([0x63]));
    a.write('d');
    await waitFor(b, 'data');
    a.write(Buffer.from('e'));
    a.end();
    expect(a.write(Buffer.from('ignored'))).toBe(false);
    const ended = waitFor(b, 'end');
    const closed = waitFor(b, 'close');
    await ended;
    await closed;
    expect(chunks.map((c) => c.toString())).toEqual(['abcd', 'e']);
    expect(b.writable).toBe(false);
  });

  it('copies what writeCopy is given, so the writer may reuse its buffer at once', async () => {
    const [a, b] = PipeEnd.pair('p');
    const scratch = Buffer.from('frame-1');
    a.writeCopy(scratch);
    scratch.write('FRAME-2');
    a.writeCopy(scratch);
    scratch.fill(0);
    const [chunk] = await waitFor<[Buffer]>(b, 'data');
    expect(chunk.toString()).toBe('frame-1FRAME-2');
  });

  it("keeps a turn's writes in order as its buffer grows and beside large writes, as one chunk", async () => {
    const [a, b] = PipeEnd.pair('p');
    const expected: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      // Small writes of growing size make the turn buffer grow; every 50th is larger than the pipe copies.
      const bytes = Buffer.alloc(i % 50 === 49 ? 5000 : 1 + (i % 97), i & 0xff);
      expected.push(bytes);
      if (i % 2 === 0) a.write(bytes);
      else a.writeCopy(bytes);
    }
    const [chunk] = await waitFor<[Buffer]>(b, 'data');
    expect(chunk.equals(Buffer.concat(expected))).toBe(true);
    // What was delivered stays as it was while the end writes on into its reused turn buffer.
    const copy = Buffer.from(chunk);
    for (let i = 0; i < 100; i++) a.write(Buffer.alloc(60, 0xee));
    await waitFor(b, 'data');
    expect(chunk.equals(copy)).toBe(true);
  });

  it('delivers in the check phase; what a peer writes while receiving goes out on the next turn', async () => {
    const [a, b] = PipeEnd.pair('p');
    const [c, d] = PipeEnd.pair('q');
    const events: string[] = [];
    b.on('data', (chunk: Buffer) => {
      events.push(`b:${chunk}`);
      if (chunk.toString() === 'ping') b.write('pong');
    });
    d.on('data', (chunk: Buffer) => events.push(`d:${chunk}`));
    a.on('data', (chunk: Buffer) => events.push(`a:${chunk}`));
    a.write('ping');
    c.write('other');
    setImmediate(() => events.push('same turn'));
    await waitFor(a, 'data');
    expect(events).toEqual(['b:ping', 'd:other', 'same turn', 'a:pong']);
  });

  it('destroy drops what is pending and closes the other end too', async () => {
    const [a, b] = PipeEnd.pair('p');
    let data = 0;
    b.on('data', () => data++);
    a.write(Buffer.from('lost'));
    const ended = waitFor(b, 'end');
    const error = waitFor<[Error]>(a, 'error');
    a.destroy(new Error('boom'));
    expect((await error)[0].message).toBe('boom');
    await ended;
    expect(data).toBe(0);
    expect(b.write(Buffer.from('x'))).toBe(false);
  });
});

// Interoperability with rhea used directly (a peer we did not write): rhea as the listener our client connects
// to, and rhea as the client connecting to our listener.
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpListener,
  binaryMessage,
  type CloseInfo,
  connect,
  type Delivery,
  type IncomingLink,
  LinkError,
  listen,
  payloadOf,
  SaslError,
  valueMessage,
} from '../src/index';
import { bodyText, closedAfterEach, type Rhea, rhea, rheaListen, waitFor } from './helpers';

interface RheaDelivery {
  accept(): void;
  reject(error?: { condition: string; description?: string }): void;
  release(params?: Record<string, unknown>): void;
  modified(params?: Record<string, unknown>): void;
  remote_settled: boolean;
}
interface RheaContext {
  message?: { body?: unknown; application_properties?: Record<string, unknown>; subject?: string };
  delivery?: RheaDelivery & { remote_state?: { error?: { condition?: string } } };
  receiver?: { close(error?: unknown): void; add_credit(n: number): void };
  sender?: { send(message: unknown): unknown; sendable(): boolean; close(error?: unknown): void };
  connection?: { close(): void };
}

describe('our client against a rhea listener', () => {
  const track = closedAfterEach();

  /** A rhea container that settles each message according to its text body. */
  async function rheaBroker(): Promise<{ port: number; container: ReturnType<Rhea['create_container']> }> {
    const container = rhea.create_container({ id: 'rhea-peer' });
    container.on('receiver_open', (context: RheaContext) => {
      if (
        (context as { receiver?: { target?: { address?: string } } }).receiver?.target?.address ===
        'forbidden'
      ) {
        context.receiver?.close({ condition: 'amqp:unauthorized-access', description: 'go away' });
      }
    });
    container.on('message', (context: RheaContext) => {
      const text = bodyText(context.message?.body);
      const d = context.delivery as RheaDelivery;
      if (text === 'reject') d.reject({ condition: 'amqp:invalid-field', description: 'bad' });
      else if (text === 'release') d.release();
      else if (text === 'modify') d.modified({ delivery_failed: true, undeliverable_here: false });
      else d.accept();
    });
    container.on('sendable', (context: RheaContext) => {
      const sender = context.sender;
      if (sender?.sendable())
        sender.send({ body: 'from rhea', subject: 'greeting', application_properties: { n: 7 } });
    });
    const listening = await rheaListen(container);
    track(listening.server);
    return { port: listening.port, container };
  }

  it('every outcome, at-least-once and exactly-once', async () => {
    const { port } = await rheaBroker();
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
      const sender = await client.openSender({ target: 'q', guarantee });
      expect(await sender.send(binaryMessage('ok'))).toEqual({ state: 'accepted' });
      const rejected = await sender.send(binaryMessage('reject'));
      expect(rejected).toMatchObject({
        state: 'rejected',
        error: { condition: 'amqp:invalid-field', description: 'bad' },
      });
      expect(await sender.send(binaryMessage('release'))).toEqual({ state: 'released' });
      expect(await sender.send(binaryMessage('modify'))).toMatchObject({
        state: 'modified',
        deliveryFailed: true,
        undeliverableHere: false,
      });
      await sender.close();
    }
  });

  it('at-most-once sends resolve as sent', async () => {
    const { port } = await rheaBroker();
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    const sender = await client.openSender({ target: 'q', guarantee: 'at-most-once' });
    expect(await sender.send(binaryMessage('fire and forget'))).toEqual({ state: 'sent' });
  });

  it('receives from a rhea sender, with message fields mapped', async () => {
    const { port } = await rheaBroker();
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    const receiver = await client.openReceiver({ source: 'greetings', creditWindow: 0 });
    receiver.addCredit(1);
    const delivery = (await receiver.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
    expect(delivery.message.body).toEqual({ type: 'value', value: 'from rhea' });
    expect(delivery.message.properties?.subject).toBe('greeting');
    expect(delivery.message.applicationProperties).toEqual({ n: 7 });
    delivery.accept();
  });

  it('an outcome that arrives in the same write as the peer closing the connection still resolves the send', async () => {
    const container = rhea.create_container({ id: 'accept-and-close' });
    container.on('error', () => {});
    container.on('disconnected', () => {});
    container.on('connection_open', (context: { connection: { socket: net.Socket } }) => {
      // rhea writes each frame separately; gather what it writes in one tick into one socket write, so that
      // our side reads the disposition and the close together, as it does from Qpid Proton.
      const socket = context.connection.socket;
      const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
      let pending: Buffer[] = [];
      socket.write = ((chunk: Buffer) => {
        if (pending.length === 0) {
          setImmediate(() => {
            const all = Buffer.concat(pending);
            pending = [];
            write(all);
          });
        }
        pending.push(Buffer.from(chunk));
        return true;
      }) as typeof socket.write;
    });
    container.on('message', (context: RheaContext) => {
      context.delivery?.accept();
      context.connection?.close();
    });
    const listening = await rheaListen(container);
    track(listening.server);
    const client = track(await connect({ host: '127.0.0.1', port: listening.port, reconnect: false }));
    const sender = await client.openSender('q');
    await expect(sender.send(binaryMessage('last words'))).resolves.toEqual({ state: 'accepted' });
  });

  it('a message larger than the frames both ends allow crosses in several transfers, both ways', async () => {
    const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const container = rhea.create_container({ id: 'small-frames' });
    container.on('disconnected', () => {});
    let receivedByRhea: unknown;
    container.on('message', (context: RheaContext) => {
      receivedByRhea = (context.message?.body as { content?: unknown } | undefined)?.content;
      context.delivery?.accept();
    });
    let sentByRhea = false;
    container.on('sendable', (context: RheaContext) => {
      if (sentByRhea) return;
      sentByRhea = true;
      context.sender?.send({ body: rhea.message.data_section(big) });
    });
    const listening = await rheaListen(container, { max_frame_size: 512 });
    track(listening.server);
    const client = track(
      await connect({ host: '127.0.0.1', port: listening.port, reconnect: false, maxFrameSize: 512 }),
    );
    const sender = await client.openSender('q');
    expect(await sender.send(binaryMessage(big))).toEqual({ state: 'accepted' });
    expect(receivedByRhea).toEqual(big);
    const receiver = await client.openReceiver({ source: 'big', creditWindow: 0 });
    receiver.addCredit(1);
    const delivery = (await receiver.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery;
    expect(payloadOf(delivery.message)).toEqual(big);
    const accepted = waitFor(container, 'accepted');
    delivery.accept();
    await accepted;
  });

  it('the peer ending the session with an error closes its links with that error', async () => {
    const container = rhea.create_container({ id: 'session-ender' });
    container.on('error', () => {});
    container.on('disconnected', () => {});
    container.on('message', (context: RheaContext & { session?: { close(error?: unknown): void } }) => {
      context.session?.close({ condition: 'amqp:session:window-violation', description: 'too much' });
    });
    const listening = await rheaListen(container);
    track(listening.server);
    const client = track(await connect({ host: '127.0.0.1', port: listening.port, reconnect: false }));
    const sender = await client.openSender('q');
    const closed = waitFor<[CloseInfo]>(sender, 'close');
    const pending = sender.send(binaryMessage('x'));
    const failed = expect(pending).rejects.toMatchObject({ name: 'LinkClosedError' });
    const [info] = await closed;
    expect(info).toMatchObject({
      remote: true,
      error: { condition: 'amqp:session:window-violation', description: 'too much' },
    });
    await failed;
  });

  it('a refusal by rhea surfaces as a LinkError', async () => {
    const { port } = await rheaBroker();
    const client = track(await connect({ host: '127.0.0.1', port, reconnect: false }));
    const opening = client.openSender('forbidden');
    await expect(opening).rejects.toBeInstanceOf(LinkError);
    await expect(opening).rejects.toMatchObject({
      condition: 'amqp:unauthorized-access',
      description: 'go away',
    });
  });
});

describe('a rhea client against our listener', () => {
  let listener: AmqpListener | undefined;
  let rheaConnection: { close(): void } | undefined;
  afterEach(async () => {
    rheaConnection?.close();
    await listener?.close();
    listener = undefined;
    rheaConnection = undefined;
  });

  async function start(options: Parameters<typeof listen>[0] = {}): Promise<{
    links: () => Promise<IncomingLink>;
    container: ReturnType<Rhea['create_container']>;
  }> {
    listener = await listen(options);
    const pending: IncomingLink[] = [];
    const waiting: Array<(l: IncomingLink) => void> = [];
    listener.on('connection', (c) =>
      c.on('incomingLink', (l) => {
        const w = waiting.shift();
        if (w) w(l);
        else pending.push(l);
      }),
    );
    const container = rhea.create_container({ id: 'rhea-client' });
    container.on('error', () => {});
    container.on('disconnected', () => {});
    return {
      container,
      links: () => {
        const l = pending.shift();
        return l ? Promise.resolve(l) : new Promise((resolve) => waiting.push(resolve));
      },
    };
  }

  it('rhea sends to our receiver and sees each of our outcomes', async () => {
    const { container, links } = await start();
    const { port } = (listener as AmqpListener).address();
    const connection = container.connect({ host: '127.0.0.1', port, reconnect: false });
    rheaConnection = connection;
    const rheaSender = connection.open_sender({
      target: { address: 'inbox' },
      treat_modified_as_released: false,
    } as never);
    const link = await links();
    expect(link.role).toBe('receiver');
    expect(link.address).toBe('inbox');
    const receiver = link.acceptReceiver();
    const outcomes: string[] = [];
    const seen = new Promise<void>((resolve) => {
      for (const event of ['accepted', 'rejected', 'released', 'modified']) {
        rheaSender.on(event, (context: RheaContext) => {
          const condition = context.delivery?.remote_state?.error?.condition;
          outcomes.push(condition ? `${event}:${condition}` : event);
          if (outcomes.length === 4) resolve();
        });
      }
    });
    await waitFor(rheaSender, 'sendable');
    for (const body of ['a', 'b', 'c', 'd']) rheaSender.send({ body });
    const deliveries: Delivery[] = [];
    for (let i = 0; i < 4; i++)
      deliveries.push((await receiver.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery);
    expect(deliveries.map((d) => d.message.body)).toEqual(
      ['a', 'b', 'c', 'd'].map((value) => ({ type: 'value', value })),
    );
    deliveries[0]?.accept();
    deliveries[1]?.reject({ condition: 'amqp:not-allowed', description: 'nope' });
    deliveries[2]?.release();
    deliveries[3]?.modify({ deliveryFailed: true });
    await seen;
    expect(outcomes).toEqual(['accepted', 'rejected:amqp:not-allowed', 'released', 'modified']);
  });

  it('rhea receives from our sender; its accept resolves our send', async () => {
    const { container, links } = await start();
    const { port } = (listener as AmqpListener).address();
    const connection = container.connect({ host: '127.0.0.1', port, reconnect: false });
    rheaConnection = connection;
    const rheaReceiver = connection.open_receiver({ source: { address: 'outbox' }, autoaccept: true });
    const link = await links();
    expect(link.role).toBe('sender');
    const sender = link.acceptSender();
    const got = waitFor<[RheaContext]>(rheaReceiver, 'message');
    const outcome = sender.send(valueMessage({ hello: 'rhea' }, { properties: { messageId: 'm-1' } }));
    const [context] = await got;
    expect(context.message?.body).toEqual({ hello: 'rhea' });
    await expect(outcome).resolves.toEqual({ state: 'accepted' });
  });

  it('a rhea receiver detaching with an error reaches our sender as a LinkError', async () => {
    const { container, links } = await start();
    const { port } = (listener as AmqpListener).address();
    const connection = container.connect({ host: '127.0.0.1', port, reconnect: false });
    rheaConnection = connection;
    const rheaReceiver = connection.open_receiver({ source: { address: 'will' }, name: 'client-7' });
    const link = await links();
    expect(link.name).toBe('client-7');
    const sender = link.acceptSender();
    await waitFor(rheaReceiver, 'receiver_open');
    const closed = waitFor<[CloseInfo]>(sender, 'close');
    rheaReceiver.close({ condition: 'amqp:link:detach-forced', description: 'bye' });
    const [info] = await closed;
    expect(info).toMatchObject({
      remote: true,
      error: { condition: 'amqp:link:detach-forced', description: 'bye' },
    });
  });

  it('SASL PLAIN: good credentials are accepted and visible, bad ones refused', async () => {
    const { container } = await start({
      sasl: { authenticate: ({ username, password }) => username === 'alice' && password === 'secret' },
    });
    const { port } = (listener as AmqpListener).address();
    const opened = waitFor<[AmqpConnection]>(listener as AmqpListener, 'connection');
    const good = container.connect({
      host: '127.0.0.1',
      port,
      reconnect: false,
      username: 'alice',
      password: 'secret',
    });
    rheaConnection = good;
    const [inbound] = await opened;
    expect(inbound.peer.user).toBe('alice');
    expect(inbound.peer.mechanism).toBe('PLAIN');
    await expect(
      connect({
        host: '127.0.0.1',
        port,
        reconnect: false,
        sasl: { mechanism: 'PLAIN', username: 'alice', password: 'wrong' },
      }),
    ).rejects.toBeInstanceOf(SaslError);
    const ours = await connect({
      host: '127.0.0.1',
      port,
      reconnect: false,
      sasl: { mechanism: 'PLAIN', username: 'alice', password: 'secret' },
    });
    await ours.close();
  });
});

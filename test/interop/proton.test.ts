/**
 * Interoperability with Apache Qpid Proton (Debian's python3-qpid-proton 0.37): AMQP 1.0 code that others wrote.
 * - Proton's Python client (test/support/proton/{send,receive}.py, run with /usr/bin/python3) against our
 *   `listen()` peer, where each test decides what the listener does with the links Proton attaches;
 * - Proton's example broker (/usr/share/proton/examples/python/broker.py) as a peer for our client.
 * Both are first checked against rhea used directly, so a failure points at the right side.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  type AmqpConnection,
  type AmqpListener,
  connect,
  type Delivery,
  type IncomingLink,
  listen,
  payloadOf,
  type Receiver,
  type Sender,
  valueMessage,
} from '@dragoman/amqp';
import rhea from 'rhea';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { receiveDeliveries } from '../support/dragoman-amqp';
import { isAlive } from '../support/managed-process';
import { checkProton, describeWithPeer } from '../support/peers';
import {
  type ProtonBroker,
  type ProtonClient,
  runProtonClient,
  startProtonBroker,
} from '../support/qpid-proton';
import { rheaClose, rheaConnect, rheaReceive, rheaSend } from '../support/rhea-client';
import { waitForEvent, withTimeout } from '../support/wait';

describeWithPeer(checkProton(), 'Qpid Proton (Python binding and example broker) as AMQP 1.0 peer', () => {
  const clients: ProtonClient[] = [];
  const run = async (...args: Parameters<typeof runProtonClient>) => {
    const client = await runProtonClient(...args);
    clients.push(client);
    return client;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.stop()));
  });

  describe('reference: Proton against rhea used directly', () => {
    it('proton send.py and receive.py talk to a rhea listener', async () => {
      const container = rhea.create_container({ id: 'rhea-reference-listener' });
      const stored: unknown[] = [];
      container.on('message', (context) => {
        stored.push(context.message?.body);
      });
      container.on('sendable', (context) => {
        // rhea writes its attach for a peer-initiated link on a later tick: a transfer written now would overtake it.
        setImmediate(() => {
          const sender = context.sender;
          while (sender?.sendable() && stored.length > 0) sender.send({ body: stored.shift() });
        });
      });
      const server = container.listen({ host: '127.0.0.1', port: 0 });
      await once(server, 'listening');
      const port = (server.address() as AddressInfo).port;
      try {
        const send = await run('send', { port, address: 'inbox', count: 3, extraArgs: ['--prefix', 'ref'] });
        expect((await send.finished).code).toBe(0);
        expect(send.events.filter((event) => event.event === 'accepted')).toHaveLength(3);
        expect(stored).toEqual(['ref-0', 'ref-1', 'ref-2']);
        const receive = await run('receive', { port, address: 'outbox', count: 3 });
        const result = await receive.finished;
        expect(result.code).toBe(0);
        expect(result.events.filter((event) => event.event === 'message').map((event) => event.body)).toEqual(
          ['ref-0', 'ref-1', 'ref-2'],
        );
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('rhea sends to and receives from broker.py', async () => {
      const broker = await startProtonBroker();
      try {
        const connection = await rheaConnect({ port: broker.port });
        const sent = await rheaSend(connection, 'reference-queue', ['a', 'b']);
        expect(sent.outcomes).toEqual(['accepted', 'accepted']);
        const receiver = rheaReceive(connection, 'reference-queue');
        expect(await receiver.waitFor(2)).toEqual(['a', 'b']);
        await receiver.close();
        await rheaClose(connection);
      } finally {
        await broker.stop();
      }
    });
  });

  describe('Proton clients against our listen()', () => {
    let listener: AmqpListener;
    let port: number;
    /** What the test does with each link Proton attaches. */
    let onLink: (link: IncomingLink, connection: AmqpConnection) => void;

    beforeEach(async () => {
      onLink = (link) => link.refuse({ condition: 'amqp:not-found', description: 'no handler in this test' });
      listener = await listen({ host: '127.0.0.1', port: 0 });
      port = listener.address().port;
      listener.on('connection', (connection) => {
        connection.on('incomingLink', (link) => onLink(link, connection));
      });
    });
    afterEach(async () => {
      // Clients first, so that closing the listener does not wait on the close handshake of lingering clients.
      await Promise.all(clients.splice(0).map((client) => client.stop()));
      await listener.close();
    });

    /** Accepts Proton's sending links as receivers and collects their deliveries. */
    const collectInbound = (creditWindow = 100) => {
      const deliveries: Delivery[] = [];
      const receivers: Receiver[] = [];
      const arrived = new EventTarget();
      onLink = (link) => {
        const receiver = link.acceptReceiver({ creditWindow });
        receivers.push(receiver);
        receiver.on('delivery', (delivery) => {
          deliveries.push(delivery);
          arrived.dispatchEvent(new Event('delivery'));
        });
      };
      const waitFor = (count: number, timeoutMs = 20_000) =>
        withTimeout(
          new Promise<Delivery[]>((resolve) => {
            const check = () => {
              if (deliveries.length < count) return;
              arrived.removeEventListener('delivery', check);
              resolve(deliveries);
            };
            arrived.addEventListener('delivery', check);
            check();
          }),
          timeoutMs,
          `${count} deliveries from Proton (have ${deliveries.length})`,
        );
      return { deliveries, receivers, waitFor };
    };

    it('receives at-least-once from proton send.py and its senders see every accept', async () => {
      const inbound = collectInbound();
      const client = await run('send', { port, address: 'telemetry', count: 5, extraArgs: ['--durable'] });
      const deliveries = await inbound.waitFor(5);
      for (const delivery of deliveries) {
        expect(delivery.presettled).toBe(false);
        delivery.accept();
      }
      const result = await client.finished;
      expect(result.code).toBe(0);
      expect(result.events.filter((event) => event.event === 'accepted').map((event) => event.n)).toEqual([
        0, 1, 2, 3, 4,
      ]);
      expect(inbound.receivers[0]?.address).toBe('telemetry');
      expect(deliveries.map((delivery) => delivery.message.body)).toEqual(
        [0, 1, 2, 3, 4].map((n) => ({ type: 'value', value: `proton-${n}` })),
      );
      expect(deliveries[3]?.message.properties?.messageId).toBe('proton-3');
      expect(deliveries[3]?.message.applicationProperties).toEqual({ n: 3 });
      expect(deliveries[3]?.message.header?.durable).toBe(true);
    });

    it('receives at-most-once (pre-settled) from proton send.py', async () => {
      const inbound = collectInbound();
      const client = await run('send', {
        port,
        address: 'fire-and-forget',
        count: 4,
        extraArgs: ['--settle', 'at-most-once', '--prefix', 'amo'],
      });
      const deliveries = await inbound.waitFor(4);
      expect(deliveries.every((delivery) => delivery.presettled)).toBe(true);
      expect(deliveries.map((delivery) => payloadOf(delivery.message).toString())).toEqual([
        'amo-0',
        'amo-1',
        'amo-2',
        'amo-3',
      ]);
      expect(inbound.receivers[0]?.settleModes.sender).toBe('settled');
      expect((await client.finished).code).toBe(0);
    });

    it('gives proton send.py each outcome it chooses: accepted, rejected with its error, released', async () => {
      const inbound = collectInbound();
      const client = await run('send', { port, address: 'judged', count: 3 });
      const [first, second, third] = await inbound.waitFor(3);
      first?.accept();
      second?.reject({ condition: 'dragoman:test-refusal', description: 'not this one' });
      third?.release();
      const result = await client.finished;
      expect(result.code).toBe(0);
      const outcomes = result.events.filter((event) =>
        ['accepted', 'rejected', 'released'].includes(event.event),
      );
      expect(outcomes).toEqual([
        { event: 'accepted', n: 0 },
        { event: 'rejected', n: 1, condition: 'dragoman:test-refusal', description: 'not this one' },
        { event: 'released', n: 2 },
      ]);
    });

    it('gives proton send.py only the credit it grants (manual credit)', async () => {
      const inbound = collectInbound(0);
      const client = await run('send', { port, address: 'metered', count: 3 });
      await client.waitForEvent((event) => event.event === 'attached');
      const receiver = await withTimeout(
        (async () => {
          while (inbound.receivers.length === 0) await new Promise((resolve) => setImmediate(resolve));
          return inbound.receivers[0] as Receiver;
        })(),
        10_000,
        'the inbound link',
      );
      receiver.addCredit(1);
      const [first] = await inbound.waitFor(1);
      // One credit, one transfer: Proton sent nothing more (it reports each transfer as it writes it).
      expect(client.events.filter((event) => event.event === 'sent')).toHaveLength(1);
      first?.accept();
      receiver.addCredit(2);
      for (const delivery of (await inbound.waitFor(3)).slice(1)) delivery.accept();
      expect((await client.finished).code).toBe(0);
    });

    it("refuses proton's link with a condition that proton reports", async () => {
      onLink = (link) => link.refuse({ condition: 'amqp:unauthorized-access', description: 'not for you' });
      const client = await run('send', { port, address: 'forbidden', count: 1 });
      const result = await client.finished;
      expect(result.code).toBe(2);
      expect(result.events).toContainEqual({
        event: 'error',
        scope: 'link',
        condition: 'amqp:unauthorized-access',
        description: 'not for you',
      });
    });

    it('sends at-least-once to proton receive.py and gets its accepts', async () => {
      const senders: Sender[] = [];
      onLink = (link) => senders.push(link.acceptSender());
      const client = await run('receive', {
        port,
        address: 'commands',
        count: 4,
        extraArgs: ['--credit', '2', '--linger'],
      });
      await client.waitForEvent((event) => event.event === 'attached');
      const sender = await withTimeout(
        (async () => {
          while (senders.length === 0 || senders[0]?.credit === 0) {
            await new Promise((resolve) => setImmediate(resolve));
          }
          return senders[0] as Sender;
        })(),
        10_000,
        'credit from proton',
      );
      // Proton's prefetch is its credit window.
      expect(sender.credit).toBe(2);
      expect(sender.address).toBe('commands');
      const results = await Promise.all(
        [0, 1, 2, 3].map((n) =>
          sender.send(
            valueMessage(`command-${n}`, {
              properties: { messageId: `c-${n}` },
              applicationProperties: { n },
            }),
          ),
        ),
      );
      expect(results).toEqual(Array.from({ length: 4 }, () => ({ state: 'accepted' })));
      await client.waitForEvent((event) => event.event === 'received-all');
      const received = client.events.filter((event) => event.event === 'message');
      expect(received.map((event) => [event.id, event.body, event.properties])).toEqual(
        [0, 1, 2, 3].map((n) => [`c-${n}`, `command-${n}`, { n }]),
      );
    });

    it('sees the rejected outcome (with its error) and released outcome from proton receive.py', async () => {
      const senders: Sender[] = [];
      onLink = (link) => senders.push(link.acceptSender());
      const rejecter = await run('receive', {
        port,
        address: 'rejecting',
        extraArgs: ['--outcome', 'reject', '--linger'],
      });
      await rejecter.waitForEvent((event) => event.event === 'attached');
      const releaser = await run('receive', {
        port,
        address: 'releasing',
        extraArgs: ['--outcome', 'release', '--linger'],
      });
      await releaser.waitForEvent((event) => event.event === 'attached');
      const byAddress = (address: string) =>
        withTimeout(
          (async () => {
            for (;;) {
              const sender = senders.find((candidate) => candidate.address === address);
              if (sender) return sender;
              await new Promise((resolve) => setImmediate(resolve));
            }
          })(),
          10_000,
          `the link for ${address}`,
        );
      const rejected = await (await byAddress('rejecting')).send(valueMessage('no'));
      expect(rejected.state).toBe('rejected');
      expect(rejected.state === 'rejected' && rejected.error?.condition).toBe('dragoman:test-reject');
      expect(rejected.state === 'rejected' && rejected.error?.description).toBe(
        'rejected by the proton test client',
      );
      expect(await (await byAddress('releasing')).send(valueMessage('later'))).toEqual({ state: 'released' });
    });

    // Proton accepts its last message and closes in one write; rhea emits 'connection_close' before the outcome
    // events of that read, so the client must not fail pending sends on the close before it has seen them.
    it('resolves the outcome that arrives together with the peer closing the connection', async () => {
      const senders: Sender[] = [];
      onLink = (link) => senders.push(link.acceptSender());
      const client = await run('receive', { port, address: 'close-race', count: 2 });
      await client.waitForEvent((event) => event.event === 'attached');
      const sender = await withTimeout(
        (async () => {
          while (senders.length === 0 || senders[0]?.credit === 0) {
            await new Promise((resolve) => setImmediate(resolve));
          }
          return senders[0] as Sender;
        })(),
        10_000,
        'credit from proton',
      );
      const results = await Promise.allSettled([0, 1].map((n) => sender.send(valueMessage(n))));
      expect((await client.finished).code).toBe(0);
      expect(results).toEqual(
        Array.from({ length: 2 }, () => ({ status: 'fulfilled', value: { state: 'accepted' } })),
      );
    });

    it("closes proton's connection with amqp:connection:forced when the listener closes", async () => {
      const senders: Sender[] = [];
      onLink = (link) => senders.push(link.acceptSender());
      const client = await run('receive', { port, address: 'shutdown', count: 1 });
      await client.waitForEvent((event) => event.event === 'attached');
      await listener.close();
      const result = await client.finished;
      expect(result.code).toBe(2);
      // Our close frame arrives just before the socket ends, so Proton reports it as a disconnect with its condition.
      expect(result.events).toContainEqual({
        event: 'error',
        scope: 'disconnected',
        condition: 'amqp:connection:forced',
        description: 'listener closing',
      });
    });

    it('authenticates proton with SASL PLAIN and refuses a wrong password', async () => {
      await listener.close();
      listener = await listen({
        host: '127.0.0.1',
        port: 0,
        sasl: {
          mechanisms: ['PLAIN'],
          authenticate: ({ username, password }) => username === 'device-1' && password === 'secret',
        },
      });
      port = listener.address().port;
      const users: Array<string | undefined> = [];
      listener.on('connection', (connection) => {
        users.push(connection.peer.user);
        connection.on('incomingLink', (link) => onLink(link, connection));
      });
      const inbound = collectInbound();
      const good = await run('send', { port, address: 'auth', user: 'device-1', password: 'secret' });
      (await inbound.waitFor(1))[0]?.accept();
      expect((await good.finished).code).toBe(0);
      expect(users).toEqual(['device-1']);
      const bad = await run('send', { port, address: 'auth', user: 'device-1', password: 'wrong' });
      const result = await bad.finished;
      expect(result.code).toBe(2);
      expect(result.events.find((event) => event.event === 'error')?.condition).toMatch(/unauthorized|sasl/i);
      expect(users).toEqual(['device-1']);
    });
  });

  describe('our client through the Proton example broker', () => {
    let broker: ProtonBroker;
    const connections: AmqpConnection[] = [];
    beforeAll(async () => {
      broker = await startProtonBroker();
    }, 60_000);
    afterAll(async () => {
      await broker?.stop();
    });
    afterEach(async () => {
      await Promise.all(connections.splice(0).map((connection) => connection.close()));
    });
    const open = async () => {
      const connection = await connect({
        host: '127.0.0.1',
        port: broker.port,
        sasl: { mechanism: 'ANONYMOUS' },
        reconnect: false,
      });
      connections.push(connection);
      return connection;
    };

    it('sends and receives at-least-once', async () => {
      const connection = await open();
      const sender = await connection.openSender({ target: 'alo-queue', guarantee: 'at-least-once' });
      const results = await Promise.all(
        [0, 1, 2, 3, 4].map((n) =>
          sender.send(
            valueMessage(n, { properties: { messageId: `alo-${n}` }, applicationProperties: { n } }),
          ),
        ),
      );
      expect(results).toEqual(Array.from({ length: 5 }, () => ({ state: 'accepted' })));
      const receiver = await connection.openReceiver({ source: 'alo-queue', guarantee: 'at-least-once' });
      const deliveries = await receiveDeliveries(receiver, 5);
      expect(deliveries.map((delivery) => delivery.message.body)).toEqual(
        [0, 1, 2, 3, 4].map((value) => ({ type: 'value', value })),
      );
      expect(deliveries.map((delivery) => delivery.message.properties?.messageId)).toEqual(
        [0, 1, 2, 3, 4].map((n) => `alo-${n}`),
      );
      for (const delivery of deliveries) {
        expect(delivery.presettled).toBe(false);
        delivery.accept();
      }
    });

    it('sends and receives at-most-once', async () => {
      const connection = await open();
      const sender = await connection.openSender({ target: 'amo-queue', guarantee: 'at-most-once' });
      for (let n = 0; n < 5; n++)
        expect(await sender.send(valueMessage(`amo-${n}`))).toEqual({ state: 'sent' });
      const receiver = await connection.openReceiver({ source: 'amo-queue', guarantee: 'at-most-once' });
      const deliveries = await receiveDeliveries(receiver, 5);
      expect(deliveries.map((delivery) => delivery.message.body)).toEqual(
        [0, 1, 2, 3, 4].map((n) => ({ type: 'value', value: `amo-${n}` })),
      );
      for (const delivery of deliveries) if (!delivery.presettled) delivery.accept();
    });

    it('passes messages from our client to proton receive.py through the broker', async () => {
      const connection = await open();
      const sender = await connection.openSender('relay-queue');
      await Promise.all([0, 1, 2].map((n) => sender.send(valueMessage(`relay-${n}`))));
      const client = await run('receive', { port: broker.port, address: 'relay-queue', count: 3 });
      const result = await client.finished;
      expect(result.code).toBe(0);
      expect(result.events.filter((event) => event.event === 'message').map((event) => event.body)).toEqual([
        'relay-0',
        'relay-1',
        'relay-2',
      ]);
    });

    it('closes cleanly when the broker goes away and reports it', async () => {
      const own = await startProtonBroker();
      const connection = await connect({ host: '127.0.0.1', port: own.port, reconnect: false });
      connections.push(connection);
      const closed = waitForEvent(connection, 'close', 20_000, { ignoreErrors: true });
      await own.stop();
      expect(isAlive(own.pid)).toBe(false);
      const [info] = (await closed) as [{ remote: boolean }];
      expect(info.remote).toBe(true);
      expect(connection.isOpen).toBe(false);
    });
  });
});

/**
 * Interoperability with RabbitMQ 3.10 (Debian's rabbitmq-server) and its rabbitmq_amqp1_0 plugin: a real
 * AMQP 1.0 broker that others wrote. One private node for the whole file (started in beforeAll on free
 * loopback ports, stopped by pid in afterAll); only the last test restarts it.
 *
 * What RabbitMQ 3.10.8 does, as the tests below pin it (with rhea as reference client, and with ours):
 * - `/queue/<name>` declares the queue on attach, durable only when the terminus asks for durability;
 *   attaching it to an existing queue with other properties ends the session with amqp:precondition-failed.
 * - attaching to `/exchange/<missing>/<key>` ends the whole session with amqp:not-found.
 * - an unroutable message (`/exchange/<x>/<unbound key>`, `/amq/queue/<missing>`) is accepted and dropped.
 * - a publish refused by a max-length queue with overflow reject-publish does not come back as `rejected`:
 *   the plugin's session process crashes on the internal basic.nack and the broker drops the TCP
 *   connection, leaving that delivery (and possibly confirms batched with it) unsettled.
 * - the `modified` outcome is not understood: the session ends with amqp:invalid-field and the message is
 *   requeued; `released` requeues, `rejected` drops.
 * - on an orderly shutdown (SIGTERM) it may end sessions with amqp:internal-error "shutdown" before it
 *   closes the connection, which closes the links on them for good.
 */

import { existsSync } from 'node:fs';
import {
  type AmqpConnection,
  AmqpError,
  binaryMessage,
  ConnectionClosedError,
  type ConnectOptions,
  connect,
  LinkClosedError,
  payloadOf,
  valueMessage,
} from '@dragoman/amqp';
import { connectAsync } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { receiveDeliveries, rejectionOf } from '../support/dragoman-amqp';
import { isAlive } from '../support/managed-process';
import { checkRabbitMq, describeWithPeer } from '../support/peers';
import { type QueueInfo, type RabbitMq, startRabbitMq } from '../support/rabbitmq';
import { rheaClose, rheaConnect, rheaReceive, rheaSend } from '../support/rhea-client';
import { retryUntil, waitForEvent } from '../support/wait';

const Q = {
  rheaDeclared: 'rhea.declared',
  rheaDurable: 'rhea.durable',
  rheaLimited: 'rhea.limited',
  bound: 'dragoman.bound',
  durable: 'dragoman.durable',
  limited: 'dragoman.limited',
  credit: 'dragoman.credit',
  settlement: 'dragoman.settlement',
  restart: 'dragoman.restart',
} as const;
const EXCHANGE = 'dragoman.direct';
const BOUND_KEY = 'bound-key';
const LIMITED = { 'x-max-length': 2, 'x-overflow': 'reject-publish' };

describeWithPeer(checkRabbitMq(), 'RabbitMQ 3.10 (rabbitmq_amqp1_0) as AMQP 1.0 peer', () => {
  let rabbit: RabbitMq;

  beforeAll(async () => {
    rabbit = await startRabbitMq({
      plugins: ['rabbitmq_amqp1_0', 'rabbitmq_mqtt'],
      queues: [
        { name: Q.rheaDurable },
        { name: Q.rheaLimited, arguments: LIMITED },
        { name: Q.bound },
        { name: Q.durable },
        { name: Q.limited, arguments: LIMITED },
        { name: Q.credit },
        { name: Q.settlement },
        { name: Q.restart },
      ],
      exchanges: [{ name: EXCHANGE, type: 'direct' }],
      bindings: [{ source: EXCHANGE, destination: Q.bound, routingKey: BOUND_KEY }],
    });
  }, 180_000);

  afterAll(async () => {
    if (rabbit === undefined) return;
    const pids = { node: rabbit.pid, beam: rabbit.beamPid, epmd: rabbit.epmdPid };
    await rabbit.stop();
    // Stopped by pid means gone: the script, the Erlang VM, its epmd and its temp dir.
    expect({ node: isAlive(pids.node), beam: isAlive(pids.beam), epmd: isAlive(pids.epmd) }).toEqual({
      node: false,
      beam: false,
      epmd: false,
    });
    expect(existsSync(rabbit.dir)).toBe(false);
  }, 120_000);

  /** Polls the broker's queue counters until `predicate` holds (the counters change asynchronously). */
  const queueEventually = (name: string, predicate: (queue: QueueInfo) => boolean, what: string) =>
    retryUntil(
      async () => {
        const queue = await rabbit.queue(name);
        if (!predicate(queue)) throw new Error(`queue ${name}: ${JSON.stringify(queue)}`);
        return queue;
      },
      { timeoutMs: 30_000, intervalMs: 200, what },
    );

  describe('harness', () => {
    it('runs a private node on loopback ports that answers a real AMQP 1.0 open and MQTT CONNECT', async () => {
      expect(rabbit.host).toBe('127.0.0.1');
      expect(rabbit.amqpPort).toBeGreaterThan(0);
      expect(rabbit.mqttPort).toBeGreaterThan(0);
      expect(rabbit.nodeName).toMatch(/^dragoman-test-[0-9a-f]{8}@localhost$/);
      expect(() => process.kill(rabbit.beamPid, 0)).not.toThrow();
      const connection = await rheaConnect({
        port: rabbit.amqpPort,
        username: rabbit.username,
        password: rabbit.password,
      });
      const properties =
        (connection.remote.open as { properties?: Record<string, unknown> }).properties ?? {};
      expect(properties.product).toBe('RabbitMQ');
      expect(String(properties.version)).toMatch(/^3\.10\./);
      await rheaClose(connection);
    });

    it('routes an MQTT publish (mqtt.js, rabbitmq_mqtt) to an AMQP 1.0 /topic receiver (rhea)', async () => {
      const connection = await rheaConnect({
        port: rabbit.amqpPort,
        username: rabbit.username,
        password: rabbit.password,
      });
      const receiver = rheaReceive(connection, '/topic/harness.mqtt');
      await receiver.attached;
      const mqttClient = await connectAsync({
        host: '127.0.0.1',
        port: rabbit.mqttPort,
        username: rabbit.username,
        password: rabbit.password,
        reconnectPeriod: 0,
      });
      try {
        // RabbitMQ maps MQTT topic levels to routing-key words: harness/mqtt -> harness.mqtt on amq.topic.
        await mqttClient.publishAsync('harness/mqtt', 'from mqtt', { qos: 1 });
        const [body] = await receiver.waitFor(1);
        expect(Buffer.from((body as { content?: Buffer }).content ?? (body as Buffer)).toString()).toBe(
          'from mqtt',
        );
      } finally {
        await mqttClient.endAsync();
        await receiver.close();
        await rheaClose(connection);
      }
    });
  });

  describe('reference behaviour, seen with rhea', () => {
    const rheaOpen = () =>
      rheaConnect({ port: rabbit.amqpPort, username: rabbit.username, password: rabbit.password });

    it('/queue/<name> declares the queue on attach, durable only when the target terminus is durable', async () => {
      const connection = await rheaOpen();
      try {
        expect((await rheaSend(connection, `/queue/${Q.rheaDeclared}`, ['a'])).outcomes).toEqual([
          'accepted',
        ]);
        const durableName = `${Q.rheaDeclared}.durable`;
        // Terminus durability 2 = unsettled-state.
        const sent = await rheaSend(connection, `/queue/${durableName}`, ['b'], { target: { durable: 2 } });
        expect(sent.outcomes).toEqual(['accepted']);
        expect(await rabbit.queue(Q.rheaDeclared)).toMatchObject({ durable: false, messages: 1 });
        expect(await rabbit.queue(durableName)).toMatchObject({ durable: true, messages: 1 });
        const refused = await rheaSend(connection, `/queue/${Q.rheaDurable}`, ['c']);
        expect(refused.error?.condition).toBe('amqp:precondition-failed');
      } finally {
        await rheaClose(connection);
      }
    });

    it('ends the session with amqp:not-found for a missing exchange', async () => {
      const connection = await rheaOpen();
      try {
        const result = await rheaSend(connection, '/exchange/rhea.missing/key', ['x']);
        expect(result.error).toEqual({
          condition: 'amqp:not-found',
          description: "NOT_FOUND - no exchange 'rhea.missing' in vhost '/'",
        });
        expect(result.outcomes).toEqual([]);
      } finally {
        await rheaClose(connection);
      }
    });

    it('accepts (and drops) messages it cannot route', async () => {
      const connection = await rheaOpen();
      try {
        const before = await rabbit.queue(Q.bound);
        const result = await rheaSend(connection, `/exchange/${EXCHANGE}/nobody-bound-this`, [
          'lost',
          'lost',
        ]);
        expect(result.outcomes).toEqual(['accepted', 'accepted']);
        expect((await rheaSend(connection, '/amq/queue/rhea.missing', ['lost'])).outcomes).toEqual([
          'accepted',
        ]);
        expect((await rabbit.queue(Q.bound)).messages).toBe(before.messages);
      } finally {
        await rheaClose(connection);
      }
    });

    it('drops the connection instead of rejecting a publish refused by reject-publish overflow', async () => {
      const connection = await rheaOpen();
      try {
        const result = await rheaSend(connection, `/amq/queue/${Q.rheaLimited}`, ['1', '2', '3'], {
          durable: true,
          timeoutMs: 30_000,
        });
        expect(result.disconnected).toBe(true);
        // The crash can also swallow confirms still batched with the nack: at most the two that fit come back.
        expect(result.outcomes).not.toContain('rejected');
        expect(result.outcomes.length).toBeLessThanOrEqual(2);
        expect(await rabbit.queue(Q.rheaLimited)).toMatchObject({ messages: 2 });
      } finally {
        await rheaClose(connection);
      }
    });
  });

  describe('@dragoman/amqp client', () => {
    const connections: AmqpConnection[] = [];
    const open = async (options: ConnectOptions = {}) => {
      const connection = await connect({
        host: '127.0.0.1',
        port: rabbit.amqpPort,
        sasl: { mechanism: 'PLAIN', username: rabbit.username, password: rabbit.password },
        reconnect: false,
        ...options,
      });
      connections.push(connection);
      return connection;
    };

    afterEach(async () => {
      await Promise.all(connections.splice(0).map((connection) => connection.close()));
    });

    it('connects with SASL PLAIN and sees the broker in the open frame', async () => {
      const connection = await open();
      expect(connection.isOpen).toBe(true);
      expect(connection.peer.properties?.product).toBe('RabbitMQ');
    });

    it('sends and receives on /queue/<name>, keeping properties and body', async () => {
      const connection = await open();
      const address = '/queue/dragoman.roundtrip';
      const sender = await connection.openSender(address);
      const results = await Promise.all(
        [0, 1, 2].map((n) =>
          sender.send(
            binaryMessage(`payload-${n}`, {
              properties: { messageId: `id-${n}`, contentType: 'text/plain', subject: 'roundtrip' },
              applicationProperties: { n, kind: 'interop' },
            }),
          ),
        ),
      );
      expect(results.map((result) => result.state)).toEqual(['accepted', 'accepted', 'accepted']);
      const receiver = await connection.openReceiver(address);
      const deliveries = await receiveDeliveries(receiver, 3);
      expect(deliveries.map((delivery) => payloadOf(delivery.message).toString())).toEqual([
        'payload-0',
        'payload-1',
        'payload-2',
      ]);
      expect(deliveries[1]?.message.properties).toMatchObject({
        messageId: 'id-1',
        contentType: 'text/plain',
        subject: 'roundtrip',
      });
      expect(deliveries[2]?.message.applicationProperties).toEqual({ n: 2, kind: 'interop' });
      for (const delivery of deliveries) delivery.accept();
      await queueEventually('dragoman.roundtrip', (queue) => queue.messages === 0, 'the queue to empty');
    });

    it('declares a durable queue through /queue/<name> when the target terminus is durable', async () => {
      const connection = await open();
      const name = 'dragoman.declared-durable';
      const sender = await connection.openSender({
        target: { address: `/queue/${name}`, durable: 'configuration' },
      });
      expect(await sender.send(valueMessage('kept', { header: { durable: true } }))).toEqual({
        state: 'accepted',
      });
      expect(await rabbit.queue(name)).toMatchObject({ durable: true, messages: 1 });
    });

    it('sends to /exchange/<name>/<key> and receives from the bound queue on /amq/queue/<name>', async () => {
      const connection = await open();
      const sender = await connection.openSender(`/exchange/${EXCHANGE}/${BOUND_KEY}`);
      expect(await sender.send(valueMessage({ routed: true }))).toEqual({ state: 'accepted' });
      const receiver = await connection.openReceiver(`/amq/queue/${Q.bound}`);
      const [delivery] = await receiveDeliveries(receiver, 1);
      expect(delivery?.message.body).toEqual({ type: 'value', value: { routed: true } });
      delivery?.accept();
    });

    it('receives from /exchange/<name>/<key> and /topic/<key> (temporary queues bound by RabbitMQ)', async () => {
      const connection = await open();
      const exchangeReceiver = await connection.openReceiver(`/exchange/${EXCHANGE}/fan-key`);
      const topicReceiver = await connection.openReceiver('/topic/sensors.room1.temperature');
      await (await connection.openSender(`/exchange/${EXCHANGE}/fan-key`)).send(valueMessage('direct'));
      await (await connection.openSender('/topic/sensors.room1.temperature')).send(valueMessage('topic'));
      const [direct] = await receiveDeliveries(exchangeReceiver, 1);
      const [topic] = await receiveDeliveries(topicReceiver, 1);
      expect(direct?.message.body).toEqual({ type: 'value', value: 'direct' });
      expect(topic?.message.body).toEqual({ type: 'value', value: 'topic' });
      direct?.accept();
      topic?.accept();
    });

    it('sends at-most-once (pre-settled) to a durable queue on /amq/queue/<name>', async () => {
      const connection = await open();
      const sender = await connection.openSender({
        target: `/amq/queue/${Q.durable}`,
        guarantee: 'at-most-once',
      });
      for (let n = 0; n < 5; n++) {
        expect(await sender.send(valueMessage(n, { header: { durable: true } }))).toEqual({ state: 'sent' });
      }
      const receiver = await connection.openReceiver(`/amq/queue/${Q.durable}`);
      const deliveries = await receiveDeliveries(receiver, 5);
      expect(deliveries.map((delivery) => delivery.message.body)).toEqual(
        [0, 1, 2, 3, 4].map((value) => ({ type: 'value', value })),
      );
      for (const delivery of deliveries) delivery.accept();
    });

    it('gets exactly as many messages as it gives credit (manual credit)', async () => {
      const connection = await open();
      const sender = await connection.openSender(`/amq/queue/${Q.credit}`);
      await Promise.all([0, 1, 2, 3, 4].map((n) => sender.send(valueMessage(n))));
      const receiver = await connection.openReceiver({ source: `/amq/queue/${Q.credit}`, creditWindow: 0 });
      receiver.addCredit(2);
      const firstTwo = await receiveDeliveries(receiver, 2);
      expect(receiver.credit).toBe(0);
      // The broker holds the rest back: 2 delivered and unsettled, 3 still ready.
      await queueEventually(
        Q.credit,
        (queue) => queue.messagesUnacknowledged === 2 && queue.messagesReady === 3,
        'two messages out, three held back',
      );
      for (const delivery of firstTwo) delivery.accept();
      receiver.addCredit(3);
      const rest = await receiveDeliveries(receiver, 3);
      expect([...firstTwo, ...rest].map((delivery) => delivery.message.body)).toEqual(
        [0, 1, 2, 3, 4].map((value) => ({ type: 'value', value })),
      );
      for (const delivery of rest) delivery.accept();
      await queueEventually(Q.credit, (queue) => queue.messages === 0, 'the queue to empty');
    });

    it('settles with release (requeued by RabbitMQ) and reject (dropped)', async () => {
      const connection = await open();
      const sender = await connection.openSender(`/amq/queue/${Q.settlement}`);
      await Promise.all(['release', 'reject'].map((name) => sender.send(valueMessage(name))));
      const receiver = await connection.openReceiver({
        source: `/amq/queue/${Q.settlement}`,
        creditWindow: 10,
      });
      const first = await receiveDeliveries(receiver, 2);
      const byName = new Map(first.map((delivery) => [String(payloadOf(delivery.message)), delivery]));
      byName.get('release')?.release();
      byName.get('reject')?.reject({ condition: 'amqp:internal-error', description: 'test rejects it' });
      const [again] = await receiveDeliveries(receiver, 1);
      expect(String(payloadOf(again!.message))).toBe('release');
      again?.accept();
      await queueEventually(Q.settlement, (queue) => queue.messages === 0, 'the queue to empty');
    });

    it('sees its receiver fail with amqp:invalid-field when it settles with modified (RabbitMQ 3.10 lacks it)', async () => {
      const connection = await open();
      const address = `/amq/queue/${Q.settlement}`;
      await (await connection.openSender(address)).send(valueMessage('modify-me'));
      const receiver = await connection.openReceiver({ source: address, creditWindow: 1 });
      const closed = waitForEvent(receiver, 'close', 20_000, { ignoreErrors: true });
      const [delivery] = await receiveDeliveries(receiver, 1);
      delivery?.modify({ deliveryFailed: true });
      const [info] = (await closed) as [{ remote: boolean; error: unknown }];
      expect(info.remote).toBe(true);
      expect(info.error).toBeInstanceOf(AmqpError);
      expect((info.error as AmqpError).condition).toBe('amqp:invalid-field');
      // The session's unsettled message goes back to the queue, for the next consumer.
      const next = await connection.openReceiver({ source: address, creditWindow: 1 });
      const [redelivered] = await receiveDeliveries(next, 1);
      expect(String(payloadOf(redelivered!.message))).toBe('modify-me');
      redelivered?.accept();
    });

    it('reports a link refused for a missing exchange as an AmqpError with amqp:not-found', async () => {
      const connection = await open();
      const error = await rejectionOf(connection.openSender('/exchange/dragoman.missing/key'));
      expect(error).toBeInstanceOf(AmqpError);
      expect((error as AmqpError).condition).toBe('amqp:not-found');
      expect(String((error as Error).message)).toContain("no exchange 'dragoman.missing'");
      // Only that session ended: the connection still works.
      const sender = await connection.openSender('/queue/dragoman.after-refusal');
      expect(await sender.send(valueMessage('still here'))).toEqual({ state: 'accepted' });
    });

    it('reports attaching to an existing queue with other properties as amqp:precondition-failed', async () => {
      const connection = await open();
      const error = await rejectionOf(connection.openReceiver(`/queue/${Q.durable}`));
      expect(error).toBeInstanceOf(AmqpError);
      expect((error as AmqpError).condition).toBe('amqp:precondition-failed');
    });

    it('gets accepted for an unroutable message (RabbitMQ 3.10 drops it)', async () => {
      const connection = await open();
      const before = await rabbit.queue(Q.bound);
      const sender = await connection.openSender(`/exchange/${EXCHANGE}/nobody-bound-this`);
      expect(await sender.send(valueMessage('unroutable'))).toEqual({ state: 'accepted' });
      expect((await rabbit.queue(Q.bound)).messages).toBe(before.messages);
    });

    it('sees the connection fail (no outcome) when a reject-publish queue refuses a message', async () => {
      const connection = await open({ reconnect: false });
      const closed = waitForEvent(connection, 'close', 60_000, { ignoreErrors: true });
      const sender = await connection.openSender(`/amq/queue/${Q.limited}`);
      const sends = [1, 2, 3].map((n) => sender.send(valueMessage(n, { header: { durable: true } })));
      const settled = await Promise.allSettled(sends);
      await closed;
      expect(connection.isOpen).toBe(false);
      // No 'rejected' outcome: the refused third send fails with the connection (typed, not a hang).
      const third = settled[2];
      expect(third?.status).toBe('rejected');
      expect((third as PromiseRejectedResult).reason).toBeInstanceOf(ConnectionClosedError);
      // The two that fit may or may not have had their accept delivered before the broker dropped the connection.
      for (const result of settled.slice(0, 2)) {
        if (result.status === 'fulfilled') expect(result.value).toEqual({ state: 'accepted' });
        else expect(result.reason).toBeInstanceOf(ConnectionClosedError);
      }
      expect(await rabbit.queue(Q.limited)).toMatchObject({ messages: 2 });
    });

    it('loses no accepted message across a broker restart and a crash mid-stream (at-least-once)', async () => {
      const connection = await open({ reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } });
      const address = `/amq/queue/${Q.restart}`;
      let sender = await connection.openSender({ target: address, guarantee: 'at-least-once' });
      let reconnects = 0;
      let disconnects = 0;
      let senderReopens = 0;
      connection.on('reconnected', () => reconnects++);
      connection.on('disconnected', () => disconnects++);

      const window = 50;
      const inflight = new Set<Promise<void>>();
      const accepted = new Set<number>();
      /** Sends that failed without an outcome (link or connection lost): the application sends them again. */
      const retry: number[] = [];
      const unexpected: string[] = [];
      let resends = 0;
      let sent = 0;
      let reopening: Promise<void> | undefined;

      /** RabbitMQ ends each session with amqp:internal-error "shutdown" before it closes the connection, which
       * closes the sender for good: open a new one once the connection is back. */
      const reopenSender = () => {
        // The attach can still fail while the broker is going down: try again until it is back.
        reopening ??= retryUntil(
          async () => {
            if (connection.state !== 'open') {
              await waitForEvent(connection, 'reconnected', 60_000, { ignoreErrors: true });
            }
            sender = await connection.openSender({ target: address, guarantee: 'at-least-once' });
            senderReopens++;
          },
          { timeoutMs: 180_000, intervalMs: 200, what: 'a new sender once the broker is back' },
        ).finally(() => {
          reopening = undefined;
        });
      };
      const sendOne = (n: number) => {
        const message = valueMessage(n, { header: { durable: true }, properties: { messageId: n } });
        const pending: Promise<void> = sender
          .send(message)
          .then(
            (result) => {
              if (result.state === 'accepted') accepted.add(n);
              else unexpected.push(`${n}: ${JSON.stringify(result)}`);
            },
            (error: unknown) => {
              if (error instanceof LinkClosedError || error instanceof ConnectionClosedError) {
                resends++;
                retry.push(n);
              } else {
                unexpected.push(`${n}: ${String(error)}`);
              }
            },
          )
          .finally(() => inflight.delete(pending));
        inflight.add(pending);
      };
      /**
       * Keeps `window` sends in flight until `done()`. Sends wait in the client while it reconnects; those that
       * fail without an outcome are sent again. Yields to the event loop on every turn, so sends that fail at
       * once cannot starve I/O.
       */
      const pump = async (done: () => boolean) => {
        while (!done() && unexpected.length === 0) {
          if (reopening !== undefined) await reopening;
          else if (sender.isClosed) reopenSender();
          else if (inflight.size >= window) await Promise.race(inflight);
          else sendOne(retry.shift() ?? sent++);
          await new Promise((resolve) => setImmediate(resolve));
        }
      };

      const startupMs: number[] = [];
      for (const crash of [false, true]) {
        const target = sent + 300;
        await pump(() => sent >= target);
        const reconnectsBefore = reconnects;
        const restarting = rabbit.restart({ crash });
        // Keep the stream going through the outage until the client is back.
        await pump(() => reconnects > reconnectsBefore);
        await restarting;
        startupMs.push(rabbit.startupMs);
      }
      const target = sent + 300;
      await pump(() => sent >= target && retry.length === 0 && inflight.size === 0);

      expect(unexpected).toEqual([]);
      expect(accepted.size).toBe(sent);
      const stored = (await rabbit.queue(Q.restart)).messages;
      const receiver = await connection.openReceiver({ source: address, creditWindow: 200 });
      const counts = new Map<number, number>();
      for (let received = 0; received < stored; received++) {
        const [delivery] = await receiveDeliveries(receiver, 1, 30_000);
        const body = delivery?.message.body;
        const n = body?.type === 'value' ? Number(body.value) : -1;
        counts.set(n, (counts.get(n) ?? 0) + 1);
        delivery?.accept();
      }
      const lost = [...accepted].filter((n) => !counts.has(n));
      const duplicates = stored - counts.size;
      console.log(
        `[interop] RabbitMQ restart + crash, at-least-once: sent ${sent}, accepted ${accepted.size}, ` +
          `stored ${stored}, lost ${lost.length}, duplicates ${duplicates}, sends repeated by the test ${resends}, ` +
          `disconnects ${disconnects}, reconnects ${reconnects}, sender reopened ${senderReopens}, ` +
          `startup after restart ${startupMs[0]} ms, after crash ${startupMs[1]} ms`,
      );
      expect(lost).toEqual([]);
      expect(counts.has(-1)).toBe(false);
      expect(reconnects).toBeGreaterThanOrEqual(2);
      await queueEventually(Q.restart, (queue) => queue.messages === 0, 'the queue to empty');
    }, 300_000);
  });
});

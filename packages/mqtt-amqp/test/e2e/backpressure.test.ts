/**
 * Back-pressure end to end: an mqtt.js QoS 1 publisher far faster than its subscriber (an mqtt.js client that
 * acknowledges by hand, or a rhea receiver granting credit one at a time). The backend holds the publisher
 * instead of dropping: every PUBACKed message arrives, and the buffers counted stay within their bounds.
 */
import { EventEmitter, once } from 'node:events';
import type { MqttClient } from 'mqtt';
import rhea, { type EventContext, type Message } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend';
import { pollUntil } from '../support/poll';
import { publishInBatches, type Stack, startStack } from './harness';

const TIMEOUT_MS = 60_000;
const WINDOW = 10;
const CREDIT = 10;

/** Publishes `count` QoS 1 messages at once; counts the PUBACKs. */
function flood(
  client: MqttClient,
  topic: string,
  count: number,
): { pubacked: () => number; all: Promise<void> } {
  let pubacked = 0;
  const all = Promise.all(
    Array.from({ length: count }, (_, i) =>
      client.publishAsync(topic, `m${i}`, { qos: 1 }).then(() => {
        pubacked += 1;
      }),
    ),
  ).then(() => undefined);
  return { pubacked: () => pubacked, all };
}

function bounded(backend: Backend): void {
  const stats = backend.stats();
  expect(stats.subscriptions.buffered).toBeLessThanOrEqual(WINDOW);
  expect(stats.nativeQueued).toBeLessThanOrEqual(WINDOW);
  expect(stats.waitingPublications).toBeLessThanOrEqual(CREDIT);
}

describe('back-pressure end to end', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('MQTT → MQTT: a subscriber that acknowledges by hand slows the QoS 1 publisher; nothing PUBACKed is lost', async () => {
    const MESSAGES = 300;
    stack = await startStack({
      backend: { maxInMemoryPerClient: WINDOW, publishCreditWindow: CREDIT },
      // mqtt.js 5 does not count the receive maximum it is given: push back instead of DISCONNECT 0x93.
      mqtt: { outboundWindow: 4, enforceReceiveMaximum: false },
    });
    const running = stack;
    const subscriber = await running.connect({
      clientId: 'bp-sub',
      protocolVersion: 5,
      properties: { receiveMaximum: 4 },
    });
    const received = new Set<string>();
    const arrivals = new EventEmitter();
    const unacked: Array<() => void> = [];
    subscriber.handleMessage = (packet, done) => {
      received.add(Buffer.from(packet.payload).toString());
      unacked.push(() => done());
      arrivals.emit('message');
    };
    await subscriber.subscribeAsync('bp/t', { qos: 1 });
    const publisher = await running.connect({ clientId: 'bp-pub', protocolVersion: 5 });
    const published = flood(publisher, 'bp/t', MESSAGES);

    // Nothing acknowledged by the subscriber yet: the backend holds the publisher once its window is full.
    await pollUntil(() => running.backend.stats().heldPublisherLinks === 1, 'the publisher to be held');
    bounded(running.backend);
    expect(published.pubacked()).toBeLessThan(MESSAGES);

    // Then one acknowledgement per arrival, never more than the client's receive maximum outstanding.
    while (received.size < MESSAGES) {
      if (unacked.length === 0) await once(arrivals, 'message', { signal: AbortSignal.timeout(TIMEOUT_MS) });
      bounded(running.backend);
      unacked.shift()?.();
    }
    for (const ack of unacked.splice(0)) ack();
    await published.all;
    expect(received.size).toBe(MESSAGES);
    const stats = running.backend.stats();
    expect(stats.subscriptions.droppedBacklogFull).toBe(0);
    expect(stats.subscriptions.droppedNoCredit).toBe(0);
    expect(stats.rejectedSlowSubscriber).toBe(0);
    expect(stats.subscriptions.bufferedHighWater).toBeLessThanOrEqual(WINDOW);
  });

  it('MQTT → AMQP: a native receiver granting credit one at a time slows the QoS 1 publisher; nothing PUBACKed is lost', async () => {
    const MESSAGES = 200;
    stack = await startStack({
      backend: { maxQueuedPerNativeReceiver: WINDOW, publishCreditWindow: CREDIT },
    });
    const running = stack;
    const container = rhea.create_container({ id: 'bp-native' });
    const connection = container.connect({ host: '127.0.0.1', port: running.backend.port, reconnect: false });
    connection.on('error', () => {});
    connection.on('disconnected', () => {});
    try {
      const link = connection.open_receiver({
        source: { address: 'bp/native' },
        credit_window: 0,
        autoaccept: false,
      });
      const arrivals = new EventEmitter();
      const received: string[] = [];
      link.on('message', (context: EventContext) => {
        const body = (context.message as Message).body as { content?: Buffer } | Buffer | string;
        const payload = Buffer.isBuffer(body)
          ? body
          : typeof body === 'string'
            ? Buffer.from(body)
            : body.content;
        received.push(Buffer.from(payload ?? Buffer.alloc(0)).toString());
        context.delivery?.accept();
        arrivals.emit('message');
      });
      await once(link as unknown as EventEmitter, 'receiver_open', {
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });

      const publisher = await running.connect({ clientId: 'bp-native-pub' });
      const published = flood(publisher, 'bp/native', MESSAGES);
      await pollUntil(() => running.backend.stats().heldPublisherLinks === 1, 'the publisher to be held');
      bounded(running.backend);

      while (received.length < MESSAGES) {
        const arrived = once(arrivals, 'message', { signal: AbortSignal.timeout(TIMEOUT_MS) });
        link.add_credit(1);
        await arrived;
        bounded(running.backend);
      }
      await published.all;
      expect(received).toEqual(Array.from({ length: MESSAGES }, (_, i) => `m${i}`));
      expect(running.backend.stats().nativeDropped).toBe(0);
    } finally {
      connection.close();
    }
  });

  it('MQTT → MQTT at QoS 0: ten publishers faster than their subscriber are held, not dropped: every message arrives', async () => {
    const PUBLISHERS = 10;
    const EACH = 3_000;
    stack = await startStack();
    const running = stack;
    const subscriber = await running.connect({ clientId: 'q0-sub' });
    const received = new Set<string>();
    const arrivals = new EventEmitter();
    subscriber.on('message', (_topic, payload) => {
      received.add(payload.toString());
      if (received.size === PUBLISHERS * EACH) arrivals.emit('all');
    });
    await subscriber.subscribeAsync('q0/t', { qos: 0 });
    const everything = once(arrivals, 'all', { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const publishers = await Promise.all(
      Array.from({ length: PUBLISHERS }, (_, p) => running.connect({ clientId: `q0-pub-${p}` })),
    );
    // As fast as mqtt.js writes them: each publisher keeps up to 100 PUBLISHes not yet written to its socket.
    await Promise.all(
      publishers.map((publisher, p) =>
        publishInBatches(publisher, 'q0/t', EACH, { qos: 0, prefix: `${p}:` }),
      ),
    );
    await everything;
    expect(received.size).toBe(PUBLISHERS * EACH);
    const stats = running.backend.stats();
    expect(stats.subscriptions.droppedNoCredit).toBe(0);
    expect(stats.rejectedSlowSubscriber).toBe(0);
  });
});

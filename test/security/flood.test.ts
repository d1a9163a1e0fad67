/**
 * Flood: a QoS 1 publisher far faster than its subscriber (which stalls on its first message until the flood
 * has filled its backlog and a well-behaved client has been served, then acknowledges one message per timer
 * tick). Back-pressure must hold end to end — the publisher is throttled by the endpoint's receive maximum and
 * AMQP credit, and the backend holds its links (no credit, no acceptance) while the connected subscriber's
 * session has no room — so the buffers counted in the process (bridge and backend `stats()`, socket buffers)
 * stay under their bounds, a well-behaved client is still served during the flood, and every PUBACKed message
 * is delivered: nothing acknowledged is dropped.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { withTimeout } from '../support/wait';
import { roundTrip } from './fuzz/gateway-target';
import { type AttackStack, startAttackStack } from './support/stack';

const MESSAGES = 3_000;
const PAYLOAD = Buffer.alloc(1_024, 0x61);
const RECEIVE_MAXIMUM = 64;
const OUTBOUND_WINDOW = 32;
const MAX_IN_MEMORY_PER_CLIENT = 100;
const PUBLISH_CREDIT_WINDOW = 100;

async function connected(url: string, clientId: string): Promise<MqttClient> {
  const client = mqtt.connect(url, { clientId, reconnectPeriod: 0, connectTimeout: 20_000, clean: true });
  client.on('error', () => {});
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('close', () => reject(new Error(`${clientId} closed before CONNACK`)));
    }),
    20_000,
    `${clientId} to connect`,
  );
  return client;
}

describe('flood', () => {
  let stack: AttackStack | undefined;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.end(true);
    await stack?.close();
    stack = undefined;
  });

  it('keeps every buffer bounded and serves a good client while a QoS 1 publisher outruns its subscriber', async () => {
    const running = await startAttackStack({
      mqtt: { receiveMaximum: RECEIVE_MAXIMUM, outboundWindow: OUTBOUND_WINDOW },
      backend: { maxInMemoryPerClient: MAX_IN_MEMORY_PER_CLIENT, publishCreditWindow: PUBLISH_CREDIT_WINDOW },
    });
    stack = running;

    // The slow subscriber: mqtt.js handles one PUBLISH at a time and PUBACKs it when the callback runs. It
    // stalls completely on its first message until the probe below has been served (so the probe surely runs
    // while the flood is backed up), then acknowledges one message per timer tick.
    const subscriber = await connected(running.url, 'flood-subscriber');
    clients.push(subscriber);
    const received = new Set<string>();
    const progress = new EventEmitter();
    let releaseStall: () => void = () => {};
    const stall = new Promise<void>((resolve) => {
      releaseStall = resolve;
    });
    subscriber.handleMessage = (packet, done) => {
      received.add(Buffer.from(packet.payload).subarray(0, 16).toString());
      progress.emit('message');
      void stall.then(() => setTimeout(() => done(), 1));
    };
    await subscriber.subscribeAsync('flood/#', { qos: 1 });

    let maxQueued = 0;
    let maxHeld = 0;
    let maxBuffered = 0;
    let maxWaiting = 0;
    let maxSocketBytes = 0;
    const sample = (): void => {
      const bridge = running.bridge.stats();
      maxQueued = Math.max(maxQueued, bridge.queuedPublishes + bridge.unconfirmedPublishes);
      maxHeld = Math.max(maxHeld, bridge.heldDeliveries);
      const backend = running.backend.stats();
      maxBuffered = Math.max(maxBuffered, backend.subscriptions.buffered);
      maxWaiting = Math.max(maxWaiting, backend.waitingPublications);
      maxSocketBytes = Math.max(maxSocketBytes, running.bufferedSocketBytes());
    };
    const sampler = setInterval(sample, 20);

    const publisher = await connected(running.url, 'flood-publisher');
    clients.push(publisher);
    let pubacked = 0;
    const published = Promise.all(
      Array.from({ length: MESSAGES }, (_, i) => {
        const payload = Buffer.concat([Buffer.from(`m${String(i).padStart(15, '0')}`), PAYLOAD]);
        return publisher.publishAsync(`flood/${i % 10}`, payload, { qos: 1 }).then(() => {
          pubacked += 1;
          progress.emit('puback');
        });
      }),
    );

    try {
      // Once the flood has filled the stalled subscriber's session (the backend now holds the publisher's
      // links instead of dropping), a well-behaved client is still served.
      const publisherHeld = (): boolean => running.backend.stats().heldPublisherLinks > 0;
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (!publisherHeld()) return;
            clearInterval(poll);
            progress.off('puback', check);
            resolve();
          };
          // The backend's counters emit nothing: looked at after each PUBACK and now and then.
          const poll = setInterval(check, 20);
          progress.on('puback', check);
          check();
        }),
        60_000,
        'the backend to hold the flood publisher',
      );
      try {
        await roundTrip(running.url, 30_000);
      } finally {
        releaseStall();
      }
      const duringProbe = { pubacked, received: received.size };

      await withTimeout(published, 120_000, `PUBACKs for all ${MESSAGES} messages`);
      // Every PUBACKed message is delivered.
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (received.size >= MESSAGES) {
              progress.off('message', check);
              resolve();
            }
          };
          progress.on('message', check);
          check();
        }),
        120_000,
        'every PUBACKed message to be delivered',
      );
      sample();
      const stats = running.backend.stats().subscriptions;
      console.log(
        `flood: ${MESSAGES} QoS 1 messages, probe served at ${JSON.stringify(duringProbe)}; max queued at the bridge ${maxQueued}, ` +
          `max held for the subscriber ${maxHeld}, max buffered in the backend ${maxBuffered} ` +
          `(high water ${stats.bufferedHighWater}), max publications waiting for room ${maxWaiting}, ` +
          `max socket bytes ${maxSocketBytes}, delivered ${received.size}, dropped ${stats.droppedBacklogFull}`,
      );
      expect(duringProbe.received).toBe(1);
      expect(pubacked).toBe(MESSAGES);
      expect(received.size).toBe(MESSAGES);
      expect(stats.droppedBacklogFull).toBe(0);
      expect(stats.droppedByStore).toBe(0);
      expect(running.backend.stats().rejectedSlowSubscriber).toBe(0);
    } finally {
      clearInterval(sampler);
    }

    // The bounds (the stats are sums over clients): the endpoint's receive maximum per publishing client (the
    // flood publisher and the probe), the outbound window per receiving client (the subscriber and the probe),
    // the backend's in-memory limit per session (subscriber, publisher, probe), and socket buffers of at most
    // a few stream high-water marks.
    expect(maxQueued).toBeLessThanOrEqual(RECEIVE_MAXIMUM * 2);
    expect(maxHeld).toBeLessThanOrEqual(OUTBOUND_WINDOW * 2);
    expect(running.backend.stats().subscriptions.bufferedHighWater).toBeLessThanOrEqual(
      MAX_IN_MEMORY_PER_CLIENT * 3,
    );
    // Publications waiting for room: at most the credit window of each of the publisher's 10 topic links.
    expect(maxWaiting).toBeLessThanOrEqual(PUBLISH_CREDIT_WINDOW * 10);
    expect(maxSocketBytes).toBeLessThan(4 * 1024 * 1024);
  }, 240_000);
});

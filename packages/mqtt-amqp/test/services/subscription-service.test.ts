import type { AmqpMessage, Outcome } from '@dragoman/amqp';
import { describe, expect, it } from 'vitest';
import { createMemoryStores, type MqttMessage, StoreClosedError, SubscriptionService } from '../../src/index';
import { RecordingOutlet } from './support/recording-outlet';

const accepted: Outcome = { state: 'accepted' };
const text = (m: MqttMessage): string => m.payload.toString();
const message = (topic: string, payload: string, qos: 0 | 1 | 2): MqttMessage => ({
  topic,
  payload: Buffer.from(payload),
  qos,
  retain: false,
});

async function service(
  window: number,
  maxBacklogPerSession = 1000,
  wrap?: (sessions: ReturnType<typeof createMemoryStores>['sessions']) => void,
  qos0Window?: number,
) {
  const stores = createMemoryStores({ maxBacklogPerSession });
  wrap?.(stores.sessions);
  const ss = await SubscriptionService.start({
    sessions: stores.sessions,
    retained: stores.retained,
    // The recording outlet reads the delivery back from the "message".
    encode: (delivery) => ({ delivery }) as unknown as AmqpMessage,
    maxInMemoryPerClient: window,
    ...(qos0Window !== undefined ? { maxInMemoryForQos0: qos0Window } : {}),
  });
  return { stores, ss };
}

/**
 * Nine QoS 1 messages queued for client 'c' (subscribed to 't'), then sent with room for all and settled in
 * batches of what has been sent so far, each batch in one tick while the backlog is being read: each message
 * must be sent exactly once, in order, and the backlog end empty.
 */
async function settlesEachOnceInBatches(
  ss: Awaited<ReturnType<typeof service>>['ss'],
  stores: Awaited<ReturnType<typeof service>>['stores'],
): Promise<void> {
  await ss.list('c');
  ss.ready('c');
  await ss.subscribe('c', [{ filter: 't', qos: 1 }]);
  const outlet = new RecordingOutlet();
  ss.attach('c', outlet);
  for (let i = 0; i < 9; i++) await ss.publish(message('t', `m${i}`, 1), undefined);
  outlet.credit = 100;
  ss.flow('c', outlet);
  let settled = 0;
  while (settled < 9) {
    await outlet.until(Math.min(9, settled + 3));
    // Everything sent so far, in the same tick.
    for (const sent of outlet.sent.slice(settled)) sent.settle(accepted);
    settled = outlet.sent.length;
  }
  await ss.idle();
  expect(outlet.sent.map((s) => text(s.delivery.message))).toEqual(
    Array.from({ length: 9 }, (_, i) => `m${i}`),
  );
  expect(await stores.sessions.backlogSize('c')).toBe(0);
}

describe('SubscriptionService', () => {
  it('holds at most the window in memory, refills from the store as deliveries settle, in order', async () => {
    const { stores, ss } = await service(3);
    await ss.list('c');
    ss.ready('c');
    await ss.subscribe('c', [{ filter: 't', qos: 1 }]);
    const outlet = new RecordingOutlet();
    ss.attach('c', outlet);
    for (let i = 0; i < 10; i++) await ss.publish(message('t', `m${i}`, 1), undefined);
    expect(ss.stats().buffered).toBe(3);
    expect(await stores.sessions.backlogSize('c')).toBe(10);

    outlet.credit = 100;
    ss.flow('c', outlet);
    for (let n = 1; n <= 10; n++) {
      await outlet.until(n);
      expect(ss.stats().buffered).toBeLessThanOrEqual(3);
      outlet.sent[n - 1]?.settle(accepted);
    }
    expect(outlet.sent.map((s) => text(s.delivery.message))).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    await ss.idle();
    expect(await stores.sessions.backlogSize('c')).toBe(0);
    expect(ss.stats().bufferedHighWater).toBe(3);
  });

  it('settling several deliveries in one tick, while the backlog is being read, sends each message once', async () => {
    // The memory store acknowledges at once; a backlog read started by the first acknowledgement still lists
    // the entries the following ones remove, and must not load them again.
    const { stores, ss } = await service(3);
    await settlesEachOnceInBatches(ss, stores);
  });

  it('the same with a store that acknowledges a turn later (as LMDB does): each message is sent once', async () => {
    // A backlog read started before an acknowledgement takes effect still lists that entry; it must not be
    // loaded again once the acknowledgement has been answered.
    const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
    const { stores, ss } = await service(3, 1000, (sessions) => {
      const ack = sessions.ack.bind(sessions);
      const backlog = sessions.backlog.bind(sessions);
      sessions.ack = (clientId, seq) => turn().then(() => ack(clientId, seq));
      // A read lists what the store holds when it starts, and answers two turns later.
      sessions.backlog = (clientId, options) => {
        const read = backlog(clientId, options);
        return turn()
          .then(turn)
          .then(() => read);
      };
    });
    await settlesEachOnceInBatches(ss, stores);
  });

  it('keeps QoS 0 without credit within the window (room: hasRoomFor), drops it beyond, sends it as credit comes', async () => {
    const { ss } = await service(2);
    await ss.close('c');
    await ss.subscribe('c', [{ filter: 't', qos: 0 }]);
    const outlet = new RecordingOutlet();
    ss.attach('c', outlet);
    expect(ss.hasRoomFor(message('t', 'x', 0), undefined)).toBe(true);
    await ss.publish(message('t', 'first', 0), undefined);
    await ss.publish(message('t', 'second', 0), undefined);
    expect(ss.hasRoomFor(message('t', 'x', 0), undefined)).toBe(false);
    // A QoS 1 publication reaches this subscription at QoS 0: it needs the same room.
    expect(ss.hasRoomFor(message('t', 'x', 1), undefined)).toBe(false);
    await ss.publish(message('t', 'dropped', 0), undefined);
    expect(ss.stats().droppedNoCredit).toBe(1);
    expect(outlet.sent).toEqual([]);
    outlet.credit = 5;
    ss.flow('c', outlet);
    expect(outlet.sent.map((s) => text(s.delivery.message))).toEqual(['first', 'second']);
  });

  it('maxInMemoryForQos0: live QoS 0 is taken below it, QoS 1 up to the window', async () => {
    const { ss } = await service(4, 1000, undefined, 2);
    await ss.close('c');
    await ss.subscribe('c', [
      { filter: 'q0', qos: 0 },
      { filter: 'q1', qos: 1 },
    ]);
    const outlet = new RecordingOutlet();
    ss.attach('c', outlet);
    await ss.publish(message('q0', 'first', 0), undefined);
    await ss.publish(message('q0', 'second', 0), undefined);
    expect(ss.hasRoomFor(message('q0', 'x', 0), undefined)).toBe(false);
    await ss.publish(message('q0', 'dropped', 0), undefined);
    expect(ss.stats().droppedNoCredit).toBe(1);
    expect(ss.hasRoomFor(message('q1', 'x', 1), undefined)).toBe(true);
    await ss.publish(message('q1', 'third', 1), undefined);
    await ss.publish(message('q1', 'fourth', 1), undefined);
    expect(ss.stats().buffered).toBe(4);
    expect(ss.hasRoomFor(message('q1', 'x', 1), undefined)).toBe(false);
    outlet.credit = 5;
    ss.flow('c', outlet);
    expect(outlet.sent.map((s) => text(s.delivery.message))).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it('maxInMemoryForQos0 above the window acts as the window; not a positive integer: RangeError', async () => {
    const { ss } = await service(2, 1000, undefined, 50);
    await ss.close('c');
    await ss.subscribe('c', [{ filter: 't', qos: 0 }]);
    ss.attach('c', new RecordingOutlet());
    await ss.publish(message('t', 'first', 0), undefined);
    await ss.publish(message('t', 'second', 0), undefined);
    expect(ss.hasRoomFor(message('t', 'x', 0), undefined)).toBe(false);
    await expect(service(2, 1000, undefined, 0)).rejects.toThrow(
      /maxInMemoryForQos0 must be a positive integer/,
    );
  });

  it('an accepted PUBREL releases a QoS 2 delivery: the next link gets a PUBREL request for it, the unsettled one again with DUP', async () => {
    const { stores, ss } = await service(10);
    await ss.list('c');
    ss.ready('c');
    await ss.subscribe('c', [{ filter: 't', qos: 2 }]);
    const outlet = new RecordingOutlet();
    outlet.credit = 10;
    ss.attach('c', outlet);
    await ss.publish(message('t', 'released', 2), undefined);
    await ss.publish(message('t', 'pending', 2), undefined);
    await outlet.until(2);
    expect(outlet.sent.map((s) => s.delivery.packetId)).toEqual([1, 2]);
    expect(await ss.release('c', 1)).toBe(true);
    await ss.detach('c', outlet);
    await ss.idle();
    expect((await stores.sessions.backlog('c')).map((e) => e.released === true)).toEqual([true, false]);

    await ss.list('c');
    ss.ready('c');
    const next = new RecordingOutlet();
    next.credit = 10;
    ss.attach('c', next);
    await next.until(2);
    expect(next.sent[0]?.request?.properties).toEqual({ subject: 'pubrel', messageId: 1, to: 't' });
    expect(text(next.sent[1]!.delivery.message)).toBe('pending');
    expect(next.sent[1]?.delivery.packetId).toBe(2);
    expect(next.sent[1]?.delivery.deliveryCount).toBe(1);
  });

  it('routes publications in the order they come, a retained one included', async () => {
    const { ss } = await service(10);
    await ss.close('c');
    await ss.subscribe('c', [{ filter: 't', qos: 1 }]);
    const outlet = new RecordingOutlet();
    outlet.credit = 10;
    ss.attach('c', outlet);
    // Not awaited one by one: a link hands its deliveries over as they arrive.
    await Promise.all([
      ss.publish({ ...message('t', 'retained', 1), retain: true }, undefined),
      ss.publish(message('t', 'plain', 1), undefined),
    ]);
    await outlet.until(2);
    expect(outlet.sent.map((s) => text(s.delivery.message))).toEqual(['retained', 'plain']);
  });

  it('drop-oldest: what memory held of the evicted entries is let go; the client gets the newest, in order', async () => {
    const { stores, ss } = await service(3, 5);
    await ss.list('c');
    ss.ready('c');
    await ss.subscribe('c', [{ filter: 't', qos: 1 }]);
    const outlet = new RecordingOutlet();
    ss.attach('c', outlet);
    for (let i = 0; i < 8; i++) await ss.publish(message('t', `m${i}`, 1), undefined);
    await ss.idle();
    expect(ss.stats().droppedBacklogFull).toBe(3);
    expect(await stores.sessions.backlogSize('c')).toBe(5);
    outlet.credit = 100;
    ss.flow('c', outlet);
    for (let n = 1; n <= 5; n++) {
      await outlet.until(n);
      outlet.sent[n - 1]?.settle(accepted);
    }
    await ss.idle();
    expect(outlet.sent.map((s) => text(s.delivery.message))).toEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
    expect(await stores.sessions.backlogSize('c')).toBe(0);
  });

  it('publish answers once every session has the message, or with the first store error', async () => {
    const stores = createMemoryStores();
    let failWrites = false;
    const enqueue = stores.sessions.enqueue.bind(stores.sessions);
    stores.sessions.enqueue = (clientId, m) =>
      failWrites ? Promise.reject(new Error(`store down for ${clientId}`)) : enqueue(clientId, m);
    const ss = await SubscriptionService.start({
      sessions: stores.sessions,
      retained: stores.retained,
      encode: (delivery) => ({ delivery }) as unknown as AmqpMessage,
    });
    for (const id of ['a', 'b']) {
      await ss.list(id);
      ss.ready(id);
      await ss.subscribe(id, [{ filter: 't', qos: 1 }]);
    }
    await expect(ss.publish(message('t', 'x', 1), undefined)).resolves.toEqual({ sessions: 2, refused: 0 });
    expect(await stores.sessions.backlogSize('a')).toBe(1);
    // No session: answered all the same (never synchronously, so this await is what lets it through).
    await expect(ss.publish(message('nobody', 'x', 1), undefined)).resolves.toEqual({
      sessions: 0,
      refused: 0,
    });
    failWrites = true;
    await expect(ss.publish(message('t', 'y', 1), undefined)).rejects.toThrow(/store down for a/);
    await ss.idle();
  });

  it('publish with the memory store (answered within the call): refused and failed writes, never synchronously', async () => {
    const stores = createMemoryStores({ maxBacklogPerSession: 1, backlogPolicy: 'refuse' });
    const ss = await SubscriptionService.start({
      sessions: stores.sessions,
      retained: stores.retained,
      encode: (delivery) => ({ delivery }) as unknown as AmqpMessage,
    });
    for (const id of ['a', 'b']) {
      await ss.list(id);
      await ss.subscribe(id, [{ filter: 't', qos: 1 }]);
    }
    // Offline sessions: the first message fills each backlog, the second is refused by both.
    let answered = false;
    const first = ss.publish(message('t', 'x', 1), undefined).then((outcome) => {
      answered = true;
      return outcome;
    });
    expect(answered).toBe(false);
    await expect(first).resolves.toEqual({ sessions: 2, refused: 0 });
    await expect(ss.publish(message('t', 'y', 1), undefined)).resolves.toEqual({ sessions: 2, refused: 2 });
    await stores.sessions.close();
    await expect(ss.publish(message('t', 'z', 1), undefined)).rejects.toThrow(StoreClosedError);
  });

  it('idle waits for the store writes under way', async () => {
    const stores = createMemoryStores();
    const enqueue = stores.sessions.enqueue.bind(stores.sessions);
    const held: Array<() => void> = [];
    stores.sessions.enqueue = (clientId, m) =>
      new Promise((resolve, reject) => held.push(() => enqueue(clientId, m).then(resolve, reject)));
    const ss = await SubscriptionService.start({
      sessions: stores.sessions,
      retained: stores.retained,
      encode: (delivery) => ({ delivery }) as unknown as AmqpMessage,
    });
    await ss.list('c');
    ss.ready('c');
    await ss.subscribe('c', [{ filter: 't', qos: 1 }]);
    const published = ss.publish(message('t', 'x', 1), undefined);
    let idle = false;
    const waiting = ss.idle().then(() => {
      idle = true;
    });
    // Every microtask run (the writes stay held): still not idle.
    await new Promise((resolve) => setImmediate(resolve));
    expect(held).toHaveLength(1);
    expect(idle).toBe(false);
    for (const release of held.splice(0)) release();
    await published;
    await waiting;
    expect(idle).toBe(true);
    expect(await stores.sessions.backlogSize('c')).toBe(1);
  });
});

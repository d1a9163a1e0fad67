/**
 * The Subscription service's MQTT packet ids and QoS 2 PUBREL step towards the client: every QoS 1/2
 * delivery carries message-id = a packet id that stays the same on redelivery; an accepted AMQP_PUBREL marks
 * the entry released (in the store) and the next publish link gets a PUBREL request for it instead of the
 * message; the store keeps released entries past expiry and eviction, in memory and on LMDB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AmqpMessage, Outcome } from '@dragoman/amqp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createMemoryStores,
  type MqttMessage,
  openLmdbStores,
  type SessionStore,
  type Stores,
  SubscriptionService,
} from '../../src/index';
import { packetIdOf } from '../../src/services/client-session';
import { RecordingOutlet } from './support/recording-outlet';

const accepted: Outcome = { state: 'accepted' };
const text = (m: MqttMessage): string => m.payload.toString();
const message = (topic: string, payload: string, qos: 0 | 1 | 2, expiry?: number): MqttMessage => ({
  topic,
  payload: Buffer.from(payload),
  qos,
  retain: false,
  ...(expiry !== undefined ? { properties: { messageExpiryInterval: expiry } } : {}),
});
const messageIdOf = (m: AmqpMessage): unknown => m.properties?.messageId;

/** A service over `sessions`; `encode` hands the delivery to the recording outlet (with a stand-in message-id). */
async function service(sessions: SessionStore, stores: Stores, window = 10) {
  return SubscriptionService.start({
    sessions,
    retained: stores.retained,
    encode: (delivery) =>
      ({ delivery, properties: { messageId: 'set by the encoder' } }) as unknown as AmqpMessage,
    maxInMemoryPerClient: window,
  });
}

/** A connected persistent session 'c' subscribed to `t` at `qos`, with an outlet of `credit`. */
async function connected(ss: SubscriptionService, qos: 1 | 2, credit = 10): Promise<RecordingOutlet> {
  await ss.list('c');
  ss.ready('c');
  await ss.subscribe('c', [{ filter: 't', qos }]);
  const outlet = new RecordingOutlet();
  outlet.credit = credit;
  ss.attach('c', outlet);
  return outlet;
}

/** The session resumed on a new publish link (the FE reconnected). */
async function resumed(ss: SubscriptionService, credit = 10): Promise<RecordingOutlet> {
  await ss.list('c');
  ss.ready('c');
  const outlet = new RecordingOutlet();
  outlet.credit = credit;
  ss.attach('c', outlet);
  return outlet;
}

describe('Subscription service: packet ids', () => {
  it('packet ids run 1..65535 and wrap', () => {
    expect([1, 2, 65_535, 65_536, 65_537, 131_070, 131_071].map(packetIdOf)).toEqual([
      1, 2, 65_535, 1, 2, 65_535, 1,
    ]);
  });

  it('QoS 1/2 deliveries carry message-id = packet id; QoS 0 none; a redelivery keeps it, with DUP', async () => {
    const stores = createMemoryStores();
    const ss = await service(stores.sessions, stores);
    await ss.list('c');
    ss.ready('c');
    await ss.subscribe('c', [
      { filter: 't0', qos: 0 },
      { filter: 't', qos: 2 },
    ]);
    const outlet = new RecordingOutlet();
    outlet.credit = 10;
    ss.attach('c', outlet);
    await ss.publish(message('t0', 'volatile', 0), undefined);
    await ss.publish(message('t', 'one', 1), undefined);
    await ss.publish(message('t', 'two', 2), undefined);
    await outlet.until(3);
    expect(
      outlet.sent.map((s) => [text(s.delivery.message), s.delivery.packetId, messageIdOf(s.message)]),
    ).toEqual([
      ['volatile', undefined, undefined],
      ['one', 1, 1],
      ['two', 2, 2],
    ]);
    // The client did not acknowledge 'two' (the FE gives it back as delivery-failed): same id, DUP.
    outlet.sent[2]?.settle({
      state: 'modified',
      deliveryFailed: true,
      undeliverableHere: false,
      messageAnnotations: undefined,
    });
    await outlet.until(4);
    expect(outlet.sent[3]?.delivery.packetId).toBe(2);
    expect(messageIdOf(outlet.sent[3]!.message)).toBe(2);
    expect(outlet.sent[3]?.delivery.deliveryCount).toBe(1);

    // A new link (the client reconnected): the unsettled ones again, same ids, DUP.
    await ss.detach('c', outlet);
    const next = await resumed(ss);
    await next.until(2);
    expect(
      next.sent.map((s) => [text(s.delivery.message), messageIdOf(s.message), s.delivery.deliveryCount > 0]),
    ).toEqual([
      ['one', 1, true],
      ['two', 2, true],
    ]);
    for (const s of next.sent) s.settle(accepted);
    await ss.idle();
    expect(await stores.sessions.backlogSize('c')).toBe(0);
  });

  it('a delivery whose packet id is still in flight (65 535 entries older) waits for it', async () => {
    const stores = createMemoryStores();
    // The store's 2nd and later entries are seen 65 534 further on: entry 1 and entry 65 536 share packet id 1.
    const far = (seq: number): number => (seq === 1 ? 1 : seq + 65_534);
    const near = (seq: number): number => (seq === 1 ? 1 : seq - 65_534);
    const base = stores.sessions;
    const shifted: SessionStore = {
      open: (clientId, options) => base.open(clientId, options),
      get: (clientId) => base.get(clientId),
      list: () => base.list(),
      subscribe: (clientId, subscriptions) => base.subscribe(clientId, subscriptions),
      unsubscribe: (clientId, filters) => base.unsubscribe(clientId, filters),
      disconnect: (clientId, options) => base.disconnect(clientId, options),
      delete: (clientId) => base.delete(clientId),
      expire: () => base.expire(),
      backlogSize: (clientId) => base.backlogSize(clientId),
      close: () => base.close(),
      enqueue: async (clientId, m) => {
        const result = await base.enqueue(clientId, m);
        return result.status === 'queued' ? { ...result, seq: far(result.seq) } : result;
      },
      backlog: async (clientId, options) =>
        (await base.backlog(clientId, options)).map((e) => ({ ...e, seq: far(e.seq) })),
      ack: (clientId, seq) => base.ack(clientId, near(seq)),
      release: (clientId, seq) => base.release(clientId, near(seq)),
    };
    const ss = await service(shifted, stores);
    const outlet = await connected(ss, 1);
    for (const payload of ['first', 'second', 'third']) await ss.publish(message('t', payload, 1), undefined);
    await outlet.until(1);
    await ss.idle();
    expect(outlet.sent.map((s) => [text(s.delivery.message), s.delivery.packetId])).toEqual([['first', 1]]);
    outlet.sent[0]?.settle(accepted);
    await outlet.until(3);
    expect(outlet.sent.map((s) => [text(s.delivery.message), s.delivery.packetId])).toEqual([
      ['first', 1],
      ['second', 1],
      ['third', 2],
    ]);
  });
});

describe('Subscription service: QoS 2 PUBREL step', () => {
  it('AMQP_PUBREL releases the delivery but keeps it until the FE settles it on PUBCOMP', async () => {
    const stores = createMemoryStores();
    const ss = await service(stores.sessions, stores);
    const outlet = await connected(ss, 2);
    await ss.publish(message('t', 'exactly once', 2), undefined);
    await outlet.until(1);
    expect(await ss.release('c', 99)).toBe(false); // not in flight
    expect(await ss.release('c', 1)).toBe(true);
    expect(await ss.release('c', 1)).toBe(true); // AMQP_PUBREL again (at-least-once link): no harm
    expect(await stores.sessions.backlog('c')).toMatchObject([{ released: true, message: { topic: 't' } }]);
    expect(ss.stats().buffered).toBe(1);
    outlet.sent[0]?.settle(accepted); // PUBCOMP
    await ss.idle();
    expect(await stores.sessions.backlogSize('c')).toBe(0);
    expect(ss.stats().buffered).toBe(0);
  });

  it('QoS 1 deliveries are not released by an AMQP_PUBREL', async () => {
    const stores = createMemoryStores();
    const ss = await service(stores.sessions, stores);
    const outlet = await connected(ss, 1);
    await ss.publish(message('t', 'once or more', 1), undefined);
    await outlet.until(1);
    expect(await ss.release('c', 1)).toBe(false);
    expect(await stores.sessions.backlog('c')).toMatchObject([{ seq: 1 }]);
    expect((await stores.sessions.backlog('c'))[0]?.released).toBeUndefined();
  });

  it('the next link gets a PUBREL request for each released one first in order, then the rest; across reconnects until accepted', async () => {
    const stores = createMemoryStores();
    const ss = await service(stores.sessions, stores);
    const outlet = await connected(ss, 2);
    for (const payload of ['a', 'b', 'c']) await ss.publish(message('t', payload, 2), undefined);
    await outlet.until(3);
    expect(await ss.release('c', 1)).toBe(true);
    expect(await ss.release('c', 3)).toBe(true);
    await ss.detach('c', outlet); // the connection went: nothing settled

    const second = await resumed(ss);
    await second.until(3);
    expect(
      second.sent.map((s) => s.request?.properties ?? [text(s.delivery.message), messageIdOf(s.message)]),
    ).toEqual([
      { subject: 'pubrel', messageId: 1, to: 't' },
      ['b', 2],
      { subject: 'pubrel', messageId: 3, to: 't' },
    ]);
    expect(second.sent[0]?.request?.body).toBeUndefined();
    // PUBCOMP for 1; the link goes again before 3 is done; 'b' was PUBREC'd meanwhile.
    second.sent[0]?.settle(accepted);
    expect(await ss.release('c', 2)).toBe(true);
    await ss.idle();
    await ss.detach('c', second);

    const third = await resumed(ss);
    await third.until(2);
    expect(third.sent.map((s) => s.request?.properties?.messageId)).toEqual([2, 3]);
    for (const s of third.sent) s.settle(accepted);
    await ss.idle();
    expect(await stores.sessions.backlogSize('c')).toBe(0);
    // A message after that starts a fresh PUBLISH with the next packet id.
    await ss.publish(message('t', 'd', 2), undefined);
    await third.until(3);
    expect([text(third.sent[2]!.delivery.message), messageIdOf(third.sent[2]!.message)]).toEqual(['d', 4]);
  });

  it('a released message is past expiry: its PUBREL request still goes out', async () => {
    let clock = 1_000_000;
    const now = (): number => clock;
    const stores = createMemoryStores({ now });
    const ss = await SubscriptionService.start({
      sessions: stores.sessions,
      retained: stores.retained,
      encode: (delivery) => ({ delivery }) as unknown as AmqpMessage,
      now,
    });
    const outlet = await connected(ss, 2);
    await ss.publish(message('t', 'short-lived', 2, 5), undefined);
    await outlet.until(1);
    expect(await ss.release('c', 1)).toBe(true);
    await ss.detach('c', outlet);
    clock += 60_000;
    const next = await resumed(ss);
    await next.until(1);
    expect(next.sent[0]?.request?.properties?.messageId).toBe(1);
    expect(ss.stats().expired).toBe(0);
  });
});

describe.each(['memory', 'lmdb'] as const)('session store (%s): released entries', (kind) => {
  let dir: string | undefined;
  const opened: Stores[] = [];
  beforeEach(async () => {
    dir = kind === 'lmdb' ? await mkdtemp(join(tmpdir(), 'dragoman-released-')) : undefined;
  });
  afterEach(async () => {
    for (const stores of opened.splice(0)) await stores.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const open = (options: { now?: () => number; maxBacklogPerSession?: number } = {}): Stores => {
    const stores =
      dir === undefined ? createMemoryStores(options) : openLmdbStores({ path: dir, ...options });
    opened.push(stores);
    return stores;
  };

  it('release marks the entry (payload dropped, kept in order); unknown entries and sessions say false', async () => {
    const stores = open();
    await stores.sessions.open('c', { clean: false });
    await stores.sessions.enqueue('c', message('t', 'one', 2));
    await stores.sessions.enqueue('c', message('t', 'two', 2));
    expect(await stores.sessions.release('c', 1)).toBe(true);
    expect(await stores.sessions.release('c', 7)).toBe(false);
    expect(await stores.sessions.release('nobody', 1)).toBe(false);
    const backlog = await stores.sessions.backlog('c');
    expect(backlog.map((e) => [e.seq, e.released === true, text(e.message)])).toEqual([
      [1, true, ''],
      [2, false, 'two'],
    ]);
    expect(await stores.sessions.ack('c', 1)).toBe(true);
    expect(await stores.sessions.backlogSize('c')).toBe(1);
  });

  it('a released entry neither expires nor is evicted by drop-oldest', async () => {
    let clock = 1_000_000;
    const stores = open({ now: () => clock, maxBacklogPerSession: 2 });
    await stores.sessions.open('c', { clean: false });
    await stores.sessions.enqueue('c', message('t', 'released', 2, 1));
    expect(await stores.sessions.release('c', 1)).toBe(true);
    clock += 10_000;
    await stores.sessions.enqueue('c', message('t', 'old', 1));
    await stores.sessions.enqueue('c', message('t', 'new', 1)); // full: evicts 'old', not the released one
    expect((await stores.sessions.backlog('c')).map((e) => [e.seq, e.released === true])).toEqual([
      [1, true],
      [3, false],
    ]);
  });

  it('a released entry survives reopening the store', async () => {
    const stores = open();
    await stores.sessions.open('c', { clean: false });
    await stores.sessions.enqueue('c', message('t', 'one', 2));
    await stores.sessions.release('c', 1);
    if (kind === 'memory') return; // memory is lost with the process
    await stores.close();
    opened.splice(opened.indexOf(stores), 1);
    const again = open();
    expect(await again.sessions.backlog('c')).toMatchObject([
      { seq: 1, released: true, message: { topic: 't' } },
    ]);
  });
});

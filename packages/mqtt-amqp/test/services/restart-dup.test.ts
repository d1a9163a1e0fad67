/**
 * DUP (delivery-count > 0) on what a previous process may have sent: a Subscription service on an LMDB store
 * stops with QoS 1 deliveries unsettled (the store closed in order, or acknowledgements never written, as a
 * crash leaves them), a new one starts on the same path, and the client's next link gets the entries the
 * previous process may have sent — the first window of the backlog — with DUP, and the others without.
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
  type Stores,
  SubscriptionService,
} from '../../src/index';
import { RecordingOutlet } from './support/recording-outlet';

const accepted: Outcome = { state: 'accepted' };
const WINDOW = 4;

const message = (payload: string): MqttMessage => ({
  topic: 't',
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
});

let dir: string;
const opened: Stores[] = [];
const services: SubscriptionService[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dragoman-restart-dup-'));
});

afterEach(async () => {
  for (const service of services.splice(0)) service.stop();
  for (const stores of opened.splice(0)) await stores.close();
  await rm(dir, { recursive: true, force: true });
});

function openStores(): Stores {
  const stores = openLmdbStores({ path: dir });
  opened.push(stores);
  return stores;
}

async function start(stores: Stores): Promise<SubscriptionService> {
  const service = await SubscriptionService.start({
    sessions: stores.sessions,
    retained: stores.retained,
    // The recording outlet reads the delivery back from the "message".
    encode: (delivery) => ({ delivery }) as unknown as AmqpMessage,
    maxInMemoryPerClient: WINDOW,
  });
  services.push(service);
  return service;
}

/** Client 'c' resumes its session (subscribed to 't' at QoS 1) and attaches a link with `credit`. */
async function connect(service: SubscriptionService, credit: number): Promise<RecordingOutlet> {
  await service.list('c');
  service.ready('c');
  const outlet = new RecordingOutlet();
  outlet.credit = credit;
  service.attach('c', outlet);
  return outlet;
}

/** Stops the service and closes its store, as an orderly shutdown does (nothing settled). */
async function shutDown(service: SubscriptionService, stores: Stores): Promise<void> {
  await service.idle();
  service.stop();
  await stores.close();
  opened.splice(opened.indexOf(stores), 1);
}

/** What a link got: payload, packet id (message-id) and DUP, in order. */
function received(outlet: RecordingOutlet): Array<[string, number | undefined, boolean]> {
  return outlet.sent.map(({ delivery }) => [
    delivery.message.payload.toString(),
    delivery.packetId,
    delivery.deliveryCount > 0,
  ]);
}

/** Waits for `n` deliveries on the link, accepting each as it comes (the window lets the next ones go). */
async function acceptUntil(outlet: RecordingOutlet, n: number): Promise<void> {
  let settled = 0;
  while (settled < n) {
    await outlet.until(settled + 1);
    for (const sent of outlet.sent.slice(settled)) sent.settle(accepted);
    settled = outlet.sent.length;
  }
}

const names = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `m${from + i}`);

describe('Subscription service on LMDB: DUP on what a previous process may have sent', () => {
  it('the window the previous process held comes again with DUP and the same packet ids; entries behind it without', async () => {
    const stores = openStores();
    const first = await start(stores);
    const outlet = await connect(first, 2);
    await first.subscribe('c', [{ filter: 't', qos: 1 }]);
    for (const name of names(0, 3)) await first.publish(message(name), undefined);
    await outlet.until(2);
    // The client goes: the rest queues in the store, beyond what was ever in memory.
    await first.disconnect('c');
    for (const name of names(3, 9)) await first.publish(message(name), undefined);
    await shutDown(first, stores);

    const second = await start(openStores());
    const again = await connect(second, 100);
    await acceptUntil(again, 9);
    // m0 and m1 were sent. m2 and m3 were not, but are within the first window of the backlog, which the
    // backlog alone cannot tell from sent ones; m4.. are beyond it.
    expect(received(again)).toEqual([
      ['m0', 1, true],
      ['m1', 2, true],
      ['m2', 3, true],
      ['m3', 4, true],
      ['m4', 5, false],
      ['m5', 6, false],
      ['m6', 7, false],
      ['m7', 8, false],
      ['m8', 9, false],
    ]);
  });

  it('acknowledgements whose removal is not written yet keep their place in the window, so a crash then still gets DUP right', async () => {
    const stores = openStores();
    // Acknowledgements are held: never written, as a process killed before they are committed leaves them.
    const held: number[] = [];
    stores.sessions.ack = (_clientId, seq) => {
      held.push(seq);
      return new Promise<boolean>(() => {});
    };
    const first = await start(stores);
    await first.list('c');
    first.ready('c');
    await first.subscribe('c', [{ filter: 't', qos: 1 }]);
    const outlet = new RecordingOutlet();
    outlet.credit = 100;
    first.attach('c', outlet);
    for (const name of names(0, WINDOW)) await first.publish(message(name), undefined);
    await outlet.until(WINDOW);
    expect(first.hasRoomFor(message('probe'), undefined)).toBe(false);
    // The client acknowledges two: memory has room, the window has not (their removal is under way).
    outlet.sent[0]?.settle(accepted);
    outlet.sent[1]?.settle(accepted);
    expect(held).toEqual([1, 2]);
    expect(first.stats().buffered).toBe(WINDOW - 2);
    expect(first.hasRoomFor(message('probe'), undefined)).toBe(false);
    // Published now, these wait in the store: they are never sent by this process.
    for (const name of names(WINDOW, WINDOW + 3)) await first.publish(message(name), undefined);
    await first.disconnect('c');
    expect(outlet.sent.map((s) => s.delivery.message.payload.toString())).toEqual(names(0, WINDOW));
    // The "crash": the held acknowledgements are never written; what the store has is what the next one reads.
    first.stop();
    await stores.close();
    opened.splice(opened.indexOf(stores), 1);

    const second = await start(openStores());
    const again = await connect(second, 100);
    await acceptUntil(again, WINDOW + 3);
    expect(received(again)).toEqual([
      ['m0', 1, true],
      ['m1', 2, true],
      ['m2', 3, true],
      ['m3', 4, true],
      ['m4', 5, false],
      ['m5', 6, false],
      ['m6', 7, false],
    ]);
  });

  it("entries queued in this process before the client's first read are not the previous process's", async () => {
    const stores = openStores();
    const first = await start(stores);
    const outlet = await connect(first, 100);
    await first.subscribe('c', [{ filter: 't', qos: 1 }]);
    for (const name of names(0, 2)) await first.publish(message(name), undefined);
    await outlet.until(2);
    await shutDown(first, stores);

    const second = await start(openStores());
    // The client is away: two more queue, in the window's reach but behind the old entries.
    for (const name of names(2, 4)) await second.publish(message(name), undefined);
    const again = await connect(second, 100);
    await again.until(4);
    expect(received(again)).toEqual([
      ['m0', 1, true],
      ['m1', 2, true],
      ['m2', 3, false],
      ['m3', 4, false],
    ]);
    // Settled, the old entries are gone: a later link gets what is left without DUP.
    for (const sent of again.sent.slice(0, 2)) sent.settle(accepted);
    await second.idle();
    await second.disconnect('c');
    const later = await connect(second, 100);
    await later.until(2);
    expect(received(later)).toEqual([
      ['m2', 3, true],
      ['m3', 4, true],
    ]);
  });

  it('a restart with nothing in the backlog marks nothing: the next messages come without DUP', async () => {
    const stores = openStores();
    const first = await start(stores);
    const outlet = await connect(first, 100);
    await first.subscribe('c', [{ filter: 't', qos: 1 }]);
    await first.publish(message('m0'), undefined);
    await outlet.until(1);
    outlet.sent[0]?.settle(accepted);
    await shutDown(first, stores);

    const second = await start(openStores());
    for (const name of names(1, 3)) await second.publish(message(name), undefined);
    const again = await connect(second, 100);
    await again.until(2);
    expect(received(again)).toEqual([
      ['m1', 2, false],
      ['m2', 3, false],
    ]);
  });
});

describe('Subscription service: a clean start forgets what was sent of the old backlog', () => {
  it('entries of the new backlog reuse the old seqs, and come without DUP', async () => {
    const stores = createMemoryStores();
    const service = await start(stores);
    const outlet = await connect(service, 100);
    await service.subscribe('c', [{ filter: 't', qos: 1 }]);
    for (const name of names(0, 2)) await service.publish(message(name), undefined);
    await outlet.until(2);
    // A new connection of the client with a clean start takes over while m0 and m1 are unsettled.
    await service.close('c', 3_600);
    await service.subscribe('c', [{ filter: 't', qos: 1 }]);
    for (const name of ['n0', 'n1']) await service.publish(message(name), undefined);
    await service.disconnect('c');
    // It comes back to its (new) session: the entries have the seqs m0 and m1 had.
    const again = await connect(service, 100);
    await again.until(2);
    expect(received(again)).toEqual([
      ['n0', 1, false],
      ['n1', 2, false],
    ]);
  });
});

import { EventEmitter } from 'node:events';
import type { EventContext, Message, Sender } from 'rhea';
import { describe, expect, it } from 'vitest';
import { type Backend, createMemoryStores } from '../../src/index';
import { pollUntil } from '../support/poll';
import { startBackend } from './support/fixture';
import { FrontEnd, type Inbox, publishMessage, send, TIMEOUT_MS, text } from './support/peer';

/**
 * A publisher as fast as the backend lets it be: hands rhea each message as soon as rhea says the link is
 * sendable, never waiting for outcomes. Emits 'outcome' after each one.
 */
class Flood extends EventEmitter {
  readonly outcomes = new Map<number, string>();
  #next = 0;

  constructor(
    readonly sender: Sender,
    readonly topic: string,
    readonly count: number,
    readonly qos: 0 | 1 = 1,
  ) {
    super();
    const record = (state: string) => (context: EventContext) => {
      const index = (context.delivery as unknown as { index?: number }).index;
      if (index === undefined) return;
      const error = (context.delivery as unknown as { remote_state?: { error?: { condition?: string } } })
        .remote_state?.error;
      this.outcomes.set(index, error?.condition === undefined ? state : `${state} ${error.condition}`);
      this.emit('outcome');
    };
    for (const state of ['accepted', 'rejected', 'released', 'modified']) sender.on(state, record(state));
    sender.on('sendable', () => this.#pump());
    this.#pump();
  }

  get accepted(): number {
    let n = 0;
    for (const state of this.outcomes.values()) if (state === 'accepted') n += 1;
    return n;
  }

  #pump(): void {
    while (this.#next < this.count && this.sender.sendable()) {
      const i = this.#next++;
      const delivery = this.sender.send(publishMessage(this.topic, `m${i}`, this.qos) as Message);
      (delivery as unknown as { index: number }).index = i;
    }
  }
}

/** Takes `count` deliveries one credit at a time (a subscriber slower than its publisher), accepting each. */
async function drainSlowly(
  inbox: Inbox,
  count: number,
  check: () => void | Promise<void>,
): Promise<string[]> {
  const received: string[] = [];
  while (received.length < count) {
    inbox.addCredit(1);
    const [item] = await inbox.take(1);
    received.push(text(item!.message));
    item?.delivery.accept();
    await check();
  }
  return received;
}

const range = (n: number): string[] => Array.from({ length: n }, (_, i) => `m${i}`);

function held(backend: Backend): boolean {
  return backend.stats().heldPublisherLinks === 1;
}

describe('back-pressure: nothing accepted is dropped for a connected subscriber', () => {
  it('a session that grants credit slowly holds its QoS 1 publisher back; every accepted message arrives, buffers stay bounded', async () => {
    const WINDOW = 10;
    const CREDIT = 20;
    const MESSAGES = 200;
    const stores = createMemoryStores({ maxBacklogPerSession: 50 });
    const f = await startBackend({
      store: stores,
      maxInMemoryPerClient: WINDOW,
      publishCreditWindow: CREDIT,
    });
    const fe = new FrontEnd(await f.peer(), 'slow');
    await fe.list();
    await fe.subscribe({ flood: 1 });
    const inbox = await fe.attachPublish(0);

    const flood = new Flood(await (await f.peer()).sender('flood'), 'flood', MESSAGES);
    await pollUntil(() => held(f.backend), 'the publisher link to be held', TIMEOUT_MS);
    // Taken: what the session's memory window holds. Waiting: at most the link's credit window.
    expect(flood.accepted).toBeLessThanOrEqual(WINDOW);
    expect(f.backend.stats().waitingPublications).toBeLessThanOrEqual(CREDIT);

    const received = await drainSlowly(inbox, MESSAGES, async () => {
      const stats = f.backend.stats();
      expect(stats.subscriptions.buffered).toBeLessThanOrEqual(WINDOW);
      expect(stats.waitingPublications).toBeLessThanOrEqual(CREDIT);
      expect(await stores.sessions.backlogSize('slow')).toBeLessThanOrEqual(WINDOW);
    });
    expect(received).toEqual(range(MESSAGES));
    await pollUntil(() => flood.outcomes.size === MESSAGES, 'every outcome', TIMEOUT_MS);
    expect(flood.accepted).toBe(MESSAGES);
    const stats = f.backend.stats();
    expect(stats.subscriptions.droppedBacklogFull).toBe(0);
    expect(stats.subscriptions.bufferedHighWater).toBeLessThanOrEqual(WINDOW);
    expect(stats.heldPublisherLinks).toBe(0);
    expect(stats.waitingPublications).toBe(0);
    await f.backend.close();
    await stores.close();
  });

  it('a native receiver that grants credit slowly holds its QoS 1 publisher back; every accepted message arrives', async () => {
    const QUEUE = 5;
    const CREDIT = 10;
    const MESSAGES = 100;
    const f = await startBackend({ maxQueuedPerNativeReceiver: QUEUE, publishCreditWindow: CREDIT });
    const inbox = await (await f.peer()).receiver('native/flood', 0);
    const flood = new Flood(await (await f.peer()).sender('native/flood'), 'native/flood', MESSAGES);
    await pollUntil(() => held(f.backend), 'the publisher link to be held', TIMEOUT_MS);
    expect(flood.accepted).toBeLessThanOrEqual(QUEUE);
    expect(f.backend.stats().nativeQueued).toBeLessThanOrEqual(QUEUE);

    const received = await drainSlowly(inbox, MESSAGES, () => {
      const stats = f.backend.stats();
      expect(stats.nativeQueued).toBeLessThanOrEqual(QUEUE);
      expect(stats.waitingPublications).toBeLessThanOrEqual(CREDIT);
    });
    expect(received).toEqual(range(MESSAGES));
    await pollUntil(() => flood.outcomes.size === MESSAGES, 'every outcome', TIMEOUT_MS);
    expect(flood.accepted).toBe(MESSAGES);
    expect(f.backend.stats().nativeDropped).toBe(0);
  });

  it('a QoS 0 flood holds its publisher like a QoS 1 one: both slow subscribers get every message, nothing dropped', async () => {
    const MESSAGES = 40;
    const f = await startBackend({
      maxQueuedPerNativeReceiver: 5,
      maxInMemoryPerClient: 10,
      publishCreditWindow: 8,
    });
    const stalled = await (await f.peer()).receiver('q0', 0);
    const fe = new FrontEnd(await f.peer(), 'q0-session');
    await fe.list();
    await fe.subscribe({ q0: 1 });
    const inbox = await fe.attachPublish(0);
    const flood = new Flood(await (await f.peer()).sender('q0'), 'q0', MESSAGES, 0);
    await pollUntil(() => held(f.backend), 'the QoS 0 publisher link to be held', TIMEOUT_MS);
    expect(flood.accepted).toBeLessThan(MESSAGES);
    expect(f.backend.stats().nativeQueued).toBeLessThanOrEqual(5);

    stalled.addCredit(MESSAGES);
    const received = await drainSlowly(inbox, MESSAGES, () => {
      expect(f.backend.stats().subscriptions.buffered).toBeLessThanOrEqual(10);
    });
    expect(received).toEqual(range(MESSAGES));
    expect((await stalled.take(MESSAGES)).map((r) => text(r.message))).toEqual(range(MESSAGES));
    const stats = f.backend.stats();
    expect(stats.nativeDropped).toBe(0);
    expect(stats.subscriptions.droppedNoCredit).toBe(0);
    expect(stats.heldPublisherLinks).toBe(0);
  });

  it("slowSubscriberPolicy 'drop': a QoS 0 flood is not held; what finds no room is dropped and counted", async () => {
    const f = await startBackend({
      maxQueuedPerNativeReceiver: 5,
      maxInMemoryPerClient: 10,
      slowSubscriberPolicy: 'drop',
    });
    const stalled = await (await f.peer()).receiver('q0', 0);
    const fe = new FrontEnd(await f.peer(), 'q0-session');
    await fe.list();
    await fe.subscribe({ q0: 1 });
    const inbox = await fe.attachPublish(0);
    const flood = new Flood(await (await f.peer()).sender('q0'), 'q0', 20, 0);
    await pollUntil(() => flood.outcomes.size === 20, 'every outcome', TIMEOUT_MS);
    expect(flood.accepted).toBe(20);
    const stats = f.backend.stats();
    expect(stats.heldPublisherLinks).toBe(0);
    expect(stats.nativeQueued).toBe(5);
    expect(stats.nativeDropped).toBe(15);
    // The session's memory window (10) waits for credit; the rest is dropped.
    expect(stats.subscriptions.droppedNoCredit).toBe(10);
    stalled.addCredit(10);
    expect((await stalled.take(5)).map((r) => text(r.message))).toEqual(range(5));
    inbox.addCredit(20);
    expect((await inbox.take(10)).map((r) => text(r.message))).toEqual(range(10));
  });

  it('two publishers held by one slow subscriber share the room it frees, one publication each in turn', async () => {
    const f = await startBackend({ maxInMemoryPerClient: 2, publishCreditWindow: 10 });
    const fe = new FrontEnd(await f.peer(), 'shared-room');
    await fe.list();
    await fe.subscribe({ fair: 1 });
    const inbox = await fe.attachPublish(0);
    const first = new Flood(await (await f.peer()).sender('fair'), 'fair', 30);
    await pollUntil(
      () => f.backend.stats().heldPublisherLinks === 1,
      'the first publisher to be held',
      TIMEOUT_MS,
    );
    const second = new Flood(await (await f.peer()).sender('fair'), 'fair', 30);
    await pollUntil(
      () => f.backend.stats().heldPublisherLinks === 2,
      'both publishers to be held',
      TIMEOUT_MS,
    );

    // Taken one at a time: each freed slot goes to the publishers in turn, not to the first one held.
    await drainSlowly(inbox, 24, () => {});
    await pollUntil(() => first.accepted + second.accepted >= 24, 'the routed ones accepted', TIMEOUT_MS);
    expect(first.accepted).toBeGreaterThanOrEqual(10);
    expect(second.accepted).toBeGreaterThanOrEqual(10);
  });

  it('a subscriber that takes nothing holds its publisher for slowSubscriberTimeoutMs, then publications are rejected', async () => {
    const f = await startBackend({
      maxQueuedPerNativeReceiver: 2,
      publishCreditWindow: 4,
      slowSubscriberTimeoutMs: 200,
    });
    const stalled = await (await f.peer()).receiver('stuck', 0);
    const flood = new Flood(await (await f.peer()).sender('stuck'), 'stuck', 6);
    await pollUntil(() => flood.outcomes.size === 6, 'every outcome', TIMEOUT_MS);
    expect([...flood.outcomes.entries()].sort(([a], [b]) => a - b).map(([, s]) => s)).toEqual([
      'accepted',
      'accepted',
      'rejected amqp:resource-limit-exceeded',
      'rejected amqp:resource-limit-exceeded',
      'rejected amqp:resource-limit-exceeded',
      'rejected amqp:resource-limit-exceeded',
    ]);
    expect(f.backend.stats().rejectedSlowSubscriber).toBe(4);
    expect(f.backend.stats().nativeDropped).toBe(0);
    stalled.addCredit(10);
    expect((await stalled.take(2)).map((r) => text(r.message))).toEqual(range(2));
  });

  it('holds only the links whose publications wait: another publisher on another topic goes on', async () => {
    const f = await startBackend({ maxQueuedPerNativeReceiver: 2, publishCreditWindow: 4 });
    await (await f.peer()).receiver('held/topic', 0);
    const fast = await (await f.peer()).receiver('free/topic', 100);
    const flood = new Flood(await (await f.peer()).sender('held/topic'), 'held/topic', 20);
    await pollUntil(() => held(f.backend), 'the first publisher link to be held', TIMEOUT_MS);
    const other = await (await f.peer()).sender('free/topic');
    for (let i = 0; i < 10; i++) {
      expect((await send(other, publishMessage('free/topic', `m${i}`, 1))).state).toBe('accepted');
    }
    expect((await fast.take(10)).map((r) => text(r.message))).toEqual(range(10));
    expect(f.backend.stats().heldPublisherLinks).toBe(1);
    expect(flood.accepted).toBe(2);
  });

  it('refuses a slowSubscriberPolicy or slowSubscriberTimeoutMs that makes no sense', async () => {
    await expect(startBackend({ slowSubscriberPolicy: 'wait' as unknown as 'drop' })).rejects.toMatchObject({
      name: 'ConfigurationError',
      option: 'slowSubscriberPolicy',
    });
    await expect(startBackend({ slowSubscriberTimeoutMs: 0 })).rejects.toMatchObject({
      name: 'ConfigurationError',
      option: 'slowSubscriberTimeoutMs',
    });
  });

  it("slowSubscriberPolicy 'drop': a native receiver's overflow is dropped and counted, the publisher never held", async () => {
    const f = await startBackend({ maxQueuedPerNativeReceiver: 5, slowSubscriberPolicy: 'drop' });
    const stalled = await (await f.peer()).receiver('native/flood', 0);
    const publisher = await (await f.peer()).sender('native/flood');
    for (let i = 0; i < 20; i++) await send(publisher, publishMessage('native/flood', `m${i}`, 1));
    const stats = f.backend.stats();
    expect(stats.nativeQueued).toBe(5);
    expect(stats.nativeDropped).toBe(15);
    expect(stats.heldPublisherLinks).toBe(0);
    stalled.addCredit(10);
    expect((await stalled.take(5)).map((r) => text(r.message))).toEqual(range(5));
  });

  it('an offline persistent session keeps a bounded backlog that drops its oldest (the store policy)', async () => {
    const stores = createMemoryStores({ maxBacklogPerSession: 50 });
    const f = await startBackend({ store: stores, maxInMemoryPerClient: 10 });
    const fe = new FrontEnd(await f.peer(), 'away');
    await fe.list();
    await fe.subscribe({ flood: 1 });
    // No publish link: the client is not connected, so nothing waits for it.
    const publisher = await (await f.peer()).sender('flood');
    for (let i = 0; i < 200; i++) {
      expect((await send(publisher, publishMessage('flood', `m${i}`, 1))).state).toBe('accepted');
    }
    const stats = f.backend.stats();
    expect(stats.subscriptions.droppedBacklogFull).toBe(150);
    expect(stats.heldPublisherLinks).toBe(0);
    expect(await stores.sessions.backlogSize('away')).toBe(50);

    // It connects: the newest 50 come, in order, never more than the window in memory.
    const inbox = await fe.attachPublish(100);
    const received: string[] = [];
    while (received.length < 50) {
      const [item] = await inbox.take(1);
      received.push(text(item!.message));
      item?.delivery.accept();
    }
    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => `m${150 + i}`));
    expect(f.backend.stats().subscriptions.bufferedHighWater).toBeLessThanOrEqual(10);
    await fe.unsubscribe(['none']);
    expect(await stores.sessions.backlogSize('away')).toBe(0);
    await f.backend.close();
    await stores.close();
  });

  it("with the store's refuse policy an offline session's full backlog pushes back on the publisher", async () => {
    const stores = createMemoryStores({ maxBacklogPerSession: 3, backlogPolicy: 'refuse' });
    const f = await startBackend({ store: stores, maxInMemoryPerClient: 2 });
    const fe = new FrontEnd(await f.peer(), 'refusing');
    await fe.list();
    await fe.subscribe({ r: 1 });
    const publisher = await (await f.peer()).sender('r');
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const outcome = await send(publisher, publishMessage('r', `m${i}`, 1));
      outcomes.push(
        `${outcome.state}${outcome.error?.condition === undefined ? '' : ` ${outcome.error.condition}`}`,
      );
    }
    // Nothing acknowledged is dropped: what did not fit is refused (the bridge answers PUBACK 0x97).
    expect(outcomes).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'rejected amqp:resource-limit-exceeded',
      'rejected amqp:resource-limit-exceeded',
      'rejected amqp:resource-limit-exceeded',
    ]);
    expect(f.backend.stats().subscriptions.droppedBacklogFull).toBe(3);
    const inbox = await fe.attachPublish(10);
    const got: string[] = [];
    while (got.length < 3) {
      const [item] = await inbox.take(1);
      got.push(text(item!.message));
      item?.delivery.accept();
    }
    expect(got).toEqual(['m0', 'm1', 'm2']);
    await f.backend.close();
    await stores.close();
  });
});

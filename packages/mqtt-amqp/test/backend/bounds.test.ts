import { describe, expect, it } from 'vitest';
import { createMemoryStores } from '../../src/index';
import { startBackend } from './support/fixture';
import { FrontEnd, publishMessage, send, text } from './support/peer';

describe('bounds and back-pressure', () => {
  it('a subscriber without credit and a fast publisher: memory stays within its bound, the backlog within its own', async () => {
    const stores = createMemoryStores({ maxBacklogPerSession: 50 });
    const f = await startBackend({ store: stores, maxInMemoryPerClient: 10 });
    const fe = new FrontEnd(await f.peer(), 'slow');
    await fe.list();
    await fe.subscribe({ flood: 1 });
    const inbox = await fe.attachPublish(0);

    const publisher = await (await f.peer()).sender('flood');
    for (let i = 0; i < 200; i++) {
      // Accepted = taken: stored in the session's backlog (which drops its oldest when full).
      expect((await send(publisher, publishMessage('flood', `m${i}`, 1))).state).toBe('accepted');
    }
    for (let i = 0; i < 5; i++) await send(publisher, publishMessage('flood', `q0-${i}`, 0));

    const stats = f.backend.stats().subscriptions;
    expect(stats.bufferedHighWater).toBeLessThanOrEqual(10);
    expect(stats.buffered).toBeLessThanOrEqual(10);
    expect(stats.droppedBacklogFull).toBe(150);
    expect(stats.droppedNoCredit).toBe(5);
    expect(await stores.sessions.backlogSize('slow')).toBe(50);
    expect(inbox.items).toEqual([]);

    // Credit arrives: the newest 50 come, in order, never more than the window at once.
    inbox.addCredit(100);
    const received: string[] = [];
    while (received.length < 50) {
      const [item] = await inbox.take(1);
      received.push(text(item!.message));
      item?.delivery.accept();
    }
    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => `m${150 + i}`));
    expect(f.backend.stats().subscriptions.bufferedHighWater).toBeLessThanOrEqual(10);
    // A request on the same connection is handled after the dispositions before it.
    await fe.unsubscribe(['none']);
    expect(await stores.sessions.backlogSize('slow')).toBe(0);
    await stores.close();
  });

  it("with the store's refuse policy a full backlog pushes back on the publisher", async () => {
    const stores = createMemoryStores({ maxBacklogPerSession: 3, backlogPolicy: 'refuse' });
    const f = await startBackend({ store: stores, maxInMemoryPerClient: 2 });
    const fe = new FrontEnd(await f.peer(), 'refusing');
    await fe.list();
    await fe.subscribe({ r: 1 });
    const inbox = await fe.attachPublish(0);
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
    inbox.addCredit(10);
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

  it('a native receiver without credit: its queue is bounded and the overflow counted', async () => {
    const f = await startBackend({ maxQueuedPerNativeReceiver: 5 });
    const stalled = await (await f.peer()).receiver('native/flood', 0);
    const publisher = await (await f.peer()).sender('native/flood');
    for (let i = 0; i < 20; i++) await send(publisher, publishMessage('native/flood', `n${i}`, 1));
    const stats = f.backend.stats();
    expect(stats.nativeQueued).toBeLessThanOrEqual(5);
    expect(stats.nativeDropped).toBe(15);
    stalled.addCredit(10);
    const got = await stalled.take(5);
    expect(got.map((r) => text(r.message))).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
  });
});

/**
 * QoS 2 from an MQTT client on the durable stores when the backend fails in the middle: the backlog writes of
 * the routing and the remember of the publication are one LMDB transaction, so a failure right after the
 * backlog write leaves neither, and the publisher's re-send on a new backend is routed exactly once; a refused
 * publication is not remembered, so its re-send is routed. rhea, used directly, plays the front ends.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { StoreOptions } from '../../src/index';
import { storesQos2Of } from '../../src/store';
import {
  type DurableFixture,
  type Fixture,
  startDurableBackend,
  takeUpTo,
  temporaryDirectory,
} from './support/fixture';
import { exactlyOnceLink, FrontEnd, type Inbox, publishMessage, send, text } from './support/peer';

let dir: string;

beforeEach(async () => {
  dir = await temporaryDirectory('dragoman-qos2-crash-');
});

/** A backend on the LMDB stores at `dir` (QoS 2 memory in the same environment); `stop` closes both. */
function durableBackend(options: StoreOptions = {}): Promise<DurableFixture> {
  return startDurableBackend(dir, options);
}

const qos2 = (topic: string, packetId: number, payload: string) =>
  publishMessage(topic, payload, 2, false, { message_id: packetId });

/** A persistent session subscribed to `filter` at QoS 2, its client gone (messages go to its backlog). */
async function offlineSubscriber(f: Fixture, clientId: string, filter: string): Promise<void> {
  const fe = new FrontEnd(await f.peer(), clientId);
  await fe.list();
  await fe.subscribe({ [filter]: 2 });
  await fe.peer.close();
}

/** What the session's backlog holds: its client comes back and takes everything up to `marker`. */
async function backlogOf(f: Fixture, clientId: string, marker: string): Promise<string[]> {
  const fe = new FrontEnd(await f.peer(), clientId);
  await fe.list();
  const inbox: Inbox = await fe.attachPublish(100);
  return takeUpTo(inbox, marker);
}

describe('QoS 2 on the durable stores: routing and remembering are one step', () => {
  it('a failure right after the backlog write leaves nothing: the re-send is routed once', async () => {
    const first = await durableBackend();
    await offlineSubscriber(first, 'crash-sub', 'crash/#');
    // The remember, written in the routing's transaction after the backlog write, fails as a kill there would.
    const memory = storesQos2Of(first.stores)?.store;
    expect(memory).toBeDefined();
    Object.assign(memory as object, {
      add() {
        throw new Error('killed between the backlog write and the remember');
      },
    });
    const link = await exactlyOnceLink(await first.peer(), 'crash-pub', 'crash/t');
    const failed = await send(link, qos2('crash/t', 7, 'seven'));
    expect(failed.state).toBe('rejected');
    expect(first.backend.stats().unreleasedQos2).toBe(0);
    await first.stop();

    const second = await durableBackend();
    expect(second.backend.stats().unreleasedQos2).toBe(0);
    const again = await exactlyOnceLink(await second.peer(), 'crash-pub', 'crash/t');
    expect((await send(again, qos2('crash/t', 7, 'seven'))).state).toBe('accepted');
    // A re-send of that one now is a duplicate.
    expect((await send(again, qos2('crash/t', 7, 'seven'))).state).toBe('accepted');
    expect(second.backend.stats().duplicatesNotRouted).toBe(1);
    const marker = await (await second.peer()).sender('crash/t');
    expect((await send(marker, publishMessage('crash/t', 'marker', 1))).state).toBe('accepted');
    expect(await backlogOf(second, 'crash-sub', 'marker')).toEqual(['seven', 'marker']);
    await second.stop();
  });

  it('what was routed and accepted is remembered by a new backend: the re-send is not routed', async () => {
    const first = await durableBackend();
    await offlineSubscriber(first, 'kept-sub', 'kept/#');
    const link = await exactlyOnceLink(await first.peer(), 'kept-pub', 'kept/t');
    expect((await send(link, qos2('kept/t', 9, 'nine'))).state).toBe('accepted');
    await first.stop();

    const second = await durableBackend();
    expect(second.backend.stats().unreleasedQos2).toBe(1);
    const again = await exactlyOnceLink(await second.peer(), 'kept-pub', 'kept/t');
    expect((await send(again, qos2('kept/t', 9, 'nine'))).state).toBe('accepted');
    expect(second.backend.stats().duplicatesNotRouted).toBe(1);
    const marker = await (await second.peer()).sender('kept/t');
    expect((await send(marker, publishMessage('kept/t', 'marker', 1))).state).toBe('accepted');
    expect(await backlogOf(second, 'kept-sub', 'marker')).toEqual(['nine', 'marker']);
    await second.stop();
  });

  it('a publication a full backlog refused is not remembered: its re-send is routed', async () => {
    const first = await durableBackend({ maxBacklogPerSession: 1, backlogPolicy: 'refuse' });
    await offlineSubscriber(first, 'full-sub', 'full/#');
    const filler = await (await first.peer()).sender('full/t');
    expect((await send(filler, publishMessage('full/t', 'filler', 1))).state).toBe('accepted');
    const link = await exactlyOnceLink(await first.peer(), 'full-pub', 'full/t');
    const refused = await send(link, qos2('full/t', 3, 'three'));
    expect(refused).toMatchObject({
      state: 'rejected',
      error: { condition: 'amqp:resource-limit-exceeded' },
    });
    await first.stop();

    const second = await durableBackend({ maxBacklogPerSession: 1, backlogPolicy: 'refuse' });
    expect(second.backend.stats().unreleasedQos2).toBe(0);
    expect(await backlogOf(second, 'full-sub', 'filler')).toEqual(['filler']);
    const again = await exactlyOnceLink(await second.peer(), 'full-pub', 'full/t');
    expect((await send(again, qos2('full/t', 3, 'three'))).state).toBe('accepted');
    expect(second.backend.stats().duplicatesNotRouted).toBe(0);
    expect(second.backend.stats().unreleasedQos2).toBe(1);
    await second.stop();
  });

  it("delivers one link's QoS 1 and QoS 2 publications in order to a connected subscriber", async () => {
    const f = await durableBackend();
    const subscriber = new FrontEnd(await f.peer(), 'order-sub');
    await subscriber.list();
    const inbox = await subscriber.attachPublish(100);
    await subscriber.subscribe({ 'order/#': 2 });
    const link = await exactlyOnceLink(await f.peer(), 'order-pub', 'order/t');
    const payloads = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const outcomes = await Promise.all(
      payloads.map((payload, i) =>
        send(link, i % 2 === 0 ? qos2('order/t', i + 1, payload) : publishMessage('order/t', payload, 1)),
      ),
    );
    expect(outcomes.map((o) => o.state)).toEqual(payloads.map(() => 'accepted'));
    expect(f.backend.stats().unreleasedQos2).toBe(20);
    const received = await inbox.take(payloads.length);
    for (const item of received) item.delivery.accept();
    expect(received.map((item) => text(item.message))).toEqual(payloads);
    await f.stop();
  });
});

import type { EventEmitter } from 'node:events';
import type { Message } from 'rhea';
import { describe, expect, it } from 'vitest';
import { createMemoryStores } from '../../src/index';
import { startBackend, upToMarker } from './support/fixture';
import { FrontEnd, next, publishMessage, send, text } from './support/peer';

describe('routing and retained messages', () => {
  it('keeps retained messages (set, replace, delete) and gives them to new subscribers only', async () => {
    const f = await startBackend();
    const existing = new FrontEnd(await f.peer(), 'old');
    await existing.list();
    await existing.subscribe({ 'r/+': 1 });
    const oldInbox = await existing.attachPublish(20);

    const publisher = await (await f.peer()).sender(undefined);
    for (const [topic, payload] of [
      ['r/a', 'v1'],
      ['r/a', 'v2'],
      ['r/b', 'b'],
      ['r/b', ''],
    ] as const) {
      expect((await send(publisher, publishMessage(topic, payload, 1, true))).state).toBe('accepted');
    }
    // Live subscribers get every publication, retain flag cleared.
    const live = await oldInbox.take(4);
    expect(live.map((r) => text(r.message))).toEqual(['v1', 'v2', 'b', '']);
    expect(live.every((r) => r.message.message_annotations?.['x-opt-retain-message'] === false)).toBe(true);
    for (const r of live) r.delivery.accept();

    const newcomer = new FrontEnd(await f.peer(), 'new');
    await newcomer.list();
    const newInbox = await newcomer.attachPublish(20);
    expect((await newcomer.subscribe({ 'r/+': 1 })).state).toBe('accepted');
    const [retained] = await newInbox.take(1);
    expect(retained?.message.to).toBe('r/a');
    expect(text(retained!.message)).toBe('v2');
    expect(retained?.message.message_annotations?.['x-opt-retain-message']).toBe(true);
    retained?.delivery.accept();
    // Nothing else for the newcomer (r/b was deleted), and nothing re-published to the old subscriber.
    expect(await upToMarker(f, newInbox, 'r/m')).toEqual(['marker']);
    expect(await upToMarker(f, oldInbox, 'r/m', 'marker-2')).toEqual(['marker', 'marker-2']);
  });

  it('retain handling 2 sends no retained messages; retain-as-published keeps the flag', async () => {
    const f = await startBackend();
    const publisher = await (await f.peer()).sender('rh/t');
    await send(publisher, publishMessage('rh/t', 'kept', 1, true));
    const fe = new FrontEnd(await f.peer(), 'rh');
    await fe.list();
    const inbox = await fe.attachPublish(10);
    await fe.subscribe(
      { 'rh/#': 1 },
      { options: { 'rh/#': { 'retain-handling': 2, 'retain-as-published': true } } },
    );
    await send(publisher, publishMessage('rh/t', 'again', 1, true));
    const [live] = await inbox.take(1);
    expect(text(live!.message)).toBe('again');
    expect(live?.message.message_annotations?.['x-opt-retain-message']).toBe(true);
    live?.delivery.accept();
  });

  it('retain handling 1 sends retained messages for a new subscription only', async () => {
    const f = await startBackend();
    const publisher = await (await f.peer()).sender('rh1/t');
    await send(publisher, publishMessage('rh1/t', 'retained', 1, true));
    const fe = new FrontEnd(await f.peer(), 'rh1');
    await fe.list();
    const inbox = await fe.attachPublish(10);
    const options = { options: { 'rh1/#': { 'retain-handling': 1 } }, identifier: 9 };
    await fe.subscribe({ 'rh1/#': 1 }, options);
    const [first] = await inbox.take(1);
    expect(text(first!.message)).toBe('retained');
    expect(first?.message.message_annotations?.['x-opt-mqtt-subscription-identifiers']).toEqual([9]);
    first?.delivery.accept();
    await fe.subscribe({ 'rh1/#': 1 }, options);
    expect(await upToMarker(f, inbox, 'rh1/t')).toEqual(['marker']);
  });

  it('a wildcard at the first level does not match $ topics, live or retained', async () => {
    const f = await startBackend();
    const publisher = await (await f.peer()).sender(undefined);
    await send(publisher, publishMessage('$SYS/retained', 'sys', 1, true));
    const fe = new FrontEnd(await f.peer(), 'dollar');
    await fe.list();
    const inbox = await fe.attachPublish(10);
    await fe.subscribe({ '#': 1, '+/load': 1 });
    await send(publisher, publishMessage('$SYS/load', 'sys-live', 1));
    expect(await upToMarker(f, inbox, 'plain')).toEqual(['marker']);

    await fe.subscribe({ '$SYS/#': 1 });
    const [sys] = await inbox.take(1);
    expect(text(sys!.message)).toBe('sys');
    sys?.delivery.accept();
  });

  it('a native AMQP receiver on a topic gets what a native AMQP sender publishes there; a filter address matches wildcards', async () => {
    const f = await startBackend();
    const consumers = await f.peer();
    const exact = await consumers.receiver('sensors/1/temp', 10);
    const wildcard = await consumers.receiver('sensors/+/temp', 10);
    const producer = await (await f.peer()).sender('sensors/1/temp');
    // A plain AMQP message: no MQTT annotations, a string body.
    expect((await send(producer, { body: '21.5', durable: true } as Message)).state).toBe('accepted');
    const other = await (await f.peer()).sender('sensors/2/temp');
    await send(other, { body: '19.0' } as Message);

    const [fromExact] = await exact.take(1);
    expect(text(fromExact!.message)).toBe('21.5');
    expect(fromExact?.message.to).toBe('sensors/1/temp');
    expect(fromExact?.message.message_annotations?.['x-opt-mqtt-qos']).toBe(1);
    const fromWildcard = await wildcard.take(2);
    expect(fromWildcard.map((r) => r.message.to)).toEqual(['sensors/1/temp', 'sensors/2/temp']);
    expect(fromWildcard[1]?.message.message_annotations?.['x-opt-mqtt-qos']).toBe(0);
    expect(exact.rest()).toEqual([]);
    expect(f.backend.stats()).toMatchObject({ nativeReceivers: 2, published: 2, nativeDropped: 0 });
  });

  it('native receivers attached or detached between publications on one topic count from the next one', async () => {
    const QUEUE = 3;
    const f = await startBackend({ maxQueuedPerNativeReceiver: QUEUE });
    const consumers = await f.peer();
    // No credit: what reaches it queues, up to QUEUE.
    const stuck = await consumers.receiver('cache/t', 0);
    const producer = await (await f.peer()).sender('cache/t');
    const publish = async (body: string) =>
      expect((await send(producer, { body, durable: true } as Message)).state).toBe('accepted');
    await publish('one');
    await publish('two');
    // Attached after the topic was routed: it gets the next publication.
    const late = await consumers.receiver('cache/+', 10);
    await publish('mid');
    expect((await late.take(1)).map((r) => text(r.message))).toEqual(['mid']);
    expect(f.backend.stats().nativeQueued).toBe(QUEUE);
    // Detached with a full queue: more QoS 1 publications than a queue holds go on without waiting for it.
    stuck.link.close();
    await next(stuck.link as unknown as EventEmitter, 'receiver_close');
    const after = ['three', 'four', 'five', 'six'];
    for (const body of after) await publish(body);
    expect((await late.take(after.length)).map((r) => text(r.message))).toEqual(after);
    expect(f.backend.stats()).toMatchObject({ nativeReceivers: 1, nativeQueued: 0, nativeDropped: 0 });
  });

  it('a native AMQP sender reaches MQTT subscribers, QoS from durable capped at the granted QoS', async () => {
    const f = await startBackend();
    const fe = new FrontEnd(await f.peer(), 'native-target');
    await fe.list();
    await fe.subscribe({ 'cmd/#': 2 });
    const inbox = await fe.attachPublish(10);
    const producer = await (await f.peer()).sender('cmd/reboot');
    await send(producer, { body: 'now', durable: true } as Message);
    await send(producer, { body: 'later' } as Message);
    const [durable, plain] = await inbox.take(2);
    expect(durable?.message.message_annotations?.['x-opt-mqtt-qos']).toBe(1);
    expect(plain?.message.message_annotations?.['x-opt-mqtt-qos']).toBe(0);
    durable?.delivery.accept();
    plain?.delivery.accept();
  });

  it('overlapping subscriptions give one copy at the highest granted QoS with every subscription identifier', async () => {
    const f = await startBackend();
    const fe = new FrontEnd(await f.peer(), 'overlap');
    await fe.list();
    await fe.subscribe({ 'o/#': 0 }, { identifier: 1 });
    await fe.subscribe({ 'o/+': 1 }, { identifier: 2 });
    await fe.subscribe({ 'o/x': 2 });
    const inbox = await fe.attachPublish(10);
    const publisher = await (await f.peer()).sender('o/x');
    await send(publisher, publishMessage('o/x', 'once', 1));
    const [one] = await inbox.take(1);
    expect(text(one!.message)).toBe('once');
    expect(one?.message.message_annotations?.['x-opt-mqtt-qos']).toBe(1);
    expect(one?.message.message_annotations?.['x-opt-mqtt-subscription-identifiers']).toEqual([1, 2]);
    one?.delivery.accept();
    expect(await upToMarker(f, inbox, 'o/x')).toEqual(['marker']);
  });

  it('shared subscriptions spread messages round-robin over the connected members', async () => {
    const stores = createMemoryStores();
    const f = await startBackend({ store: stores });
    const members = await Promise.all(
      ['w1', 'w2'].map(async (id) => {
        const fe = new FrontEnd(await f.peer(), id);
        await fe.list();
        await fe.subscribe({ '$share/workers/jobs/#': 1 });
        return fe.attachPublish(10);
      }),
    );
    const offline = new FrontEnd(await f.peer(), 'w3');
    await offline.list();
    await offline.subscribe({ '$share/workers/jobs/#': 1 });
    await offline.peer.close();

    const publisher = await (await f.peer()).sender('jobs/a');
    for (let i = 0; i < 6; i++) await send(publisher, publishMessage('jobs/a', `job${i}`, 1));
    const [first, second] = await Promise.all(members.map((inbox) => inbox.take(3)));
    const got = [...(first ?? []), ...(second ?? [])].map((r) => text(r.message)).sort();
    expect(got).toEqual(['job0', 'job1', 'job2', 'job3', 'job4', 'job5']);
    for (const inbox of members) for (const r of inbox.items) r.delivery.accept();
    // The disconnected member got none of them.
    expect(await stores.sessions.backlogSize('w3')).toBe(0);
    await f.backend.close();
    await stores.close();
  });

  it('no-local keeps a client from getting its own publications', async () => {
    const f = await startBackend();
    const self = new FrontEnd(await f.peer(), 'talker');
    await self.list();
    await self.subscribe({ 'chat/#': 1 }, { options: { 'chat/#': { 'no-local': true } } });
    const selfInbox = await self.attachPublish(10);
    const listener = new FrontEnd(await f.peer(), 'listener');
    await listener.list();
    await listener.subscribe({ 'chat/#': 1 });
    const otherInbox = await listener.attachPublish(10);

    const own = await self.peer.sender('chat/room', { properties: { 'x-opt-mqtt-client-id': 'talker' } });
    await send(own, publishMessage('chat/room', 'hello', 1));
    const [heard] = await otherInbox.take(1);
    expect(text(heard!.message)).toBe('hello');
    heard?.delivery.accept();
    expect(await upToMarker(f, selfInbox, 'chat/room')).toEqual(['marker']);
  });

  it('refuses links to reserved addresses and non-topic filters', async () => {
    const f = await startBackend();
    const p = await f.peer();
    const error = (await p.refusedReceiver('a/#/b')) as { condition?: string } | undefined;
    expect(error?.condition).toBe('amqp:invalid-field');
    const reserved = (await p.refusedReceiver('$mqtt.subscriptionservice')) as
      | { condition?: string }
      | undefined;
    expect(reserved?.condition).toBe('amqp:not-allowed');
  });
});

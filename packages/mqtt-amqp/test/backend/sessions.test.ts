import { describe, expect, it } from 'vitest';
import { createMemoryStores } from '../../src/index';
import { startBackend, upToMarker } from './support/fixture';
import { detach, FrontEnd, publishMessage, send, text } from './support/peer';

describe('Subscription service: sessions', () => {
  it('answers AMQP_LIST with the session, then delivers the offline backlog in order', async () => {
    const f = await startBackend();
    const first = new FrontEnd(await f.peer(), 'p1');
    expect(await first.list()).toEqual({});
    expect((await first.subscribe({ 'orders/#': 1 })).state).toBe('accepted');
    await first.attachPublish(10);
    await first.peer.close();

    const publisher = await (await f.peer()).sender('orders/1');
    for (let i = 1; i <= 5; i++) {
      expect((await send(publisher, publishMessage('orders/1', `m${i}`, 1))).state).toBe('accepted');
    }

    // The returning client attaches its publish receiver first: the reply must still come before the backlog.
    const again = new FrontEnd(await f.peer(), 'p1');
    const order: string[] = [];
    again.control = await again.peer.receiver('$mqtt.to.p1.control', 10);
    again.control.on('message', () => order.push('subscriptions'));
    const inbox = await again.attachPublish(10);
    inbox.on('message', () => order.push('publish'));
    expect(await again.list()).toEqual({ 'orders/#': 1 });
    const backlog = await inbox.take(5);
    expect(backlog.map((r) => text(r.message))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(order[0]).toBe('subscriptions');
    expect(backlog[0]?.message.message_annotations?.['x-opt-mqtt-qos']).toBe(1);
    for (const r of backlog) r.delivery.accept();
  });

  it('AMQP_CLOSE drops the previous session and its backlog', async () => {
    const stores = createMemoryStores();
    const f = await startBackend({ store: stores });
    const first = new FrontEnd(await f.peer(), 'p2');
    await first.list();
    await first.subscribe({ 'news/#': 1 });
    await first.peer.close();
    const publisher = await (await f.peer()).sender('news/a');
    await send(publisher, publishMessage('news/a', 'queued', 1));
    expect(await stores.sessions.backlogSize('p2')).toBe(1);

    const again = new FrontEnd(await f.peer(), 'p2');
    expect((await again.closeSession()).state).toBe('accepted');
    expect(await stores.sessions.backlogSize('p2')).toBe(0);
    expect((await stores.sessions.get('p2'))?.subscriptions.size).toBe(0);
    await stores.close();
  });

  it('ends a clean session when its client goes', async () => {
    const stores = createMemoryStores();
    const f = await startBackend({ store: stores });
    const fe = new FrontEnd(await f.peer(), 'p3');
    await fe.closeSession();
    await fe.subscribe({ 'x/#': 1 });
    const inbox = await fe.attachPublish(5);
    await detach(inbox.link);
    // The detach is handled before the next request on the same connection.
    const probe = new FrontEnd(fe.peer, 'p3-probe');
    await probe.closeSession();
    expect(await stores.sessions.get('p3')).toBeUndefined();
    expect(f.backend.stats().subscriptions.sessions).toBe(1);
    await stores.close();
  });

  it('accepts AMQP_SUBSCRIBE, and refuses with the configured reason code', async () => {
    const f = await startBackend({
      authorizeSubscription: (_client, filter) => !filter.startsWith('secret/'),
      refusedSubscriptionReasonCode: 0x87,
    });
    const fe = new FrontEnd(await f.peer(), 'p4');
    await fe.list();
    expect((await fe.subscribe({ 'public/#': 1 })).state).toBe('accepted');
    const refused = await fe.subscribe({ 'secret/#': 1 });
    expect(refused.state).toBe('rejected');
    expect(refused.error?.condition).toBe('amqp:unauthorized-access');
    expect(refused.error?.info?.['reason-code']).toBe(0x87);
    const invalid = await fe.subscribe({ 'a/#/b': 0 });
    expect(invalid.state).toBe('rejected');
    expect(invalid.error?.condition).toBe('amqp:invalid-field');
    expect(invalid.error?.info?.['reason-code']).toBe(0x8f);
    expect(await fe.list()).toEqual({ 'public/#': 1 });
  });

  it('AMQP_UNSUBSCRIBE stops delivery', async () => {
    const f = await startBackend();
    const fe = new FrontEnd(await f.peer(), 'p5');
    await fe.list();
    await fe.subscribe({ 'u/a': 1, 'u/b': 1 });
    const inbox = await fe.attachPublish(10);
    expect((await fe.unsubscribe(['u/a'])).state).toBe('accepted');
    const publisher = await (await f.peer()).sender(undefined);
    await send(publisher, publishMessage('u/a', 'gone', 1));
    expect(await upToMarker(f, inbox, 'u/b')).toEqual(['marker']);
  });

  it('QoS 2 towards the client: an accepted AMQP_PUBREL completes the delivery, no redelivery after reconnect', async () => {
    const stores = createMemoryStores();
    const f = await startBackend({ store: stores });
    const fe = new FrontEnd(await f.peer(), 'p6');
    await fe.list();
    await fe.subscribe({ 'q2/#': 2 });
    const inbox = await fe.attachPublish(10);
    const publisher = await (await f.peer()).sender('q2/x');
    expect((await send(publisher, publishMessage('q2/x', 'exactly once', 2))).state).toBe('accepted');
    const [delivery] = await inbox.take(1);
    expect(delivery?.message.message_annotations?.['x-opt-mqtt-qos']).toBe(2);
    // PUBREC from the client: the FE sends AMQP_PUBREL; once accepted, PUBREL goes to the client, and the
    // FE settles the original delivery on PUBCOMP. Meanwhile the backlog owes the client that PUBREL.
    expect((await fe.sendPubrel(delivery?.message.message_id)).state).toBe('accepted');
    expect(await stores.sessions.backlog('p6')).toMatchObject([{ released: true }]);
    delivery?.delivery.accept();
    await fe.peer.close();

    const again = new FrontEnd(await f.peer(), 'p6');
    const inbox2 = await again.attachPublish(10);
    await again.list();
    expect(await upToMarker(f, inbox2, 'q2/x')).toEqual(['marker']);
    await stores.close();
  });

  it('redelivers an unacknowledged QoS 1 message after reconnect, marked as redelivered', async () => {
    const f = await startBackend();
    const fe = new FrontEnd(await f.peer(), 'p7');
    await fe.list();
    await fe.subscribe({ 'q1/#': 1 });
    const inbox = await fe.attachPublish(10);
    const publisher = await (await f.peer()).sender('q1/x');
    await send(publisher, publishMessage('q1/x', 'again', 1));
    const [first] = await inbox.take(1);
    expect(first?.message.delivery_count ?? 0).toBe(0);
    fe.peer.destroy(); // never acknowledged

    const again = new FrontEnd(await f.peer(), 'p7');
    const inbox2 = await again.attachPublish(10);
    await again.list();
    const [redelivered] = await inbox2.take(1);
    expect(text(redelivered!.message)).toBe('again');
    expect(redelivered?.message.delivery_count).toBeGreaterThan(0);
    redelivered?.delivery.accept();
  });

  it('drops what expired while queued and passes on the remaining expiry interval', async () => {
    let clock = 1_000_000;
    const now = (): number => clock;
    const stores = createMemoryStores({ now });
    const f = await startBackend({ store: stores, now });
    const fe = new FrontEnd(await f.peer(), 'p8');
    await fe.list();
    await fe.subscribe({ 'exp/#': 1 });
    await fe.peer.close();
    const publisher = await (await f.peer()).sender('exp/a');
    await send(publisher, publishMessage('exp/a', 'short', 1, false, { ttl: 10_000 }));
    await send(publisher, publishMessage('exp/a', 'long', 1, false, { ttl: 100_000 }));
    clock += 20_000;

    const again = new FrontEnd(await f.peer(), 'p8');
    const inbox = await again.attachPublish(10);
    await again.list();
    const [only] = await inbox.take(1);
    expect(text(only!.message)).toBe('long');
    expect(only?.message.ttl).toBe(80_000);
    only?.delivery.accept();
    expect(await upToMarker(f, inbox, 'exp/a')).toEqual(['marker']);
    await stores.close();
  });
});

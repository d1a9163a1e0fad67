import { type AmqpConnection, type AmqpMessage, connect, valueMessage } from '@dragoman/amqp';
import {
  BufferOverflowError,
  type SendReport,
  senderSubscriber,
  sendIterable,
  sendObservable,
} from '@dragoman/reactive';
import { ProbePublisher, type SubscriberFactory, subscriberRules } from '@dragoman/reactive/testkit';
import type { Delivery, EventContext } from 'rhea';
import { Subject } from 'rxjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RheaPeer, startPeer, type WireReceiver, waitUntil } from './peer';
import { roundTrip, runChecks } from './support';

const TIMEOUT = 10_000;

function message(i: number): AmqpMessage {
  return valueMessage(i);
}

describe('senderSubscriber on the wire (rhea as the peer)', () => {
  let peer: RheaPeer;
  let connection: AmqpConnection;

  beforeEach(async () => {
    peer = await startPeer();
    peer.receiverCreditWindow = 0; // each test grants credit from the peer's side itself
    connection = await connect({ url: peer.url, reconnect: false });
  });

  afterEach(async () => {
    await connection.close();
    await peer.close();
  });

  async function attached(address = 'out', options: Parameters<typeof senderSubscriber>[2] = {}) {
    const sink = senderSubscriber(connection, address, options);
    const upstream = new ProbePublisher<AmqpMessage>(TIMEOUT);
    upstream.subscribe(sink);
    const subscription = await upstream.start('§2.1');
    const receiver = (await peer.receiverFor(address)) as WireReceiver;
    return { sink, upstream, subscription, receiver };
  }

  it('§2.1 requests from upstream exactly the credit the peer grants', async () => {
    const { upstream, subscription, receiver } = await attached();
    await roundTrip(connection);
    expect(subscription.requested).toBe(0); // no credit, no demand
    receiver.add_credit(5);
    await upstream.awaitDemand(subscription, 5, '§2.1');
    await roundTrip(connection);
    expect(subscription.requested).toBe(5);
    for (let i = 0; i < 5; i += 1) upstream.subscriber?.onNext(message(i));
    await waitUntil(peer, 'message', () => peer.received.length === 5);
    receiver.add_credit(3);
    await upstream.awaitDemand(subscription, 8, '§2.1');
    await roundTrip(connection);
    expect(subscription.requested).toBe(8);
    expect(peer.received.map((m) => m.body)).toEqual([0, 1, 2, 3, 4]);
    upstream.assertClean();
  });

  it('exposes the outcome of every message it sent', async () => {
    peer.autoAccept = false;
    const reports: SendReport[] = [];
    const waiting: Delivery[] = [];
    const settle = (delivery: Delivery, body: number): void => {
      if (body === 0) delivery.accept();
      else if (body === 1) delivery.reject({ condition: 'amqp:decode-error', description: 'bad' });
      else if (body === 2) delivery.release();
      else delivery.modified({ delivery_failed: true });
    };
    // One outcome at a time: rhea (the peer) merges dispositions written together into one range.
    const settleNext = (): void => {
      const delivery = waiting.shift();
      if (delivery !== undefined) settle(delivery, reports.length);
    };
    const { sink, upstream, subscription, receiver } = await attached('out', {
      onOutcome: (report) => {
        reports.push(report);
        settleNext();
      },
    });
    peer.on('message', (context: EventContext) => waiting.push(context.delivery as Delivery));
    receiver.add_credit(4);
    await upstream.awaitDemand(subscription, 4, '§2.1');
    for (let i = 0; i < 4; i += 1) upstream.subscriber?.onNext(message(i));
    await waitUntil(peer, 'message', () => waiting.length === 4);
    settleNext();
    upstream.complete(subscription);
    const summary = await sink.done;
    expect(reports.map((r) => r.result?.state)).toEqual(['accepted', 'rejected', 'released', 'modified']);
    expect(reports[1]?.result).toMatchObject({
      state: 'rejected',
      error: { condition: 'amqp:decode-error' },
    });
    expect(reports[3]?.result).toMatchObject({ state: 'modified', deliveryFailed: true });
    expect(summary.end).toBe('completed');
    expect(summary.counts).toMatchObject({ sent: 4, accepted: 1, rejected: 1, released: 1, modified: 1 });
  });

  it('onComplete closes the link cleanly, only after the outstanding deliveries settled', async () => {
    peer.autoAccept = false;
    const { sink, upstream, subscription, receiver } = await attached();
    const deliveries: Delivery[] = [];
    peer.on('message', (context: EventContext) => deliveries.push(context.delivery as Delivery));
    receiver.add_credit(2);
    await upstream.awaitDemand(subscription, 2, '§2.1');
    upstream.subscriber?.onNext(message(1));
    upstream.subscriber?.onNext(message(2));
    await waitUntil(peer, 'message', () => deliveries.length === 2);
    upstream.complete(subscription);
    await roundTrip(connection);
    expect(receiver.is_remote_open()).toBe(true); // two outcomes outstanding: the link stays
    for (const delivery of deliveries) delivery.accept();
    await waitUntil(peer, 'linkClosed', () => !receiver.is_remote_open());
    const detach = (receiver as unknown as { remote: { detach?: { error?: unknown; closed?: boolean } } })
      .remote.detach;
    expect(detach?.closed).toBe(true);
    expect(detach?.error ?? undefined).toBeUndefined();
    expect((await sink.done).end).toBe('completed');
  });

  it('onError closes the link with an error condition carrying the error text', async () => {
    const { sink, upstream, subscription, receiver } = await attached();
    upstream.error(subscription, new Error('sensor bus failed'));
    await waitUntil(peer, 'linkClosed', () => !receiver.is_remote_open());
    const detach = (
      receiver as unknown as {
        remote: { detach?: { error?: { condition?: unknown; description?: unknown } } };
      }
    ).remote.detach;
    expect(detach?.error?.condition).toBe('amqp:internal-error');
    expect(detach?.error?.description).toBe('sensor bus failed');
    const summary = await sink.done;
    expect(summary.end).toBe('errored');
    expect(summary.error?.message).toBe('sensor bus failed');
  });

  it('the peer detaching the receiver cancels the upstream subscription', async () => {
    const { sink, subscription, receiver } = await attached();
    receiver.close({ condition: 'amqp:resource-limit-exceeded', description: 'quota' });
    const summary = await sink.done;
    expect(subscription.cancelled).toBe(true);
    expect(summary.end).toBe('detached');
    expect((summary.error as { condition?: string } | undefined)?.condition).toBe(
      'amqp:resource-limit-exceeded',
    );
  });

  it('§2.8 messages arriving after it cancelled (the peer detached) are dropped, not sent', async () => {
    const reports: SendReport[] = [];
    const { sink, upstream, subscription, receiver } = await attached('out', {
      onOutcome: (report) => reports.push(report),
    });
    receiver.add_credit(2);
    await upstream.awaitDemand(subscription, 2, '§2.8');
    receiver.close();
    await sink.done;
    expect(subscription.cancelled).toBe(true);
    upstream.subscriber?.onNext(message(1)); // requested before the cancel: still allowed to arrive
    upstream.subscriber?.onNext(message(2));
    expect(sink.counts).toMatchObject({ sent: 0, dropped: 2 });
    expect(reports.map((r) => r.error?.name)).toEqual(['LinkClosedError', 'LinkClosedError']);
  });

  it('an AsyncIterable source never sends more than the credit granted, pulling only against it', async () => {
    let pulled = 0;
    async function* readings(): AsyncGenerator<AmqpMessage> {
      for (;;) {
        pulled += 1;
        yield message(pulled);
      }
    }
    void sendIterable(connection, 'out', readings());
    const receiver = (await peer.receiverFor('out')) as WireReceiver;
    for (const grant of [5, 1, 20]) {
      const before = peer.received.length;
      receiver.add_credit(grant);
      await waitUntil(peer, 'message', () => peer.received.length === before + grant);
      await roundTrip(connection);
      expect(peer.received.length).toBe(before + grant);
      expect(receiver.credit).toBe(0);
    }
    expect(pulled).toBe(26); // the iterable was asked for exactly what the credit allowed
  });

  it('sendIterable completes by closing the link once every outcome came back', async () => {
    peer.receiverCreditWindow = 3;
    const summary = await sendIterable(connection, 'out', [message(1), message(2), message(3), message(4)]);
    expect(summary.end).toBe('completed');
    expect(summary.counts).toMatchObject({ sent: 4, accepted: 4 });
    expect(peer.received.map((m) => m.body)).toEqual([1, 2, 3, 4]);
  });

  it('sendObservable buffers within its bound and fails with BufferOverflowError beyond it', async () => {
    const source = new Subject<AmqpMessage>();
    const done = sendObservable(connection, 'out', source, { buffer: { bufferSize: 3, overflow: 'error' } });
    const receiver = (await peer.receiverFor('out')) as WireReceiver;
    for (let i = 0; i < 3; i += 1) source.next(message(i)); // no credit yet: all three wait in the buffer
    expect(source.observed).toBe(true);
    source.next(message(3)); // the fourth overflows
    const summary = await done;
    expect(summary.end).toBe('errored');
    expect(summary.error).toBeInstanceOf(BufferOverflowError);
    expect(source.observed).toBe(false); // unsubscribed from the Observable
    await waitUntil(peer, 'linkClosed', () => !receiver.is_remote_open());
  });

  it('sendObservable with drop-oldest keeps the newest messages within the bound', async () => {
    const source = new Subject<AmqpMessage>();
    const dropped: unknown[] = [];
    const done = sendObservable(connection, 'out', source, {
      buffer: { bufferSize: 2, overflow: 'drop-oldest', onDrop: (m) => dropped.push(m.body) },
    });
    const receiver = (await peer.receiverFor('out')) as WireReceiver;
    for (let i = 0; i < 5; i += 1) source.next(message(i));
    source.complete();
    receiver.add_credit(10);
    expect((await done).end).toBe('completed');
    expect(peer.received.map((m) => m.body)).toEqual([3, 4]);
    expect(dropped).toEqual([
      { type: 'value', value: 0 },
      { type: 'value', value: 1 },
      { type: 'value', value: 2 },
    ]);
  });
});

describe('senderSubscriber satisfies the Subscriber rules (kit, against rhea)', () => {
  let peer: RheaPeer;
  let connection: AmqpConnection;
  let next = 0;

  beforeAll(async () => {
    peer = await startPeer();
    peer.receiverCreditWindow = 4;
    connection = await connect({ url: peer.url, reconnect: false });
  });

  afterAll(async () => {
    await connection.close();
    await peer.close();
  });

  const factory: SubscriberFactory<AmqpMessage> = {
    attach: (publisher) => publisher.subscribe(senderSubscriber(connection, `kit-${next++}`)),
    createElement: message,
    timeoutMs: TIMEOUT,
    quiesce: () => roundTrip(connection),
  };
  runChecks(subscriberRules(factory));
});

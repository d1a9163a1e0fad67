import { afterEach, describe, expect, it } from 'vitest';
import {
  AmqpError,
  binaryMessage,
  type Delivery,
  type DeliveryGuarantee,
  payloadOf,
  type Receiver,
  type Sender,
} from '../src/index';
import { type Loopback, loopback } from './fixtures';

let env: Loopback | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** A client sender and the listener-side receiver it attached to. */
async function clientToServer(guarantee: DeliveryGuarantee): Promise<{ sender: Sender; receiver: Receiver }> {
  env = await loopback();
  const incoming = env.nextIncomingLink();
  const sender = await env.client.openSender({ target: 'orders', guarantee });
  const link = await incoming;
  expect(link.role).toBe('receiver');
  expect(link.address).toBe('orders');
  const receiver = link.acceptReceiver();
  return { sender, receiver };
}

/** A client receiver and the listener-side sender it attached to. */
async function serverToClient(guarantee: DeliveryGuarantee): Promise<{ sender: Sender; receiver: Receiver }> {
  env = await loopback();
  const incoming = env.nextIncomingLink();
  const receiverPromise = env.client.openReceiver({ source: 'events', guarantee });
  const link = await incoming;
  expect(link.role).toBe('sender');
  expect(link.address).toBe('events');
  const sender = link.acceptSender();
  return { sender, receiver: await receiverPromise };
}

const directions = [
  ['client sender -> listener receiver', clientToServer],
  ['listener sender -> client receiver', serverToClient],
] as const;

describe.each(directions)('outcomes, %s', (_name, setUp) => {
  for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
    describe(guarantee, () => {
      it('accepted', async () => {
        const { sender, receiver } = await setUp(guarantee);
        expect(sender.settleModes).toEqual({
          sender: 'unsettled',
          receiver: guarantee === 'exactly-once' ? 'second' : 'first',
        });
        expect(receiver.settleModes).toEqual(sender.settleModes);
        const result = sender.send(binaryMessage('a'));
        const delivery = (await receiver.receive()) as Delivery;
        expect(payloadOf(delivery.message).toString()).toBe('a');
        expect(delivery.presettled).toBe(false);
        delivery.accept();
        await expect(result).resolves.toEqual({ state: 'accepted' });
        await delivery.whenSettled();
        expect(delivery.settled).toBe(true);
      });

      it('rejected, with the error', async () => {
        const { sender, receiver } = await setUp(guarantee);
        const result = sender.send(binaryMessage('b'));
        const delivery = (await receiver.receive()) as Delivery;
        delivery.reject({
          condition: 'amqp:precondition-failed',
          description: 'no such order',
          info: { field: 'id' },
        });
        const outcome = await result;
        expect(outcome.state).toBe('rejected');
        if (outcome.state !== 'rejected') return;
        expect(outcome.error).toBeInstanceOf(AmqpError);
        expect(outcome.error?.condition).toBe('amqp:precondition-failed');
        expect(outcome.error?.description).toBe('no such order');
        expect(outcome.error?.info).toEqual({ field: 'id' });
      });

      it('released', async () => {
        const { sender, receiver } = await setUp(guarantee);
        const result = sender.send(binaryMessage('c'));
        const delivery = (await receiver.receive()) as Delivery;
        delivery.release();
        await expect(result).resolves.toEqual({ state: 'released' });
      });

      it('modified, with its flags and annotations', async () => {
        const { sender, receiver } = await setUp(guarantee);
        const result = sender.send(binaryMessage('d'));
        const delivery = (await receiver.receive()) as Delivery;
        delivery.modify({
          deliveryFailed: true,
          undeliverableHere: true,
          messageAnnotations: { 'x-reason': 'busy' },
        });
        await expect(result).resolves.toEqual({
          state: 'modified',
          deliveryFailed: true,
          undeliverableHere: true,
          messageAnnotations: { 'x-reason': 'busy' },
        });
      });

      it('settling twice throws DeliveryStateError', async () => {
        const { sender, receiver } = await setUp(guarantee);
        const result = sender.send(binaryMessage('e'));
        const delivery = (await receiver.receive()) as Delivery;
        delivery.accept();
        expect(() => delivery.release()).toThrow(/already settled/);
        await result;
      });
    });
  }

  it('at-most-once: send resolves as sent, the delivery arrives pre-settled', async () => {
    const { sender, receiver } = await setUp('at-most-once');
    expect(sender.settleModes.sender).toBe('settled');
    await expect(sender.send(binaryMessage('f'))).resolves.toEqual({ state: 'sent' });
    const delivery = (await receiver.receive()) as Delivery;
    expect(delivery.presettled).toBe(true);
    expect(delivery.settled).toBe(true);
    delivery.accept(); // a no-op on a pre-settled delivery
    expect(payloadOf(delivery.message).toString()).toBe('f');
  });
});

describe('exactly-once second step', () => {
  it('the receiver settles only after the sender settled', async () => {
    const { sender, receiver } = await clientToServer('exactly-once');
    const result = sender.send(binaryMessage('g'));
    const delivery = (await receiver.receive()) as Delivery;
    delivery.accept();
    expect(delivery.settled).toBe(false);
    await expect(result).resolves.toEqual({ state: 'accepted' });
    await delivery.whenSettled();
    expect(delivery.settled).toBe(true);
  });

  it('keeps going past rhea session window (2048) of unsettled deliveries', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const sender = await env.client.openSender({ target: 'q', guarantee: 'exactly-once', maxQueued: 5000 });
    const receiver = (await incoming).acceptReceiver();
    receiver.on('delivery', (d) => d.accept());
    const results = [];
    for (let i = 0; i < 3000; i++) results.push(sender.send(binaryMessage(String(i))));
    const outcomes = await Promise.all(results);
    expect(outcomes.every((o) => o.state === 'accepted')).toBe(true);
  });
});

describe('long runs', () => {
  it('at-most-once keeps flowing past rhea session window (2048)', async () => {
    const { sender, receiver } = await clientToServer('at-most-once');
    let received = 0;
    const all = new Promise<void>((resolve) =>
      receiver.on('delivery', () => {
        received++;
        if (received === 3000) resolve();
      }),
    );
    let sent = 0;
    const pump = (): void => {
      while (sent < 3000 && sender.trySend(binaryMessage(String(sent)))) sent++;
    };
    sender.on('sendable', pump);
    pump();
    await all;
    expect(received).toBe(3000);
  });
});

describe('delivery events and iteration', () => {
  it('delivers to "delivery" listeners in order', async () => {
    const { sender, receiver } = await clientToServer('at-least-once');
    const seen: string[] = [];
    receiver.on('delivery', (d) => {
      seen.push(payloadOf(d.message).toString());
      d.accept();
    });
    await Promise.all(['1', '2', '3'].map((p) => sender.send(binaryMessage(p))));
    expect(seen).toEqual(['1', '2', '3']);
  });

  it('for await pulls deliveries and ends when the peer closes the link', async () => {
    const { sender, receiver } = await clientToServer('at-least-once');
    const sends = Array.from({ length: 5 }, (_, i) => sender.send(binaryMessage(String(i))));
    const seen: string[] = [];
    for await (const delivery of receiver) {
      seen.push(payloadOf(delivery.message).toString());
      delivery.accept();
      if (seen.length === 5) {
        await Promise.all(sends);
        void sender.close();
      }
    }
    expect(seen).toEqual(['0', '1', '2', '3', '4']);
  });

  it('a managed window bounds deliveries held unsettled', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const senderPromise = env.client.openSender({ target: 'q' });
    const receiver = (await incoming).acceptReceiver({ creditWindow: 4 });
    const sender = await senderPromise;
    const held: Delivery[] = [];
    receiver.on('delivery', (d) => held.push(d));
    const results = Array.from({ length: 10 }, (_, i) => sender.send(binaryMessage(String(i))));
    // Only the window's worth arrives while the application holds them unsettled.
    while (held.length < 4) await new Promise((r) => setImmediate(r));
    expect(sender.queued).toBe(6);
    expect(held.length).toBe(4);
    for (const d of held.splice(0)) d.accept();
    while (held.length < 4) await new Promise((r) => setImmediate(r));
    for (const d of held.splice(0)) d.accept();
    while (held.length < 2) await new Promise((r) => setImmediate(r));
    for (const d of held.splice(0)) d.accept();
    expect((await Promise.all(results)).map((o) => o.state)).toEqual(Array(10).fill('accepted'));
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  binaryMessage,
  type Delivery,
  payloadOf,
  type Receiver,
  type Sender,
  SendQueueFullError,
} from '../src/index';
import { type Loopback, loopback } from './fixtures';
import { until, waitFor } from './helpers';

let env: Loopback | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** A client sender whose listener-side receiver grants credit by hand. */
async function manualCredit(maxQueued?: number): Promise<{ sender: Sender; receiver: Receiver }> {
  env = await loopback();
  const incoming = env.nextIncomingLink();
  const sender = await env.client.openSender({
    target: 'slow',
    ...(maxQueued !== undefined ? { maxQueued } : {}),
  });
  const receiver = (await incoming).acceptReceiver({ creditWindow: 0 });
  return { sender, receiver };
}

describe('sender credit and the bounded queue', () => {
  it('with no credit, sends wait in the queue and trySend refuses', async () => {
    const { sender, receiver } = await manualCredit(3);
    expect(sender.credit).toBe(0);
    expect(receiver.creditWindow).toBe(0);
    const first = sender.send(binaryMessage('1'));
    expect(sender.queued).toBe(1);
    expect(sender.trySend(binaryMessage('x'))).toBe(false);
    receiver.addCredit(1);
    const delivery = (await receiver.receive()) as Delivery;
    expect(payloadOf(delivery.message).toString()).toBe('1');
    delivery.accept();
    await expect(first).resolves.toEqual({ state: 'accepted' });
    expect(sender.queued).toBe(0);
  });

  it('fails with SendQueueFullError when maxQueued sends already wait, and keeps the queued ones', async () => {
    const { sender, receiver } = await manualCredit(2);
    const queued = [sender.send(binaryMessage('1')), sender.send(binaryMessage('2'))];
    const overflow = sender.send(binaryMessage('3'));
    await expect(overflow).rejects.toBeInstanceOf(SendQueueFullError);
    await expect(overflow).rejects.toMatchObject({ maxQueued: 2, linkName: sender.name });
    expect(sender.queued).toBe(2);
    receiver.on('delivery', (d) => d.accept());
    receiver.addCredit(2);
    expect((await Promise.all(queued)).map((o) => o.state)).toEqual(['accepted', 'accepted']);
  });

  it('maxQueued 0 means no queue at all', async () => {
    const { sender } = await manualCredit(0);
    await expect(sender.send(binaryMessage('1'))).rejects.toBeInstanceOf(SendQueueFullError);
  });

  it('credit is visible, and whenSendable / "sendable" announce it', async () => {
    const { sender, receiver } = await manualCredit();
    const sendable = sender.whenSendable();
    const event = waitFor(sender, 'sendable');
    receiver.addCredit(5);
    await sendable;
    await event;
    expect(sender.credit).toBe(5);
    expect(sender.trySend(binaryMessage('a'))).toBe(true);
    expect(sender.credit).toBe(4);
  });

  it('trySend reports the outcome through its callback', async () => {
    const { sender, receiver } = await manualCredit();
    receiver.addCredit(1);
    await sender.whenSendable();
    receiver.on('delivery', (d) => d.reject({ condition: 'amqp:not-allowed' }));
    const outcome = await new Promise((resolve, reject) => {
      const ok = sender.trySend(binaryMessage('a'), (error, result) =>
        error ? reject(error) : resolve(result),
      );
      expect(ok).toBe(true);
    });
    expect(outcome).toMatchObject({ state: 'rejected', error: { condition: 'amqp:not-allowed' } });
  });

  it('an aborted queued send leaves the queue and rejects with the reason', async () => {
    const { sender, receiver } = await manualCredit();
    const controller = new AbortController();
    const aborted = sender.send(binaryMessage('gone'), { signal: controller.signal });
    const kept = sender.send(binaryMessage('kept'));
    controller.abort(new Error('changed my mind'));
    await expect(aborted).rejects.toThrow('changed my mind');
    expect(sender.queued).toBe(1);
    receiver.addCredit(2);
    const delivery = (await receiver.receive()) as Delivery;
    expect(payloadOf(delivery.message).toString()).toBe('kept');
    delivery.accept();
    await kept;
  });

  it('an already aborted signal rejects at once', async () => {
    const { sender } = await manualCredit();
    await expect(
      sender.send(binaryMessage('x'), { signal: AbortSignal.abort(new Error('no')) }),
    ).rejects.toThrow('no');
    expect(sender.queued).toBe(0);
  });
});

describe('receiver credit', () => {
  it('addCredit and drain in manual mode', async () => {
    const { sender, receiver } = await manualCredit();
    receiver.addCredit(10);
    await sender.whenSendable();
    expect(sender.credit).toBe(10);
    const drained = receiver.drain();
    await drained;
    expect(receiver.credit).toBe(0);
    await until(() => sender.credit === 0);
  });

  it('a drain with messages queued uses the credit for them first', async () => {
    const { sender, receiver } = await manualCredit();
    const sends = [sender.send(binaryMessage('1')), sender.send(binaryMessage('2'))];
    receiver.on('delivery', (d) => d.accept());
    receiver.addCredit(5);
    await Promise.all(sends);
    await receiver.drain();
    expect(receiver.credit).toBe(0);
  });

  it('addCredit is refused in managed mode and for bad values', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    await env.client.openSender('q');
    const managed = (await incoming).acceptReceiver({ creditWindow: 10 });
    expect(() => managed.addCredit(1)).toThrow(/manual credit/);
    await expect(managed.drain()).rejects.toThrow(/manual credit/);
    const incoming2 = env.nextIncomingLink();
    await env.client.openSender('q2');
    const manual = (await incoming2).acceptReceiver({ creditWindow: 0 });
    expect(() => manual.addCredit(0)).toThrow(/positive integer/);
    expect(() => manual.addCredit(1.5)).toThrow(/positive integer/);
  });

  it('a managed window grants its size on attach and keeps the peer topped up', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const senderPromise = env.client.openSender('q');
    const receiver = (await incoming).acceptReceiver({ creditWindow: 8 });
    const sender = await senderPromise;
    await sender.whenSendable();
    expect(sender.credit).toBe(8);
    receiver.on('delivery', (d) => d.accept());
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sender.send(binaryMessage(String(i)))),
    );
    expect(outcomes).toHaveLength(50);
    await until(() => sender.credit === 8);
  });
});

import {
  type AmqpConnection,
  binaryMessage,
  connect,
  InvalidArgumentError,
  LinkClosedError,
} from '@dragoman/amqp';
import type { Subscription } from '@dragoman/reactive';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Command,
  CommandLimitError,
  createDeviceSession,
  type DeviceSession,
  InvalidDeviceIdError,
  NoCreditError,
  PublishTimeoutError,
  SessionClosedError,
} from '../src/index';
import { RheaPeer, type Verdict } from './rhea-peer';

describe('DeviceSession against a rhea peer', () => {
  let peer: RheaPeer | undefined;
  let connection: AmqpConnection | undefined;
  let session: DeviceSession | undefined;

  afterEach(async () => {
    await session?.close();
    await connection?.close();
    await peer?.close();
    session = undefined;
    connection = undefined;
    peer = undefined;
  });

  async function open(
    options: { credit?: number; verdict?: (body: string) => Verdict } = {},
    sessionOptions: Parameters<typeof createDeviceSession>[2] = {},
  ): Promise<{ peer: RheaPeer; session: DeviceSession }> {
    const verdict = options.verdict;
    peer = await RheaPeer.start({
      ...(options.credit !== undefined ? { credit: options.credit } : {}),
      ...(verdict !== undefined ? { verdict: (r) => verdict(bodyText(r.message.body)) } : {}),
    });
    connection = await connect({ url: peer.url, reconnect: false });
    session = createDeviceSession(connection, 'sensor-1', sessionOptions);
    return { peer, session };
  }

  it('publishes QoS 1 to telemetry/<device> and resolves with each outcome the peer gives', async () => {
    const { peer, session } = await open({ verdict: (body) => body as Verdict });
    expect(await session.publish(binaryMessage('accept'))).toEqual({ state: 'accepted' });
    const rejected = await session.publish(binaryMessage('reject'));
    expect(rejected).toMatchObject({ state: 'rejected', error: { condition: 'amqp:precondition-failed' } });
    expect(await session.publish(binaryMessage('release'))).toEqual({ state: 'released' });
    expect(await session.publish(binaryMessage('modify'))).toMatchObject({
      state: 'modified',
      deliveryFailed: true,
      undeliverableHere: true,
    });
    expect(peer.received.map((r) => r.address)).toEqual(Array(4).fill('telemetry/sensor-1'));
    expect(peer.received.map((r) => r.delivery.remote_settled)).toEqual([false, false, false, false]);
  });

  it('publishes QoS 0 pre-settled and resolves as sent', async () => {
    const { peer, session } = await open();
    const arrived = peer.nextMessage();
    expect(await session.publish(binaryMessage('hello'), { qos: 0, address: 'events/x' })).toEqual({
      state: 'sent',
    });
    const received = await arrived;
    expect(received.address).toBe('events/x');
    expect(received.delivery.remote_settled).toBe(true);
    expect(bodyText(received.message.body)).toBe('hello');
  });

  it('fails with NoCreditError (reason timeout) when the peer grants no credit, and sends nothing', async () => {
    const { peer, session } = await open({ credit: 0 }, { creditTimeoutMs: 300 });
    const error = await session.publish(binaryMessage('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoCreditError);
    expect(error).toMatchObject({ reason: 'timeout', address: 'telemetry/sensor-1' });
    expect(peer.received).toHaveLength(0);
    expect(session.stats().queued).toBe(0);
  });

  it('fails at once with NoCreditError (reason queue-full) beyond maxQueuedPerLink', async () => {
    const { session } = await open({ credit: 0 }, { creditTimeoutMs: 5_000, maxQueuedPerLink: 2 });
    const waiting = [session.publish(binaryMessage('1')), session.publish(binaryMessage('2'))];
    for (const w of waiting) w.catch(() => undefined);
    await expect(session.publish(binaryMessage('3'))).rejects.toMatchObject({
      name: 'NoCreditError',
      reason: 'queue-full',
    });
    expect(session.stats().queued).toBe(2);
    await session.close();
    for (const w of waiting) await expect(w).rejects.toBeInstanceOf(LinkClosedError);
  });

  it('fails with PublishTimeoutError when a written QoS 1 message gets no outcome', async () => {
    const { peer, session } = await open({ verdict: () => 'hold' }, { outcomeTimeoutMs: 300 });
    const error = await session.publish(binaryMessage('x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishTimeoutError);
    // It was sent: the peer has it, unsettled.
    expect(peer.received).toHaveLength(1);
    expect(session.stats().unsettled).toBe(0);
  });

  it('times out each publish by its own outcome time-out, a shorter one first', async () => {
    const { session } = await open({ verdict: () => 'hold' });
    const long = session.publish(binaryMessage('long'), { outcomeTimeoutMs: 20_000 });
    long.catch(() => undefined);
    const short = await session
      .publish(binaryMessage('short'), { outcomeTimeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(short).toBeInstanceOf(PublishTimeoutError);
    expect(session.stats().unsettled).toBe(1);
    await session.close();
    await expect(long).rejects.toBeInstanceOf(LinkClosedError);
  });

  it('keeps the order of publishes that waited for credit', async () => {
    const { peer, session } = await open({ credit: 1 });
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((p) => session.publish(binaryMessage(p))));
    expect(results.every((r) => r.state === 'accepted')).toBe(true);
    expect(peer.received.map((r) => bodyText(r.message.body))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('withdraws a publish whose signal aborts while it waits for credit', async () => {
    const { peer, session } = await open({ credit: 0 }, { creditTimeoutMs: 10_000 });
    const controller = new AbortController();
    const publishing = session.publish(binaryMessage('x'), { signal: controller.signal });
    controller.abort(new Error('client went away'));
    await expect(publishing).rejects.toThrow('client went away');
    expect(session.stats().queued).toBe(0);
    expect(peer.received).toHaveLength(0);
  });

  it('rejects a message that cannot be encoded with InvalidArgumentError, and the next one still goes', async () => {
    const { session } = await open();
    await expect(session.publish(null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await session.publish(binaryMessage('ok'))).toEqual({ state: 'accepted' });
  });

  it('refuses bad device ids and bad options, and publishes after close', async () => {
    const { session } = await open();
    if (connection === undefined) throw new Error('no connection');
    expect(() => createDeviceSession(connection as AmqpConnection, 'a/b')).toThrow(InvalidDeviceIdError);
    expect(() => createDeviceSession(connection as AmqpConnection, '')).toThrow(InvalidDeviceIdError);
    expect(() => createDeviceSession(connection as AmqpConnection, 'x'.repeat(129))).toThrow(
      InvalidDeviceIdError,
    );
    expect(() => createDeviceSession(connection as AmqpConnection, 'ok', { maxLinks: 0 })).toThrow(
      RangeError,
    );
    await expect(session.publish(binaryMessage('x'), { qos: 2 as never })).rejects.toBeInstanceOf(RangeError);
    await session.close();
    await expect(session.publish(binaryMessage('x'))).rejects.toBeInstanceOf(SessionClosedError);
  });

  it('keeps at most maxLinks sender links, closing the least recently used idle one', async () => {
    const { session } = await open({}, { maxLinks: 2 });
    for (const address of ['a', 'b', 'c', 'a']) {
      expect(await session.publish(binaryMessage(address), { address })).toEqual({ state: 'accepted' });
      expect(session.stats().openLinks).toBeLessThanOrEqual(2);
    }
  });

  it('grants the peer exactly the outstanding demand of a command subscription', async () => {
    const { peer, session } = await open();
    let subscribed: (s: Subscription) => void = () => undefined;
    const subscriptionReady = new Promise<Subscription>((resolve) => {
      subscribed = resolve;
    });
    const got: Command[] = [];
    let arrived: () => void = () => undefined;
    const firstArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    session.commands().subscribe({
      onSubscribe: (s) => subscribed(s),
      onNext: (command) => {
        got.push(command);
        arrived();
      },
      onError: () => undefined,
      onComplete: () => undefined,
    });
    const subscription = await subscriptionReady;
    await peer.creditOn('commands/sensor-1', 0);
    subscription.request(3);
    await peer.creditOn('commands/sensor-1', 3);
    const sender = peer.senders.get('commands/sensor-1');
    sender?.send({ body: 'reboot' });
    await firstArrived;
    expect(sender?.credit).toBe(2);
    expect(got).toHaveLength(1);
    subscription.request(2);
    await peer.creditOn('commands/sensor-1', 4);
    // Manual settlement: the peer learns the outcome the adapter gives.
    const accepted = new Promise<void>((resolve) => sender?.once('accepted', () => resolve()));
    got[0]?.accept();
    await accepted;
    expect(await got[0]?.settled).toBe('accepted');
  });

  it('receiveCommand takes one command at a time with credit 1 on one link, and detaches when a wait ends empty', async () => {
    const { peer, session } = await open();
    const waiting = session.receiveCommand({ timeoutMs: 10_000 });
    await peer.creditOn('commands/sensor-1', 1);
    const sender = peer.senders.get('commands/sensor-1');
    sender?.send({ body: 'open-valve' });
    const command = await waiting;
    expect(bodyText(command?.message.body)).toBe('open-valve');
    expect(session.stats()).toMatchObject({ commandReceivers: 1, idleCommandReceivers: 0 });
    const released = new Promise<void>((resolve) => sender?.once('released', () => resolve()));
    command?.release();
    await released;
    // Settled: the link stays, without credit, for the next command.
    expect(sender?.credit).toBe(0);
    expect(session.stats()).toMatchObject({ commandReceivers: 0, idleCommandReceivers: 1 });

    const next = session.receiveCommand({ timeoutMs: 10_000 });
    await peer.creditOn('commands/sensor-1', 1);
    expect(peer.senders.get('commands/sensor-1')).toBe(sender);
    sender?.send({ body: 'close-valve' });
    const second = await next;
    const accepted = new Promise<void>((resolve) => sender?.once('accepted', () => resolve()));
    second?.accept();
    await accepted;

    // A wait that ends empty leaves credit at the peer: the link is detached.
    const detached = new Promise<void>((resolve) => sender?.once('sender_close', () => resolve()));
    expect(await session.receiveCommand({ timeoutMs: 200 })).toBeUndefined();
    await detached;
    expect(session.stats()).toMatchObject({ commandReceivers: 0, idleCommandReceivers: 0 });
  });

  it('completes a command stream closed before its link attached, after onSubscribe', async () => {
    const { peer, session } = await open();
    const signals: string[] = [];
    let done: () => void = () => undefined;
    const completed = new Promise<void>((resolve) => {
      done = resolve;
    });
    session.commands().subscribe({
      onSubscribe: () => {
        signals.push('subscribe');
      },
      onNext: () => {
        signals.push('next');
      },
      onError: (error) => {
        signals.push(`error ${error.name}`);
      },
      onComplete: () => {
        signals.push('complete');
        done();
      },
    });
    await session.close();
    await completed;
    expect(signals).toEqual(['subscribe', 'complete']);
    // The link that attached meanwhile is detached.
    const sender = peer.senders.get('commands/sensor-1');
    if (sender?.is_open()) {
      await new Promise<void>((resolve) => sender.once('sender_close', () => resolve()));
    }
  });

  it('limits command receivers and completes command streams on close', async () => {
    const { session } = await open({}, { maxCommandReceivers: 1 });
    let completed: () => void = () => undefined;
    const complete = new Promise<void>((resolve) => {
      completed = resolve;
    });
    session.commands().subscribe({
      onSubscribe: (s) => s.request(1),
      onNext: () => undefined,
      onError: () => undefined,
      onComplete: () => completed(),
    });
    await expect(session.receiveCommand({ timeoutMs: 5_000 })).rejects.toBeInstanceOf(CommandLimitError);
    await session.close();
    await complete;
    await expect(session.receiveCommand()).rejects.toBeInstanceOf(SessionClosedError);
  });
});

function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  const content = (body as { content?: unknown } | undefined)?.content;
  if (Buffer.isBuffer(content)) return content.toString('utf8');
  if (typeof content === 'string') return content;
  const data = (body as { type?: string; data?: Buffer } | undefined)?.data;
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  const value = (body as { type?: string; value?: unknown } | undefined)?.value;
  return typeof value === 'string' ? value : String(body);
}

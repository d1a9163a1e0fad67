import { type AmqpConnection, AmqpError, connect } from '@dragoman/amqp';
import { IllegalDemandError, type ReceivedMessage, receiverPublisher } from '@dragoman/reactive';
import { ProbeSubscriber, type PublisherFactory, publisherRules } from '@dragoman/reactive/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RheaPeer, startPeer, waitUntil } from './peer';
import { roundTrip, runChecks } from './support';

const TIMEOUT = 10_000;

describe('receiverPublisher on the wire (rhea as the peer)', () => {
  let peer: RheaPeer;
  let connection: AmqpConnection;

  beforeEach(async () => {
    peer = await startPeer();
    connection = await connect({ url: peer.url, reconnect: false });
  });

  afterEach(async () => {
    await connection.close();
    await peer.close();
  });

  function subscribeProbe(address: string, options: Parameters<typeof receiverPublisher>[2] = {}) {
    const probe = new ProbeSubscriber<ReceivedMessage>(TIMEOUT);
    receiverPublisher(connection, address, options).subscribe(probe);
    return probe;
  }

  it('§1.1 never more onNext than requested: the credit the peer sees equals outstanding demand', async () => {
    const probe = subscribeProbe('q');
    const link = await peer.senderFor('q');
    await probe.awaitSubscribed('§1.9');
    expect(link.credit).toBe(0);
    probe.request(3);
    await waitUntil(peer, 'flow', () => link.credit === 3);
    probe.request(2);
    await waitUntil(peer, 'flow', () => link.credit === 5);
    link.offer(Array.from({ length: 12 }, (_, i) => i));
    await probe.awaitElements(5, '§1.1');
    expect(link.sent).toBe(5); // the peer could send no more than the demand it was shown
    expect(link.credit).toBe(0);
    probe.request(4);
    await probe.awaitElements(9, '§1.1');
    await roundTrip(connection);
    expect(probe.elements.map((e) => e.message.body)).toEqual(
      Array.from({ length: 9 }, (_, i) => ({ type: 'value', value: i })),
    );
    expect(link.sent).toBe(9);
    probe.assertClean(); // the probe fails on any onNext beyond what it requested
  });

  it('§3.8 partial delivery leaves exactly the rest of the demand as credit', async () => {
    const probe = subscribeProbe('q');
    const link = await peer.senderFor('q');
    (await probe.awaitSubscribed('§3.8')).request(4);
    await waitUntil(peer, 'flow', () => link.credit === 4);
    link.offer(['a']);
    await probe.awaitElements(1, '§3.8');
    expect(link.credit).toBe(3);
    probe.request(1);
    await waitUntil(peer, 'flow', () => link.credit === 4);
  });

  it('§3.17 with unbounded demand, unsettled messages count against the window: the flow stops until they settle', async () => {
    const probe = subscribeProbe('q', { creditWindow: 4, settlement: 'manual' });
    const link = await peer.senderFor('q');
    (await probe.awaitSubscribed('§3.17')).request(Number.MAX_SAFE_INTEGER);
    link.offer(Array.from({ length: 20 }, (_, i) => i));
    await probe.awaitElements(4, '§3.17');
    await roundTrip(connection);
    expect(probe.elements).toHaveLength(4); // four unsettled: no more credit
    expect(link.credit).toBe(0);
    probe.elements[0]?.accept();
    probe.elements[1]?.accept(); // half the window free again: refilled
    await probe.awaitElements(6, '§3.17');
    await roundTrip(connection);
    expect(probe.elements).toHaveLength(6);
    expect(link.maxOutstanding).toBeLessThanOrEqual(4);
  });

  it('§3.17 bounded demand beyond what AMQP credit can express is granted in instalments', async () => {
    const probe = subscribeProbe('q');
    const link = await peer.senderFor('q');
    (await probe.awaitSubscribed('§3.17')).request(2 ** 40);
    await waitUntil(peer, 'flow', () => link.credit === 0xffff_ffff);
    link.offer(['a', 'b'], 'detach');
    await probe.awaitTerminal('§3.17');
    expect(probe.completed).toBe(true);
    expect(connection.isOpen).toBe(true);
  });

  it('§2.13 a subscriber throwing from onNext is cancelled and reported; its message is rejected', async () => {
    peer.script('q', ['boom']);
    const reported: unknown[] = [];
    receiverPublisher(connection, 'q', { onSubscriberError: (error) => reported.push(error) }).subscribe({
      onSubscribe: (s) => s.request(5),
      onNext: () => {
        throw new Error('handler bug');
      },
      onError: () => undefined,
      onComplete: () => undefined,
    });
    const link = await peer.senderFor('q');
    const outcomes: string[] = [];
    peer.on('outcome', (outcome: string) => outcomes.push(outcome));
    await waitUntil(peer, 'linkClosed', () => !link.link.is_remote_open());
    expect(outcomes).toEqual(['rejected']);
    expect(reported).toHaveLength(1);
    expect(String(reported[0])).toContain('handler bug');
  });

  it('§3.17 unbounded demand becomes a kept-topped-up credit window, never infinite credit', async () => {
    const probe = subscribeProbe('q', { creditWindow: 8 });
    const link = await peer.senderFor('q');
    let maxCredit = 0;
    peer.on('flow', () => {
      maxCredit = Math.max(maxCredit, link.credit);
    });
    await probe.awaitSubscribed('§3.17');
    probe.request(Number.MAX_SAFE_INTEGER);
    probe.request(Number.MAX_SAFE_INTEGER); // saturates, no overflow, no error
    await waitUntil(peer, 'flow', () => link.credit === 8);
    link.offer(
      Array.from({ length: 200 }, (_, i) => i),
      'detach',
    );
    await probe.awaitTerminal('§3.17');
    expect(probe.completed).toBe(true);
    expect(probe.elements).toHaveLength(200);
    expect(maxCredit).toBe(8);
    expect(link.maxOutstanding).toBeLessThanOrEqual(8);
    await waitUntil(peer, 'outcome', () => link.settled === 200); // automatic settlement accepted them all
  });

  it('§3.12 cancel detaches the link: the peer sees the detach', async () => {
    const probe = subscribeProbe('q');
    const link = await peer.senderFor('q');
    const subscription = await probe.awaitSubscribed('§3.12');
    const detached = waitUntil(peer, 'linkClosed', () => !link.link.is_remote_open());
    subscription.cancel();
    await detached;
    expect(link.link.is_remote_open()).toBe(false);
  });

  it('§3.5 §3.7 cancel is idempotent: one detach, no signal after it', async () => {
    const probe = subscribeProbe('q');
    const link = await peer.senderFor('q');
    const subscription = await probe.awaitSubscribed('§3.5');
    subscription.request(2);
    link.offer(['a']);
    await probe.awaitElements(1, '§3.5');
    let detaches = 0;
    peer.on('linkClosed', (closed: unknown) => {
      if (closed === link.link) detaches += 1;
    });
    probe.cancel();
    probe.cancel();
    await waitUntil(peer, 'linkClosed', () => detaches === 1);
    probe.cancel();
    subscription.request(5); // §3.6: a no-op
    await roundTrip(connection);
    expect(detaches).toBe(1);
    expect(probe.lateSignals).toEqual([]);
  });

  it('§1.5 the peer detaching without an error is onComplete, after the delivered elements', async () => {
    peer.script('q', ['a', 'b'], 'detach');
    const probe = subscribeProbe('q');
    (await probe.awaitSubscribed('§1.5')).request(10);
    await probe.awaitTerminal('§1.5');
    expect(probe.completed).toBe(true);
    expect(probe.elements.map((e) => e.message.body)).toEqual([
      { type: 'value', value: 'a' },
      { type: 'value', value: 'b' },
    ]);
  });

  it('§1.4 the peer detaching with an error is onError carrying the condition', async () => {
    peer.script('q', ['a'], { condition: 'amqp:resource-deleted', description: 'queue deleted' });
    const probe = subscribeProbe('q');
    (await probe.awaitSubscribed('§1.4')).request(10);
    await probe.awaitTerminal('§1.4');
    expect(probe.elements).toHaveLength(1);
    expect(probe.error).toBeInstanceOf(AmqpError);
    expect((probe.error as AmqpError).condition).toBe('amqp:resource-deleted');
    expect(probe.error?.message).toContain('queue deleted');
  });

  it('§1.9 a refused attach still signals onSubscribe first, then onError', async () => {
    peer.script('missing', [], { condition: 'amqp:not-found', description: 'no such node' });
    const probe = subscribeProbe('missing');
    await probe.awaitTerminal('§1.9');
    expect(probe.subscribeCount).toBe(1);
    expect((probe.error as AmqpError).condition).toBe('amqp:not-found');
    probe.assertClean();
  });

  it('§1.4 the connection failing is onError', async () => {
    const probe = subscribeProbe('q');
    (await probe.awaitSubscribed('§1.4')).request(1);
    await peer.senderFor('q');
    await peer.close(); // the peer closes every connection
    await probe.awaitTerminal('§1.4');
    expect(probe.error).toBeInstanceOf(Error);
  });

  it('§3.9 request(0) signals onError with a RangeError, and the peer sees the detach', async () => {
    const probe = subscribeProbe('q');
    const link = await peer.senderFor('q');
    const detached = waitUntil(peer, 'linkClosed', () => !link.link.is_remote_open());
    (await probe.awaitSubscribed('§3.9')).request(0);
    await probe.awaitTerminal('§3.9');
    expect(probe.error).toBeInstanceOf(RangeError);
    expect(probe.error).toBeInstanceOf(IllegalDemandError);
    await detached;
    expect(link.link.is_remote_open()).toBe(false);
  });

  it('§3.3 request inside onNext does not recurse (trampoline), over 2 000 transfers', async () => {
    const probe = new ProbeSubscriber<ReceivedMessage>(TIMEOUT, { requestOnSubscribe: 1, requestOnNext: 1 });
    peer.script(
      'q',
      Array.from({ length: 2_000 }, (_, i) => i),
      'detach',
    );
    receiverPublisher(connection, 'q').subscribe(probe);
    await probe.awaitTerminal('§3.3');
    expect(probe.elements).toHaveLength(2_000);
    expect(probe.maxDepth).toBe(1);
  });

  it('a reconnect continues the stream on the re-attached link; messages of the lost link settle as lost', async () => {
    const reconnecting = await connect({ url: peer.url, reconnect: { initialDelayMs: 10, jitter: 0 } });
    try {
      const probe = new ProbeSubscriber<ReceivedMessage>(TIMEOUT);
      receiverPublisher(reconnecting, 'r', { settlement: 'manual' }).subscribe(probe);
      const first = await peer.senderFor('r', 0);
      (await probe.awaitSubscribed('§1.1')).request(4);
      first.offer(['a']);
      await probe.awaitElements(1, '§1.1');
      // The peer drops every connection as a restarting broker would; @dragoman/amqp reconnects.
      for (const c of peer.connections)
        c.close({ condition: 'amqp:connection:forced', description: 'restart' });
      const second = await peer.senderFor('r', 1);
      expect(await probe.elements[0]?.settled).toBe('lost'); // its link instance is gone: the peer redelivers
      await waitUntil(peer, 'flow', () => second.credit === 3); // the outstanding demand, granted again
      second.offer(['b']);
      await probe.awaitElements(2, '§1.1');
      probe.elements[1]?.accept();
      await waitUntil(peer, 'outcome', () => second.settled === 1);
      expect(probe.terminated).toBe(false);
      probe.assertClean();
    } finally {
      await reconnecting.close();
    }
  });

  describe('settlement', () => {
    it('auto: accepts once onNext returns', async () => {
      peer.script('q', ['a', 'b', 'c'], 'detach');
      const probe = subscribeProbe('q');
      (await probe.awaitSubscribed('§1.1')).request(10);
      const link = await peer.senderFor('q');
      const outcomes: string[] = [];
      peer.on('outcome', (outcome: string) => outcomes.push(outcome));
      await waitUntil(peer, 'outcome', () => link.settled === 3);
      expect(outcomes).toEqual(['accepted', 'accepted', 'accepted']);
    });

    it('auto: accepts once the promise onNext returned fulfils, rejects with its error when it rejects', async () => {
      peer.script('q', ['ok', 'bad']);
      const finished: unknown[] = [];
      const outcomes: { outcome: string; finishedBefore: number; description: unknown }[] = [];
      peer.on(
        'outcome',
        (
          outcome: string,
          context: { delivery?: { remote_state?: { error?: { description?: unknown } } } },
        ) => {
          outcomes.push({
            outcome,
            finishedBefore: finished.length,
            description: context.delivery?.remote_state?.error?.description,
          });
        },
      );
      const gates: Array<() => void> = [];
      receiverPublisher(connection, 'q').subscribe({
        onSubscribe: (s) => s.request(10),
        onNext: (m) =>
          new Promise<void>((resolve, reject) => {
            gates.push(() => {
              finished.push(m.message.body);
              if ((m.message.body as { value: unknown }).value === 'bad') reject(new Error('cannot parse'));
              else resolve();
            });
          }),
        onError: () => undefined,
        onComplete: () => undefined,
      });
      const link = await peer.senderFor('q');
      await waitUntil(peer, 'flow', () => link.sent === 2);
      await roundTrip(connection);
      expect(link.settled).toBe(0); // still processing: no outcome yet
      for (const open of gates) open();
      await waitUntil(peer, 'outcome', () => link.settled === 2);
      expect(outcomes).toEqual([
        { outcome: 'accepted', finishedBefore: 2, description: undefined },
        { outcome: 'rejected', finishedBefore: 2, description: 'cannot parse' },
      ]);
    });

    it('manual: the subscriber accepts, rejects, releases or modifies each element', async () => {
      peer.script('q', ['accept', 'reject', 'release', 'modify']);
      const probe = subscribeProbe('q', { settlement: 'manual' });
      (await probe.awaitSubscribed('§1.1')).request(4);
      await probe.awaitElements(4, '§1.1');
      const link = await peer.senderFor('q');
      await roundTrip(connection);
      expect(link.settled).toBe(0); // nothing settles by itself
      const outcomes: string[] = [];
      peer.on('outcome', (outcome: string) => outcomes.push(outcome));
      const [a, b, c, d] = probe.elements as [
        ReceivedMessage,
        ReceivedMessage,
        ReceivedMessage,
        ReceivedMessage,
      ];
      a.accept();
      b.reject({ condition: 'amqp:decode-error', description: 'bad payload' });
      c.release();
      d.modify({ deliveryFailed: true });
      await waitUntil(peer, 'outcome', () => link.settled === 4);
      expect(outcomes).toEqual(['accepted', 'rejected', 'released', 'modified']);
      expect(await Promise.all(probe.elements.map((e) => e.settled))).toEqual([
        'accepted',
        'rejected',
        'released',
        'modified',
      ]);
    });
  });
});

describe('receiverPublisher satisfies the Publisher rules (kit, against rhea)', () => {
  let peer: RheaPeer;
  let connection: AmqpConnection;
  let next = 0;

  beforeAll(async () => {
    peer = await startPeer();
    connection = await connect({ url: peer.url, reconnect: false });
  });

  afterAll(async () => {
    await connection.close();
    await peer.close();
  });

  const factory: PublisherFactory<ReceivedMessage> = {
    createPublisher(elements) {
      const address = `kit-${next++}`;
      peer.script(
        address,
        Array.from({ length: elements }, (_, i) => i),
        'detach',
      );
      return receiverPublisher(connection, address);
    },
    createFailedPublisher() {
      const address = `kit-failed-${next++}`;
      peer.script(address, [], { condition: 'amqp:internal-error', description: 'failed on purpose' });
      return receiverPublisher(connection, address);
    },
    maxElements: 1_000,
    timeoutMs: TIMEOUT,
    quiesce: () => roundTrip(connection),
  };
  runChecks(publisherRules(factory));
});

// Exactly-once with the settlement held by the sender (`Sender.sendHeld`) and the receiver settling last
// (receiver settle mode `second`), against rhea used directly in both directions and between our own links.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpListener,
  binaryMessage,
  connect,
  type Delivery,
  InvalidArgumentError,
  LinkClosedError,
  listen,
  payloadOf,
  type Receiver,
  SETTLEMENT_CONFIRMATION_CAPABILITY,
} from '../src/index';
import { type Loopback, loopback } from './fixtures';
import { bodyText, closedAfterEach, type Rhea, rhea, rheaListen, waitFor } from './helpers';

interface RheaDelivery {
  id: number;
  accept(): void;
  reject(error?: { condition: string; description?: string }): void;
  update(settled: boolean, state?: unknown): void;
  settled: boolean;
  remote_settled: boolean;
}
interface RheaContext {
  message?: { body?: unknown };
  delivery?: RheaDelivery;
  receiver?: { local: { attach: Record<string, unknown> } };
}

interface Emitter {
  on(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

/** rhea's outcome builders (its typings omit them). */
const outcomes = rhea.message as unknown as {
  accepted(): { described(): unknown };
  rejected(fields: { error: { condition: string } }): { described(): unknown };
};

/** Resolves when `check()` holds, looked at on every event named `event` of `emitter`, or fails after 10 s. */
function whenTrue(emitter: Emitter, event: string, check: () => boolean): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, listener);
      reject(new Error(`condition not met by a '${event}' within 10 s`));
    }, 10_000);
    const listener = (): void => {
      if (!check()) return;
      clearTimeout(timer);
      emitter.removeListener(event, listener);
      resolve();
    };
    emitter.on(event, listener);
  });
}

describe('sendHeld: our sender against a rhea receiver (receiver settle mode second)', () => {
  const track = closedAfterEach();

  /** A rhea listener whose receivers settle second; it records every delivery it got, by body text. */
  async function rheaReceiver(): Promise<{
    port: number;
    container: ReturnType<Rhea['create_container']>;
    deliveries: Map<string, RheaDelivery>;
  }> {
    const container = rhea.create_container({ id: 'rhea-second' });
    const deliveries = new Map<string, RheaDelivery>();
    container.on('receiver_open', (context: RheaContext) => {
      if (context.receiver !== undefined) context.receiver.local.attach.rcv_settle_mode = 1;
    });
    container.on('message', (context: RheaContext) => {
      const text = bodyText(context.message?.body);
      const delivery = context.delivery as RheaDelivery;
      deliveries.set(text, delivery);
      if (text === 'reject-settled') {
        delivery.update(true, outcomes.rejected({ error: { condition: 'amqp:invalid-field' } }).described());
      } else delivery.update(false, outcomes.accepted().described());
    });
    const listening = await rheaListen(container);
    track(listening.server);
    return { port: listening.port, container, deliveries };
  }

  it('holds the delivery unsettled after the disposition until settle(); rhea then sees it settled', async () => {
    const peer = await rheaReceiver();
    const client = track(await connect({ host: '127.0.0.1', port: peer.port, reconnect: false }));
    const sender = await client.openSender({ target: 'q', guarantee: 'exactly-once' });
    const held = await sender.sendHeld(binaryMessage('one'));
    expect(held.outcome).toEqual({ state: 'accepted' });
    expect(held.state).toBe('held');
    expect(sender.held).toBe(1);
    // A later send's outcome has come back too, so the peer has read everything we wrote before it.
    await expect(sender.sendHeld(binaryMessage('two'))).resolves.toMatchObject({ state: 'held' });
    const atPeer = peer.deliveries.get('one') as RheaDelivery;
    expect(atPeer.remote_settled).toBe(false);

    expect(held.settle()).toBe(true);
    expect(held.settle()).toBe(false);
    // rhea offers no confirmation: settled as soon as our settlement is handed over.
    await held.whenSettled();
    expect(held.state).toBe('settled');
    await whenTrue(peer.container, 'settled', () => atPeer.remote_settled);
    expect(sender.held).toBe(1);
  });

  it('a receiver that settles with its outcome gives an already settled delivery', async () => {
    const peer = await rheaReceiver();
    const client = track(await connect({ host: '127.0.0.1', port: peer.port, reconnect: false }));
    const sender = await client.openSender({ target: 'q', guarantee: 'exactly-once' });
    const held = await sender.sendHeld(binaryMessage('reject-settled'));
    expect(held.outcome).toMatchObject({ state: 'rejected', error: { condition: 'amqp:invalid-field' } });
    expect(held.state).toBe('settled');
    expect(held.settle()).toBe(false);
    await held.whenSettled();
    expect(sender.held).toBe(0);
  });

  it('refuses a link that is not exactly-once', async () => {
    const peer = await rheaReceiver();
    const client = track(await connect({ host: '127.0.0.1', port: peer.port, reconnect: false }));
    const sender = await client.openSender({ target: 'q', guarantee: 'at-least-once' });
    await expect(sender.sendHeld(binaryMessage('x'))).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('receiver settle mode second: a rhea sender against our receiver', () => {
  let listener: AmqpListener | undefined;
  let container: ReturnType<Rhea['create_container']> | undefined;
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
    container = undefined;
  });

  async function setUp(desired: string[] | undefined): Promise<{
    receiver: Receiver;
    rheaSender: { send(message: unknown): RheaDelivery };
    settledByPeer: Set<number>;
    accepted: Set<number>;
    container: ReturnType<Rhea['create_container']>;
  }> {
    listener = await listen();
    const incoming = new Promise<Receiver>((resolve) => {
      listener?.once('connection', (connection) => {
        connection.on('incomingLink', (link) => resolve(link.acceptReceiver()));
      });
    });
    container = rhea.create_container({ id: 'rhea-client' });
    container.on('error', () => {});
    const settledByPeer = new Set<number>();
    const accepted = new Set<number>();
    container.on('accepted', (context: RheaContext) => accepted.add((context.delivery as RheaDelivery).id));
    container.on('settled', (context: RheaContext) =>
      settledByPeer.add((context.delivery as RheaDelivery).id),
    );
    const connection = container.connect({
      host: '127.0.0.1',
      port: listener.address().port,
      reconnect: false,
    });
    const rheaSender = connection.open_sender({
      target: { address: 'q' },
      rcv_settle_mode: 1,
      autosettle: false,
      ...(desired !== undefined ? { desired_capabilities: desired } : {}),
    } as never) as unknown as { send(message: unknown): RheaDelivery };
    const receiver = await incoming;
    return { receiver, rheaSender, settledByPeer, accepted, container };
  }

  it('accept() answers unsettled; once the sender settles the delivery settles and the sender is told', async () => {
    const peer = await setUp([SETTLEMENT_CONFIRMATION_CAPABILITY]);
    const ours = waitFor<[Delivery]>(peer.receiver, 'delivery');
    const sent = peer.rheaSender.send({ body: 'a' });
    const [delivery] = await ours;
    expect(payloadOf(delivery.message).toString()).toBe('a');
    delivery.accept();
    expect(delivery.settled).toBe(false);
    await whenTrue(peer.container, 'accepted', () => peer.accepted.has(sent.id));
    expect(sent.remote_settled).toBe(false);
    let settledHere = false;
    const whenSettled = delivery.whenSettled().then(() => {
      settledHere = true;
    });
    expect(settledHere).toBe(false);
    sent.update(true);
    await whenSettled;
    expect(delivery.settled).toBe(true);
    // It desired the confirmation: our settled disposition comes back.
    await whenTrue(peer.container, 'settled', () => peer.settledByPeer.has(sent.id));
  });

  it('a sender that did not desire the confirmation gets no disposition after its settlement', async () => {
    const peer = await setUp(undefined);
    const first = waitFor<[Delivery]>(peer.receiver, 'delivery');
    const a = peer.rheaSender.send({ body: 'a' });
    const [delivery] = await first;
    delivery.accept();
    await whenTrue(peer.container, 'accepted', () => peer.accepted.has(a.id));
    a.update(true);
    await delivery.whenSettled();
    // A second delivery's outcome comes back after anything we wrote about the first.
    const second = waitFor<[Delivery]>(peer.receiver, 'delivery');
    const b = peer.rheaSender.send({ body: 'b' });
    (await second)[0].accept();
    await whenTrue(peer.container, 'accepted', () => peer.accepted.has(b.id));
    expect(peer.settledByPeer.has(a.id)).toBe(false);
  });
});

describe('sendHeld between our own sender and receiver', () => {
  let env: Loopback | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  async function setUp(): Promise<{
    env: Loopback;
    receiver: Receiver;
    sender: Awaited<ReturnType<AmqpConnection['openSender']>>;
  }> {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const sender = await env.client.openSender({ target: 'q', guarantee: 'exactly-once', maxQueued: 5000 });
    const receiver = (await incoming).acceptReceiver();
    return { env, receiver, sender };
  }

  it('the receiver settles last and the sender learns it (confirmation)', async () => {
    const { receiver, sender } = await setUp();
    const delivered = waitFor<[Delivery]>(receiver, 'delivery');
    const holding = sender.sendHeld(binaryMessage('m'));
    const [delivery] = await delivered;
    delivery.accept();
    const held = await holding;
    expect(held.state).toBe('held');
    expect(delivery.settled).toBe(false);
    const receiverSettled = delivery.whenSettled();
    expect(held.settle()).toBe(true);
    expect(held.state).toBe('settling');
    await receiverSettled;
    await held.whenSettled();
    expect(held.state).toBe('settled');
    expect(sender.held).toBe(0);
  });

  it('plain send() on a confirming link keeps flowing past rhea session window (2048)', async () => {
    const { receiver, sender } = await setUp();
    receiver.on('delivery', (d) => d.accept());
    const results = [];
    for (let i = 0; i < 2500; i++) results.push(sender.send(binaryMessage(String(i))));
    const outcomes = await Promise.all(results);
    expect(outcomes.every((o) => o.state === 'accepted')).toBe(true);
  });

  it('a held delivery whose link closes can no longer be settled', async () => {
    const { receiver, sender } = await setUp();
    receiver.on('delivery', (d) => d.accept());
    const held = await sender.sendHeld(binaryMessage('m'));
    const settled = held.whenSettled();
    settled.catch(() => {});
    await sender.close();
    await expect(settled).rejects.toBeInstanceOf(LinkClosedError);
    expect(held.state).toBe('lost');
    expect(held.settle()).toBe(false);
  });
});

describe('sendHeld across a reconnect', () => {
  let client: AmqpConnection | undefined;
  let listener: AmqpListener | undefined;
  afterEach(async () => {
    await client?.close();
    await listener?.close();
    client = undefined;
    listener = undefined;
  });

  /** A listener (on `port`, 0 = a free one) whose next incoming link is accepted as a receiver. */
  async function serverOn(port: number): Promise<{ listener: AmqpListener; receiver: Promise<Receiver> }> {
    const server = await listen({ port });
    const receiver = new Promise<Receiver>((resolve) => {
      server.once('connection', (c) => c.once('incomingLink', (l) => resolve(l.acceptReceiver())));
    });
    return { listener: server, receiver };
  }

  it('a held send waiting for its outcome is not re-sent; held deliveries are lost; sends after go out', async () => {
    let server = await serverOn(0);
    listener = server.listener;
    const port = listener.address().port;
    client = await connect(listener.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    const sender = await client.openSender({ target: 'q', name: 'held-sender', guarantee: 'exactly-once' });
    const first = await server.receiver;
    const accepted = waitFor<[Delivery]>(first, 'delivery');
    const heldPromise = sender.sendHeld(binaryMessage('held'));
    (await accepted)[0].accept();
    const held = await heldPromise;
    const waiting = waitFor<[Delivery]>(first, 'delivery');
    const inFlight = sender.sendHeld(binaryMessage('in flight'));
    inFlight.catch(() => {});
    await waiting; // it reached the receiver, which gives no outcome

    const settledHeld = held.whenSettled();
    settledHeld.catch(() => {});
    await listener.close();
    await expect(inFlight).rejects.toBeInstanceOf(LinkClosedError);
    await expect(settledHeld).rejects.toBeInstanceOf(LinkClosedError);
    expect(held.state).toBe('lost');
    expect(held.settle()).toBe(false);

    server = await serverOn(port);
    listener = server.listener;
    const second = await server.receiver;
    const arrivals: string[] = [];
    second.on('delivery', (d) => {
      arrivals.push(payloadOf(d.message).toString());
      d.accept();
    });
    const after = await sender.sendHeld(binaryMessage('after'));
    expect(after.outcome).toEqual({ state: 'accepted' });
    expect(arrivals).toEqual(['after']);
  });
});

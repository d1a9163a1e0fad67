// In-process transports made with handOffMessages: the frames are those of any connection (delivery ids, tags,
// settlement, credit, outcomes), but the message object travels beside them instead of being encoded and
// decoded. rhea's own client on such a transport, which cannot read a handed-off transfer, is sent bytes.
import type { EventContext } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpListener,
  type AmqpMessage,
  binaryMessage,
  connect,
  createInProcessTransport,
  type Delivery,
  type IncomingLink,
  listen,
  payloadOf,
  type Receiver,
  valueMessage,
} from '../src/index';
import { PipeEnd } from '../src/internal/memory-pipe';
import { HAND_OFF_FRAME_TYPE, HandOffQueue } from '../src/internal/message-hand-off';
import { bodyText, type Rhea, rhea, until, waitFor } from './helpers';

let listener: AmqpListener | undefined;
const clients: AmqpConnection[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await listener?.close();
  listener = undefined;
});

/** The receivers the listener's connections accept, each handing its deliveries to `onDelivery`. */
function acceptReceivers(
  server: AmqpListener,
  onDelivery: (delivery: Delivery, receiver: Receiver) => void,
  creditWindow = 50,
): void {
  server.on('connection', (connection) => {
    connection.on('incomingLink', (link: IncomingLink) => {
      if (link.role !== 'receiver') return;
      const receiver = link.acceptReceiver({ creditWindow });
      receiver.on('delivery', (delivery) => onDelivery(delivery, receiver));
    });
  });
}

/** A listener and a client on one in-process transport; `serve` sets the listener up before the client connects. */
/** A data or string value body as text. */
function textOf(message: AmqpMessage): string {
  return payloadOf(message).toString();
}

async function handOffPair(
  serve: (server: AmqpListener) => void,
  handOffMessages = true,
): Promise<AmqpConnection> {
  const transport = createInProcessTransport('hand-off test', { handOffMessages });
  listener = await listen({ inProcess: transport });
  serve(listener);
  const client = await connect({ inProcess: transport, reconnect: false });
  clients.push(client);
  return client;
}

describe('message hand-off on an in-process transport', () => {
  it('gives the receiver the very object sent, with format 0, and the outcome back to the sender', async () => {
    const received: Delivery[] = [];
    const client = await handOffPair((server) =>
      acceptReceivers(server, (delivery) => {
        received.push(delivery);
        const text = textOf(delivery.message);
        if (text === 'reject me')
          delivery.reject({ condition: 'amqp:precondition-failed', description: 'no' });
        else if (text === 'release me') delivery.release();
        else if (text === 'modify me') delivery.modify({ deliveryFailed: true });
        else delivery.accept();
      }),
    );
    const sender = await client.openSender('q');
    const typed = { toRheaTyped: () => ({ type: 'int', value: 1 }) };
    const message: AmqpMessage = {
      header: { durable: true, priority: 7 },
      messageAnnotations: { 'x-opt-qos': typed },
      properties: { subject: 's', messageId: 42 },
      applicationProperties: { k: 'v' },
      body: { type: 'data', data: Buffer.from('hello') },
    };
    expect(await sender.send(message)).toEqual({ state: 'accepted' });
    expect(received[0]?.message).toBe(message);
    // Not a round trip through AMQP types: the typed value arrives as the object it was.
    expect(received[0]?.message.messageAnnotations?.['x-opt-qos']).toBe(typed);
    expect(received[0]?.format).toBe(0);
    expect(received[0]?.presettled).toBe(false);

    const rejected = await sender.send(binaryMessage('reject me'));
    expect(rejected).toMatchObject({ state: 'rejected', error: { condition: 'amqp:precondition-failed' } });
    expect(await sender.send(binaryMessage('release me'))).toEqual({ state: 'released' });
    expect(await sender.send(binaryMessage('modify me'))).toMatchObject({
      state: 'modified',
      deliveryFailed: true,
    });
  });

  it('keeps the order of many messages over several links, both ways, settled and pre-settled', async () => {
    const byLink = new Map<string, string[]>();
    const serverSent: string[] = [];
    const client = await handOffPair((server) => {
      acceptReceivers(server, (delivery, receiver) => {
        const list = byLink.get(receiver.name) ?? [];
        list.push(textOf(delivery.message));
        byLink.set(receiver.name, list);
        delivery.accept();
      });
      // The other way: the listener's side sends to a receiver the client attaches.
      server.on('connection', (connection) => {
        connection.on('incomingLink', (link: IncomingLink) => {
          if (link.role !== 'sender') return;
          const sender = link.acceptSender();
          sender.once('sendable', () => {
            for (let i = 0; i < 300; i++) {
              serverSent.push(`s${i}`);
              void sender.send(valueMessage(`s${i}`));
            }
          });
        });
      });
    });
    const fromServer: string[] = [];
    const receiver = await client.openReceiver({ source: 'out', creditWindow: 40 });
    receiver.on('delivery', (delivery) => {
      fromServer.push(textOf(delivery.message));
      delivery.accept();
    });
    const settled = await client.openSender({ target: 'a', name: 'settled' });
    const presettled = await client.openSender({
      target: 'b',
      name: 'presettled',
      settleModes: { sender: 'settled' },
    });
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      sends.push(settled.send(binaryMessage(`a${i}`)));
      sends.push(presettled.send(binaryMessage(`b${i}`)));
    }
    await Promise.all(sends);
    await until(() => byLink.get('presettled')?.length === 300 && fromServer.length === 300);
    expect(byLink.get('settled')).toEqual(Array.from({ length: 300 }, (_, i) => `a${i}`));
    expect(byLink.get('presettled')).toEqual(Array.from({ length: 300 }, (_, i) => `b${i}`));
    expect(fromServer).toEqual(serverSent);
  });

  it('without the option, the receiver gets a decoded copy (the default)', async () => {
    const received: Delivery[] = [];
    const client = await handOffPair(
      (server) =>
        acceptReceivers(server, (delivery) => {
          received.push(delivery);
          delivery.accept();
        }),
      false,
    );
    const sender = await client.openSender('q');
    const message = binaryMessage('copied', { applicationProperties: { n: 1 } });
    await sender.send(message);
    expect(received[0]?.message).not.toBe(message);
    expect(received[0]?.message).toEqual(message);
  });

  it('hands exactly-once deliveries off with their two settlement steps', async () => {
    const received: Delivery[] = [];
    const client = await handOffPair((server) =>
      acceptReceivers(server, (delivery) => {
        received.push(delivery);
        delivery.accept();
      }),
    );
    const sender = await client.openSender({
      target: 'q2',
      settleModes: { sender: 'unsettled', receiver: 'second' },
    });
    const message = binaryMessage('twice-settled');
    const held = await sender.sendHeld(message);
    expect(held.outcome).toEqual({ state: 'accepted' });
    expect(received[0]?.message).toBe(message);
    const settledThere = received[0]?.whenSettled();
    held.settle();
    await settledThere;
    await held.whenSettled();
    expect(received[0]?.settled).toBe(true);
  });

  it('re-sends the unsettled messages as objects after the connection comes back', async () => {
    const transport = createInProcessTransport('hand-off reconnect', { handOffMessages: true });
    listener = await listen({ inProcess: transport });
    // The first listener takes the deliveries and never settles them.
    const unanswered: Delivery[] = [];
    acceptReceivers(listener, (delivery) => unanswered.push(delivery));
    const client = await connect({ inProcess: transport, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    clients.push(client);
    const sender = await client.openSender({ target: 'q', name: 'resender' });
    const messages = Array.from({ length: 20 }, (_, i) => binaryMessage(`r${i}`));
    const outcomes = Promise.all(messages.map((m) => sender.send(m)));
    await until(() => unanswered.length === 20);
    const disconnected = waitFor(client, 'disconnected');
    await listener.close();
    await disconnected;
    listener = await listen({ inProcess: transport });
    const redelivered: Delivery[] = [];
    acceptReceivers(listener, (delivery) => {
      redelivered.push(delivery);
      delivery.accept();
    });
    expect((await outcomes).every((o) => o.state === 'accepted')).toBe(true);
    expect(redelivered.map((d) => d.message)).toEqual(messages);
    expect(redelivered.every((d, i) => d.message === messages[i])).toBe(true);
  });

  it('sends bytes to a rhea client on the transport, which cannot take a handed-off message', async () => {
    const transport = createInProcessTransport('hand-off to rhea', { handOffMessages: true });
    listener = await listen({ inProcess: transport });
    listener.on('connection', (connection) => {
      connection.on('incomingLink', (link: IncomingLink) => {
        if (link.role !== 'sender') return;
        const sender = link.acceptSender();
        sender.once('sendable', () => {
          void sender.send(binaryMessage('to rhea', { properties: { subject: 'plain' } }));
        });
      });
    });
    const container = rhea.create_container({ id: 'rhea-client' });
    const connection = container.connect({
      reconnect: false,
      connection_details: () => ({
        host: 'in-process',
        port: 0,
        connect: (_port: number, _host: string, _options: unknown, onConnect: () => void) =>
          transport.dial(onConnect),
      }),
    } as unknown as Parameters<Rhea['connect']>[0]);
    try {
      connection.open_receiver('out');
      const [context] = await waitFor<[EventContext]>(connection, 'message');
      expect(context.delivery?.format).toBe(0);
      expect(context.message?.subject).toBe('plain');
      expect(bodyText(context.message?.body)).toBe('to rhea');
    } finally {
      connection.close();
      await waitFor(connection, 'connection_close');
    }
  });
});

/** Counts, in what a pipe end is given, AMQP transfers written as bytes and hand-off markers. */
function countFrames(chunk: Buffer, seen: { transfers: number; markers: number }): void {
  let at = 0;
  while (at + 8 <= chunk.length) {
    if (chunk.toString('latin1', at, at + 4) === 'AMQP') {
      at += 8; // a protocol header
      continue;
    }
    const size = chunk.readUInt32BE(at);
    const type = chunk[at + 5];
    if (type === HAND_OFF_FRAME_TYPE) seen.markers++;
    else if (type === 0 && size > 10 && chunk[at + 10] === 0x14) seen.transfers++;
    at += size;
  }
}

describe('frames on a hand-off pipe', () => {
  it('carries the transfers as markers of frames handed over, not as encoded frames', async () => {
    const seen = { transfers: 0, markers: 0 };
    const emit = PipeEnd.prototype.emit;
    PipeEnd.prototype.emit = function (this: PipeEnd, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'data') countFrames(args[0] as Buffer, seen);
      return emit.call(this, event, ...args);
    };
    try {
      const client = await handOffPair((server) => acceptReceivers(server, (delivery) => delivery.accept()));
      const sender = await client.openSender('counted');
      await Promise.all(Array.from({ length: 50 }, (_, i) => sender.send(binaryMessage(`c${i}`))));
    } finally {
      PipeEnd.prototype.emit = emit;
    }
    expect(seen.transfers).toBe(0);
    expect(seen.markers).toBeGreaterThanOrEqual(50);
  });
});

describe('HandOffQueue', () => {
  it('gives each message to the number it was put in with, in order, and nothing out of step', () => {
    const queue = new HandOffQueue();
    const a = { n: 'a' };
    const b = { n: 'b' };
    expect(queue.put(a)).toBe(0);
    expect(queue.put(b)).toBe(1);
    expect(queue.take(1)).toBeUndefined(); // b is not next: a frame read elsewhere would show up like this
    expect(queue.take(0)).toBe(a);
    expect(queue.take(1)).toBe(b);
    expect(queue.take(2)).toBeUndefined(); // empty
  });

  it('keeps nothing once closed', () => {
    const queue = new HandOffQueue();
    queue.put({});
    queue.close();
    expect(queue.take(0)).toBeUndefined();
    expect(queue.put({})).toBe(1);
    expect(queue.take(1)).toBeUndefined();
  });
});

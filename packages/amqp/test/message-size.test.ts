// A receiving link's bound on a message's size (its attach's max-message-size), against rhea used directly as
// the sending peer: rhea splits a message into several transfers when it exceeds the max-frame-size our end
// announced, so a small maxFrameSize makes a message of a few KiB arrive in many frames.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpListener,
  type CloseInfo,
  connect,
  DEFAULT_MAX_MESSAGE_SIZE,
  type Delivery,
  type IncomingLink,
  InvalidArgumentError,
  LinkError,
  listen,
  payloadOf,
} from '../src/index';
import { closedAfterEach, rhea, rheaConnectTo, rheaListen, waitFor } from './helpers';

const EXCEEDED = 'amqp:link:message-size-exceeded';
const TIMEOUT_MS = 10_000;

interface RheaSender {
  send(message: unknown): { data?: unknown[] };
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  remote: { attach?: { max_message_size?: unknown } };
  error?: { condition?: unknown; description?: unknown };
}

function bytes(n: number, seed = 0): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i + seed) % 251));
}

/** A message of one data section of `payload`, as rhea sends it. */
function dataMessage(payload: Buffer): unknown {
  return { body: rhea.message.data_section(payload) };
}

describe('max-message-size on links a rhea client attaches to our listener', () => {
  let listener: AmqpListener | undefined;
  let rheaConnection: { close(): void } | undefined;
  afterEach(async () => {
    rheaConnection?.close();
    await listener?.close();
    listener = undefined;
    rheaConnection = undefined;
  });

  /**
   * Our listener announcing `maxFrameSize`, a rhea client connected to it, and its links as they arrive,
   * deferred (so that what `acceptReceiver` is given goes into our attach) unless `undecided`.
   */
  async function start(
    maxFrameSize?: number,
    undecided = false,
  ): Promise<{
    links: () => Promise<IncomingLink>;
    openSender: (address: string) => RheaSender;
  }> {
    listener = await listen({ host: '127.0.0.1', port: 0, ...(maxFrameSize ? { maxFrameSize } : {}) });
    const pending: IncomingLink[] = [];
    const waiting: Array<(l: IncomingLink) => void> = [];
    listener.on('connection', (c: AmqpConnection) =>
      c.on('incomingLink', (l) => {
        if (!undecided) l.defer();
        const w = waiting.shift();
        if (w) w(l);
        else pending.push(l);
      }),
    );
    const connection = rheaConnectTo(listener, 'rhea-sender');
    rheaConnection = connection;
    return {
      links: () => {
        const l = pending.shift();
        return l ? Promise.resolve(l) : new Promise((resolve) => waiting.push(resolve));
      },
      openSender: (address) =>
        connection.open_sender({ target: { address } } as never) as unknown as RheaSender,
    };
  }

  it('advertises the default (2 MiB) in the attach, or the value given', async () => {
    expect(DEFAULT_MAX_MESSAGE_SIZE).toBe(2 * 1024 * 1024);
    const { links, openSender } = await start();
    const byDefault = openSender('a');
    const opened = waitFor(byDefault, 'sender_open', TIMEOUT_MS);
    (await links()).acceptReceiver();
    await opened;
    expect(byDefault.remote.attach?.max_message_size).toBe(DEFAULT_MAX_MESSAGE_SIZE);

    const given = openSender('b');
    const givenOpen = waitFor(given, 'sender_open', TIMEOUT_MS);
    (await links()).acceptReceiver({ maxMessageSize: 4096 });
    await givenOpen;
    expect(given.remote.attach?.max_message_size).toBe(4096);

    openSender('c');
    const invalid = await links();
    expect(() => invalid.acceptReceiver({ maxMessageSize: -1 })).toThrow(InvalidArgumentError);
    expect(() => invalid.acceptReceiver({ maxMessageSize: 1.5 })).toThrow(InvalidArgumentError);
  });

  it('a message in many transfers within the limit arrives whole', async () => {
    const { links, openSender } = await start(512);
    const rheaSender = openSender('in');
    const receiver = (await links()).acceptReceiver({ maxMessageSize: 8192 });
    await waitFor(rheaSender, 'sendable', TIMEOUT_MS);
    const payload = bytes(6000);
    const sent = rheaSender.send(dataMessage(payload));
    expect(sent.data?.length).toBeGreaterThan(10); // rhea sent it in that many transfers
    const delivery = (await receiver.receive({ signal: AbortSignal.timeout(TIMEOUT_MS) })) as Delivery;
    expect(payloadOf(delivery.message)).toEqual(payload);
    const accepted = waitFor(rheaSender, 'accepted', TIMEOUT_MS);
    delivery.accept();
    await accepted;
    expect(receiver.isOpen).toBe(true);
  });

  it('a message in many transfers beyond the limit detaches the link as soon as it is too large', async () => {
    const { links, openSender } = await start(512);
    const rheaSender = openSender('in');
    const receiver = (await links()).acceptReceiver({ maxMessageSize: 4096 });
    await waitFor(rheaSender, 'sendable', TIMEOUT_MS);
    const ourClose = waitFor<[CloseInfo]>(receiver, 'close', TIMEOUT_MS);
    const theirClose = waitFor(rheaSender, 'sender_close', TIMEOUT_MS);
    const waiting = receiver.receive({ signal: AbortSignal.timeout(TIMEOUT_MS) });
    const failed = expect(waiting).rejects.toMatchObject({ name: 'LinkError', condition: EXCEEDED });
    const sent = rheaSender.send(dataMessage(bytes(20_000)));
    expect(sent.data?.length).toBeGreaterThan(30);
    // Sent before rhea sees our detach: its frames, and the rest of the large one's, are dropped as they come.
    rheaSender.send(dataMessage(bytes(100)));

    await theirClose;
    expect(rheaSender.error?.condition).toBe(EXCEEDED);
    // Refused at the frame that went past the limit: "more than" what had come, not the whole 20 000 bytes.
    expect(String(rheaSender.error?.description)).toMatch(
      /^delivery 0 on link '.+' is more than \d+ bytes, above the link's max-message-size of 4096 bytes$/,
    );
    const size = Number(/more than (\d+) bytes/.exec(String(rheaSender.error?.description))?.[1]);
    expect(size).toBeGreaterThan(4096);
    expect(size).toBeLessThan(4096 + 512);

    const [info] = await ourClose;
    expect(info.remote).toBe(false);
    expect(info.error).toBeInstanceOf(LinkError);
    expect(info.error?.condition).toBe(EXCEEDED);
    await failed;
    await expect(receiver.receive()).rejects.toBeInstanceOf(LinkError);

    // The connection and its session go on: a new link on them takes a message within the limit.
    const next = openSender('in-again');
    const again = (await links()).acceptReceiver({ maxMessageSize: 4096 });
    await waitFor(next, 'sendable', TIMEOUT_MS);
    next.send(dataMessage(bytes(3000, 7)));
    const delivery = (await again.receive({ signal: AbortSignal.timeout(TIMEOUT_MS) })) as Delivery;
    expect(payloadOf(delivery.message)).toEqual(bytes(3000, 7));
    delivery.accept();
  });

  it('a message in one transfer beyond the limit is refused the same way', async () => {
    const { links, openSender } = await start();
    const rheaSender = openSender('in');
    const receiver = (await links()).acceptReceiver({ maxMessageSize: 1024 });
    await waitFor(rheaSender, 'sendable', TIMEOUT_MS);
    const ourClose = waitFor<[CloseInfo]>(receiver, 'close', TIMEOUT_MS);
    const theirClose = waitFor(rheaSender, 'sender_close', TIMEOUT_MS);
    const sent = rheaSender.send(dataMessage(bytes(2000)));
    expect(sent.data?.length).toBe(1);
    await theirClose;
    expect(rheaSender.error?.condition).toBe(EXCEEDED);
    expect(String(rheaSender.error?.description)).toMatch(
      /^delivery 0 on link '.+' is \d{4} bytes, above the link's max-message-size of 1024 bytes$/,
    );
    const [info] = await ourClose;
    expect(info.error?.condition).toBe(EXCEEDED);
  });

  it('a link still undecided when answered advertises the default too', async () => {
    const { links, openSender } = await start(undefined, true);
    const rheaSender = openSender('undecided');
    const opened = waitFor(rheaSender, 'sender_open', TIMEOUT_MS);
    const link = await links(); // answered once the handlers ran, nobody decided
    await opened;
    expect(rheaSender.remote.attach?.max_message_size).toBe(DEFAULT_MAX_MESSAGE_SIZE);
    // Accepted later: the limit advertised stands, whatever is asked now.
    const receiver = link.acceptReceiver({ maxMessageSize: 100 });
    await waitFor(rheaSender, 'sendable', TIMEOUT_MS);
    rheaSender.send(dataMessage(bytes(1000)));
    const delivery = (await receiver.receive({ signal: AbortSignal.timeout(TIMEOUT_MS) })) as Delivery;
    expect(payloadOf(delivery.message)).toEqual(bytes(1000));
  });
});

describe('max-message-size on receivers our client opens to a rhea listener', () => {
  const track = closedAfterEach();

  /** A rhea listener that sends `payload` once on each link our receivers attach, once given credit. */
  async function rheaSending(payload: Buffer): Promise<{ attaches: unknown[]; client: AmqpConnection }> {
    const container = rhea.create_container({ id: 'rhea-listener' });
    container.on('disconnected', () => {});
    const attaches: unknown[] = [];
    const sentOn = new WeakSet<object>();
    container.on('sender_open', (context: { sender?: RheaSender }) => {
      attaches.push(context.sender?.remote.attach?.max_message_size);
    });
    container.on('sendable', (context: { sender?: RheaSender }) => {
      const sender = context.sender;
      if (sender === undefined || sentOn.has(sender)) return;
      sentOn.add(sender);
      sender.send(dataMessage(payload));
    });
    const listening = await rheaListen(container);
    track(listening.server);
    const client = track(await connect({ host: '127.0.0.1', port: listening.port, reconnect: false }));
    return { attaches, client };
  }

  it('the default refuses a message just above 2 MiB', async () => {
    const { attaches, client } = await rheaSending(bytes(DEFAULT_MAX_MESSAGE_SIZE));
    const receiver = await client.openReceiver('big');
    const [info] = await waitFor<[CloseInfo]>(receiver, 'close', TIMEOUT_MS);
    expect(attaches).toEqual([DEFAULT_MAX_MESSAGE_SIZE]);
    expect(info.error?.condition).toBe(EXCEEDED);
    expect(info.error?.description).toMatch(/of 2097152 bytes$/);
  });

  it('0 sets no limit: the attach states none and a 3 MiB message arrives', async () => {
    const payload = bytes(3 * 1024 * 1024);
    const { attaches, client } = await rheaSending(payload);
    const receiver = await client.openReceiver({ source: 'big', maxMessageSize: 0 });
    const delivery = (await receiver.receive({ signal: AbortSignal.timeout(TIMEOUT_MS) })) as Delivery;
    // Buffer.equals: a deep equality of 3 MiB element by element takes seconds.
    expect(payloadOf(delivery.message).equals(payload)).toBe(true);
    expect([0, undefined]).toContain(attaches[0]);
  });

  it('an invalid maxMessageSize is refused before any attach', async () => {
    const { client } = await rheaSending(bytes(1));
    await expect(client.openReceiver({ source: 'x', maxMessageSize: -5 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

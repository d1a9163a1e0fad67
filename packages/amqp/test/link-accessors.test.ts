// rhea's link getters moved onto its prototypes (src/internal/link-accessors.ts): what rhea's own links read
// through them, with rhea on both ends of a TCP connection, and with our connection as one end.
import { EventEmitter } from 'node:events';
import type { Server } from 'node:net';
import type { Container } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { type AmqpConnection, binaryMessage, connect } from '../src/index';
import { installLinkAccessors } from '../src/internal/link-accessors';
import { linkAccessors, rhea } from '../src/internal/rhea';
import { rheaListen, waitFor } from './helpers';

const ATTACH_FIELDS = [
  'snd_settle_mode',
  'rcv_settle_mode',
  'source',
  'target',
  'max_message_size',
  'offered_capabilities',
  'desired_capabilities',
  'properties',
] as const;
const NAMES = [...ATTACH_FIELDS, 'error'] as const;

interface RheaLinkView {
  remote: { attach?: Record<string, unknown>; detach?: { error?: unknown } };
  [name: string]: unknown;
}
interface RheaTestLink extends RheaLinkView {
  send(message: unknown): unknown;
  sendable(): boolean;
  close(error?: unknown): void;
  on(event: string, listener: (context: RheaTestContext) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}
interface RheaTestContext {
  sender?: RheaTestLink;
  receiver?: RheaTestLink;
  message?: { body?: unknown };
  delivery?: { accept(): void };
}
interface RheaTestConnection {
  open_sender(options: unknown): RheaTestLink;
  open_receiver(options: unknown): RheaTestLink;
  close(): void;
}

/** Every getter reads what the link's remote attach (or detach) holds now. */
function expectGettersMatchRemote(link: RheaLinkView): void {
  for (const field of ATTACH_FIELDS) expect(link[field]).toEqual(link.remote.attach?.[field]);
  expect(link.error).toEqual(link.remote.detach?.error);
}

describe('rhea link getters on the prototypes', () => {
  const servers: Server[] = [];
  const connections: RheaTestConnection[] = [];
  let client: AmqpConnection | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
    for (const connection of connections.splice(0)) connection.close();
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  function container(id: string): Container {
    const made = rhea.create_container({ id });
    made.on('error', () => {});
    made.on('disconnected', () => {});
    return made;
  }

  it('are installed when the package loads, once, and links made afterwards have none of their own', () => {
    expect(linkAccessors).not.toBe('unexpected-shape');
    expect(installLinkAccessors(rhea)).toBe('already-installed');
    const connection = rhea.create_connection({ id: 'no-socket', reconnect: false } as never);
    const session = (
      connection as unknown as {
        create_session(): Record<string, (name: string, options: object) => unknown>;
      }
    ).create_session();
    for (const make of ['create_sender', 'create_receiver']) {
      const link = session[make]!.call(session, `probe-${make}`, {}) as RheaLinkView;
      for (const name of NAMES) {
        expect(Object.getOwnPropertyDescriptor(link, name)).toBeUndefined();
        expect(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(link), name)?.get).toBeTypeOf(
          'function',
        );
        expect(link[name]).toBeUndefined();
      }
    }
  });

  it("read the peer's attach and detach, rhea on both ends; links attach, transfer and detach", async () => {
    const server = container('server');
    const peerReceiver = new Promise<RheaTestLink>((resolve) =>
      server.on('receiver_open', (context: RheaTestContext) => resolve(context.receiver!)),
    );
    const received = new Promise<unknown>((resolve) =>
      server.on('message', (context: RheaTestContext) => {
        context.delivery?.accept();
        resolve(context.message?.body);
        context.receiver?.close({ condition: 'amqp:precondition-failed', description: 'enough' });
      }),
    );
    const { server: listening, port } = await rheaListen(server);
    servers.push(listening);
    const clientSide = container('client');
    const connection = clientSide.connect({
      host: '127.0.0.1',
      port,
      reconnect: false,
    } as never) as unknown as RheaTestConnection;
    connections.push(connection);
    const sender = connection.open_sender({
      target: { address: 'q' },
      source: { address: 'from-here' },
      snd_settle_mode: 0,
      rcv_settle_mode: 0,
      max_message_size: 4096,
      offered_capabilities: 'offered-cap',
      desired_capabilities: 'desired-cap',
      properties: { origin: 'rhea-client' },
    });
    for (const name of NAMES) expect(sender[name]).toBeUndefined(); // Nothing from the peer yet.
    const opened = waitFor(sender, 'sender_open');
    const receiver = await peerReceiver;
    expect(receiver.target).toMatchObject({ address: 'q' });
    expect(receiver.source).toMatchObject({ address: 'from-here' });
    expect(receiver.max_message_size).toBe(4096);
    expect(receiver.properties).toEqual({ origin: 'rhea-client' });
    expect(receiver.offered_capabilities).toEqual('offered-cap');
    expect(receiver.desired_capabilities).toEqual('desired-cap');
    expectGettersMatchRemote(receiver);
    await opened;
    expect(sender.remote.attach).toBeDefined();
    expectGettersMatchRemote(sender);

    const errored = waitFor(sender, 'sender_error');
    sender.on('sendable', () => {
      if (sender.sendable()) sender.send({ body: 'hello' });
    });
    if (sender.sendable()) sender.send({ body: 'hello' });
    expect(await received).toBe('hello');
    await errored;
    expect(sender.error).toMatchObject({ condition: 'amqp:precondition-failed', description: 'enough' });
    expectGettersMatchRemote(sender);
  });

  it('our connection as one end: the rhea peer reads our attach through them, and our links work', async () => {
    const server = container('server');
    const peerReceiver = new Promise<RheaTestLink>((resolve) =>
      server.on('receiver_open', (context: RheaTestContext) => resolve(context.receiver!)),
    );
    server.on('message', (context: RheaTestContext) => {
      context.delivery?.accept();
      context.receiver?.close({ condition: 'amqp:resource-limit-exceeded', description: 'one is enough' });
    });
    const { server: listening, port } = await rheaListen(server);
    servers.push(listening);
    client = await connect({ host: '127.0.0.1', port, reconnect: false });
    const sender = await client.openSender({
      target: 'q',
      guarantee: 'at-least-once',
      properties: { origin: 'dragoman' },
      desiredCapabilities: ['wanted'],
      maxMessageSize: 2048,
    });
    const receiver = await peerReceiver;
    expect(receiver.target).toMatchObject({ address: 'q' });
    expect(receiver.properties).toEqual({ origin: 'dragoman' });
    expect(receiver.max_message_size).toBe(2048);
    expect(receiver.snd_settle_mode).toBe(0);
    expectGettersMatchRemote(receiver);
    const closed = waitFor<[{ error?: { condition?: string } }]>(sender, 'close');
    expect(await sender.send(binaryMessage('hello'))).toEqual({ state: 'accepted' });
    const [info] = await closed;
    expect(info.error).toMatchObject({
      condition: 'amqp:resource-limit-exceeded',
      description: 'one is enough',
    });
  });
});

describe('the shape check', () => {
  /** A rhea-like container whose links come from `init` (rhea's own shape unless a test changes it). */
  function fakeRhea(change: { extraField?: boolean; getters?: readonly string[] } = {}) {
    class State {
      open = false;
    }
    const frameType = () => {
      const Frame = function (this: { value: unknown[] }) {
        this.value = [];
      } as unknown as { new (): Record<string, unknown>; create(fields: object): Record<string, unknown> };
      Frame.create = (fields) => Object.assign(new Frame(), fields);
      return Frame;
    };
    const Attach = frameType();
    const Detach = frameType();
    const getters = change.getters ?? NAMES;
    const base = {
      init(
        this: Record<string, unknown>,
        session: { connection: unknown },
        name: string,
        handle: number,
        options: Record<string, unknown> | undefined,
        isReceiver: boolean,
      ) {
        this.session = session;
        this.connection = session.connection;
        this.name = name;
        this.options = options === undefined ? {} : options;
        this.state = new State();
        this.issue_flow = false;
        this.local = { handle, attach: Attach.create({ handle, name, role: isReceiver }) };
        (this.local as Record<string, unknown>).detach = Detach.create({ handle, closed: true });
        this.remote = { handle: undefined };
        this.delivery_count = 0;
        this.credit = 0;
        this.observers = new EventEmitter();
        if (change.extraField === true) this.extra = [];
        for (const getter of getters) {
          Object.defineProperty(this, getter, {
            get(this: RheaLinkView) {
              if (getter === 'error') return this.remote.detach ? this.remote.detach.error : undefined;
              return this.remote.attach ? this.remote.attach[getter] : undefined;
            },
          });
        }
      },
    };
    const senderPrototype = Object.create(base);
    const receiverPrototype = Object.create(base);
    function make(prototype: object, name: string, isReceiver: boolean) {
      const link = Object.create(prototype);
      link.init(session, name, 0, {}, isReceiver);
      return link;
    }
    const session = {
      connection: {},
      create_sender: (name: string) => make(senderPrototype, name, false),
      create_receiver: (name: string) => make(receiverPrototype, name, true),
    };
    return {
      container: { create_connection: () => ({ create_session: () => session }) },
      base,
      senderPrototype,
      receiverPrototype,
    };
  }

  it("installs on a rhea-shaped container's prototypes", () => {
    const fake = fakeRhea();
    expect(installLinkAccessors(fake.container)).toBe('installed');
    expect(Object.hasOwn(fake.senderPrototype, 'init')).toBe(true);
    const link = fake.container.create_connection().create_session().create_sender('after');
    expect(Object.getOwnPropertyDescriptor(link, 'source')).toBeUndefined();
    link.remote = { attach: { source: { address: 's' } }, detach: { error: 'e' } };
    expect(link.source).toEqual({ address: 's' });
    expect(link.error).toBe('e');
    expect(installLinkAccessors(fake.container)).toBe('already-installed');
  });

  it('leaves alone links whose init makes other fields', () => {
    const fake = fakeRhea({ extraField: true });
    expect(installLinkAccessors(fake.container)).toBe('unexpected-shape');
    expect(Object.hasOwn(fake.senderPrototype, 'init')).toBe(false);
    expect('source' in fake.senderPrototype).toBe(false);
  });

  it('leaves alone links with other getters', () => {
    const fake = fakeRhea({ getters: NAMES.filter((name) => name !== 'properties') });
    expect(installLinkAccessors(fake.container)).toBe('unexpected-shape');
    expect(Object.hasOwn(fake.receiverPrototype, 'init')).toBe(false);
  });

  it('leaves alone anything that is not a rhea container', () => {
    expect(installLinkAccessors({})).toBe('unexpected-shape');
    expect(installLinkAccessors(undefined)).toBe('unexpected-shape');
    expect(installLinkAccessors({ create_connection: () => ({}) })).toBe('unexpected-shape');
  });
});

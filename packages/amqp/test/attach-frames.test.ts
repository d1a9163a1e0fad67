// Lean attach and detach frames (src/internal/attach-frames.ts) against rhea's own: every getter reads what
// rhea's reads, every assignment throws where rhea's does, rhea's writer gets the same bytes, and a frame rhea
// read keeps its values once made lean. Then links, with rhea as the peer in both directions.
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import fc from 'fast-check';
import type { Container } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { type AmqpConnection, connect, type IncomingLink, listen } from '../src/index';
import {
  isLeanFrame,
  type LeanFrames,
  type LeanFrameType,
  makeLeanFrames,
  type RheaFrame,
  type RheaFrameType,
} from '../src/internal/attach-frames';
import { ListenerTable } from '../src/internal/listener-tables';
import { rhea } from '../src/internal/rhea';
import { closeClientAndServer, rheaListen, waitFor } from './helpers';

const requireFromRhea = createRequire(createRequire(import.meta.url).resolve('rhea'));

type Factory = (fields: Record<string, unknown>) => RheaFrame;
const rheaFrames = requireFromRhea('./frames.js') as {
  attach: Factory;
  detach: Factory;
  write_frame(frame: object): Buffer;
  read_frame(buffer: Buffer): { performative: RheaFrame };
};
const terminus = requireFromRhea('./terminus.js') as Record<'source' | 'target', Factory>;
const types = requireFromRhea('./types.js') as {
  Writer: new () => { write(value: unknown): void; toBuffer(): Buffer };
};

const Attach = rheaFrames.attach({ handle: 0, name: 'x', role: false }).constructor as RheaFrameType;
const Detach = rheaFrames.detach({ handle: 0 }).constructor as RheaFrameType;
const lean = makeLeanFrames(Attach, Detach, types.Writer) as LeanFrames;

const ATTACH_FIELDS = [
  'name',
  'handle',
  'role',
  'snd_settle_mode',
  'rcv_settle_mode',
  'source',
  'target',
  'unsettled',
  'incomplete_unsettled',
  'initial_delivery_count',
  'max_message_size',
  'offered_capabilities',
  'desired_capabilities',
  'properties',
] as const;
const DETACH_FIELDS = ['handle', 'closed', 'error'] as const;

function encode(frame: { described(): unknown }): Buffer {
  const writer = new types.Writer();
  writer.write(frame.described());
  return writer.toBuffer();
}

/** What `assign` does to a frame: its result or the error it throws (by message). */
function outcome(assign: () => void): string {
  try {
    assign();
    return 'ok';
  } catch (error) {
    return `throws ${(error as Error).message}`;
  }
}

/** Both frames read the same through every getter and encode to the same bytes. */
function expectSameFrame(ours: unknown, theirs: RheaFrame, fields: readonly string[]): void {
  const our = ours as Record<string, unknown> & { described(): unknown };
  for (const field of fields) expect(our[field], field).toEqual(theirs[field]);
  expect(encode(our)).toEqual(encode(theirs));
  expect(JSON.stringify(our)).toBe(JSON.stringify(theirs));
}

/** Ours and rhea's made from `fields`, then each given `later` one by one: the same at every step. */
function compare(type: LeanFrameType, factory: Factory, fieldNames: readonly string[]) {
  return (fields: Record<string, unknown>, later: Array<[string, unknown]>): void => {
    let ours: Record<string, unknown> | undefined;
    let theirs: RheaFrame | undefined;
    const made = [
      outcome(() => {
        ours = type.create(fields) as Record<string, unknown>;
      }),
      outcome(() => {
        theirs = factory(fields);
      }),
    ];
    expect(made[0]).toBe(made[1]);
    if (ours === undefined || theirs === undefined) return;
    expect(type.isLean(ours)).toBe(true);
    expectSameFrame(ours, theirs, fieldNames);
    for (const [name, value] of later) {
      const o = ours;
      const t = theirs;
      expect(
        outcome(() => {
          o[name] = value;
        }),
      ).toBe(
        outcome(() => {
          t[name] = value;
        }),
      );
      expectSameFrame(ours, theirs, fieldNames);
    }
    // What rhea reads back from the bytes, made lean, reads the same.
    const read = rheaFrames.read_frame(
      rheaFrames.write_frame({ type: 0, channel: 0, performative: theirs.described() }),
    ).performative;
    expectSameFrame(type.fromRhea(read), read, fieldNames);
  };
}

const uint = fc.integer({ min: 0, max: 0xffffffff });
const symbol = fc.string({ minLength: 1, maxLength: 20 });
/** A field left out, passed as undefined or null, or given a value. */
const optional = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | undefined | null> =>
  fc.oneof({ weight: 3, arbitrary: value }, fc.constant(undefined), fc.constant(null));
const someOf = (record: Record<string, unknown>, keep: boolean[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).filter((_, i) => keep[i] !== false));
const propertyValue = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
const terminusFields = fc.record(
  {
    address: fc.string(),
    durable: fc.integer({ min: 0, max: 2 }),
    expiry_policy: fc.constantFrom('link-detach', 'session-end', 'never'),
    dynamic: fc.boolean(),
    capabilities: fc.array(symbol, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
/** A terminus as rhea's links hold them (rhea's typed tree), or any object passed through options. */
const terminusValue = (kind: 'source' | 'target') =>
  fc.oneof(
    terminusFields.map((fields) => terminus[kind](fields).described()),
    terminusFields,
    fc.string(),
  );
const capabilities = fc.oneof(symbol, fc.array(symbol, { maxLength: 4 }));
const attachValues = {
  name: fc.oneof(fc.string({ maxLength: 300 }), fc.constant(null), fc.integer()),
  handle: fc.oneof(uint, fc.constant(undefined)),
  role: fc.oneof(fc.boolean(), fc.constant(null)),
  snd_settle_mode: optional(fc.integer({ min: 0, max: 2 })),
  rcv_settle_mode: optional(fc.integer({ min: 0, max: 1 })),
  source: optional(terminusValue('source')),
  target: optional(terminusValue('target')),
  unsettled: optional(fc.constant({})),
  incomplete_unsettled: optional(fc.boolean()),
  initial_delivery_count: optional(uint),
  max_message_size: optional(fc.oneof(uint, fc.constant(0))),
  offered_capabilities: optional(capabilities),
  desired_capabilities: optional(capabilities),
  properties: optional(fc.dictionary(symbol, propertyValue, { maxKeys: 4 })),
};
const laterAttach = fc.array(
  fc.oneof(
    ...ATTACH_FIELDS.map((name) => attachValues[name].map((value): [string, unknown] => [name, value])),
  ),
  { maxLength: 6 },
);

describe('lean attach and detach frames', () => {
  it('are made for rhea 3 (and not while rhea logs frames)', () => {
    expect(lean).toBeDefined();
    const saved = process.env.DEBUG;
    process.env.DEBUG = 'rhea:frames';
    try {
      expect(makeLeanFrames(Attach, Detach, types.Writer)).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.DEBUG;
      else process.env.DEBUG = saved;
    }
  });

  it('an attach reads, throws and encodes as rhea’s, made at once or field by field', () => {
    const check = compare(lean.attach, rheaFrames.attach, ATTACH_FIELDS);
    fc.assert(
      fc.property(
        fc.record({
          name: fc.string({ maxLength: 300 }),
          handle: uint,
          role: fc.boolean(),
          ...Object.fromEntries(ATTACH_FIELDS.slice(3).map((name) => [name, attachValues[name]])),
        }),
        fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
        laterAttach,
        (fields, keep, later) => check(someOf(fields, keep), later),
      ),
      { numRuns: 300 },
    );
  });

  it('a detach reads, throws and encodes as rhea’s, an error included', () => {
    const check = compare(lean.detach, rheaFrames.detach, DETACH_FIELDS);
    const error = fc.record(
      {
        condition: fc.constantFrom('amqp:internal-error', 'amqp:link:detach-forced'),
        description: fc.string(),
        info: fc.dictionary(symbol, propertyValue, { maxKeys: 2 }),
      },
      { requiredKeys: ['condition'] },
    );
    const values = { handle: uint, closed: optional(fc.boolean()), error: optional(error) };
    fc.assert(
      fc.property(
        fc.record(values),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.array(
          fc.oneof(
            ...DETACH_FIELDS.map((name) =>
              (values[name] as fc.Arbitrary<unknown>).map((value): [string, unknown] => [name, value]),
            ),
          ),
          { maxLength: 4 },
        ),
        (fields, keep, later) => check(someOf(fields, keep), later),
      ),
      { numRuns: 200 },
    );
  });

  it('fields rhea would set as extra properties leave the frame to rhea', () => {
    const made = lean.attach.create({ handle: 1, name: 'n', role: false, value: [] });
    expect(lean.attach.isLean(made)).toBe(false);
    expect(made).toBeInstanceOf(Attach);
  });
});

interface RheaLink {
  local: { attach: unknown; detach: unknown };
  remote: { attach?: Record<string, unknown>; detach?: { error?: unknown } };
  _events?: unknown;
  observers: { _events?: unknown };
  source?: Record<string, unknown>;
  target?: Record<string, unknown>;
  properties?: unknown;
  offered_capabilities?: unknown;
  desired_capabilities?: unknown;
  max_message_size?: unknown;
  snd_settle_mode?: unknown;
  rcv_settle_mode?: unknown;
  error?: unknown;
  close(error?: unknown): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  listenerCount(event: string): number;
  removeAllListeners(): unknown;
}
interface RheaContext {
  receiver?: RheaLink;
  sender?: RheaLink;
  connection?: { close(): void };
}

describe('links with lean frames, rhea as the peer', () => {
  let client: AmqpConnection | undefined;
  let server: Server | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await closeClientAndServer(client, server);
    client = undefined;
    server = undefined;
  });

  function container(id: string): Container {
    const made = rhea.create_container({ id });
    made.on('error', () => {});
    made.on('disconnected', () => {});
    return made;
  }

  it('new links have lean frames and fast listener tables', () => {
    const connection = rhea.create_connection({ id: 'no-socket', reconnect: false } as never) as unknown as {
      create_session(): { create_sender(name: string, options: object): RheaLink };
    };
    const link = connection.create_session().create_sender('probe', {});
    expect(isLeanFrame(link.local.attach)).toBe(true);
    expect(isLeanFrame(link.local.detach)).toBe(true);
    expect(link._events).toBeInstanceOf(ListenerTable);
    expect(link.observers._events).toBeInstanceOf(ListenerTable);
    // Nothing is inherited: names of Object.prototype's members are ordinary event names.
    expect(link.listenerCount('toString')).toBe(0);
    expect(link.emit('constructor')).toBe(false);
    let heard = 0;
    link.on('toString', () => heard++);
    expect(link.emit('toString')).toBe(true);
    expect(heard).toBe(1);
    link.removeAllListeners();
    expect(link._events).toBeInstanceOf(ListenerTable);
    expect(link.listenerCount('toString')).toBe(0);
  });

  it('our attach reaches a rhea peer whole; its detach error reaches us, and ours reaches it', async () => {
    const peer = container('peer');
    const peerLinks: RheaLink[] = [];
    const opened = new Promise<RheaLink>((resolve) =>
      peer.on('receiver_open', (context: RheaContext) => {
        peerLinks.push(context.receiver as RheaLink);
        resolve(context.receiver as RheaLink);
      }),
    );
    const senderOpened = new Promise<RheaLink>((resolve) =>
      peer.on('sender_open', (context: RheaContext) => resolve(context.sender as RheaLink)),
    );
    const listening = await rheaListen(peer);
    server = listening.server;
    client = await connect({ host: '127.0.0.1', port: listening.port, reconnect: false });
    const sender = await client.openSender({
      target: { address: 'q', capabilities: ['queue'], durable: 'configuration' },
      source: 'from-us',
      guarantee: 'at-least-once',
      properties: { origin: 'dragoman', weight: 3 },
      offeredCapabilities: ['one', 'two'],
      desiredCapabilities: ['three'],
      maxMessageSize: 70000,
    });
    const theirs = await opened;
    expect(theirs.target).toMatchObject({ address: 'q', capabilities: ['queue'], durable: 1 });
    expect(theirs.source).toMatchObject({ address: 'from-us' });
    expect(theirs.properties).toEqual({ origin: 'dragoman', weight: 3 });
    expect(theirs.offered_capabilities).toEqual(['one', 'two']);
    expect(theirs.desired_capabilities).toEqual(['three']);
    expect(theirs.max_message_size).toBe(70000);
    expect(theirs.snd_settle_mode).toBe(0);
    expect(theirs.rcv_settle_mode).toBe(0);
    // The peer's own rhea link holds the attach it read from us lean, with the same values.
    expect(isLeanFrame(theirs.remote.attach)).toBe(true);

    const receiver = await client.openReceiver({
      source: { address: 'events', filter: { 'apache.org:selector-filter:string': "colour = 'red'" } },
      properties: { purpose: 'test' },
    });
    const theirSender = await senderOpened;
    expect(theirSender.source).toMatchObject({ address: 'events' });
    expect(Object.keys(theirSender.source?.filter as object)).toEqual(['apache.org:selector-filter:string']);
    expect(theirSender.properties).toEqual({ purpose: 'test' });

    // rhea detaches our receiver with an error: we see it.
    const receiverClosed = waitFor<[{ error?: { condition?: string; description?: string } }]>(
      receiver,
      'close',
    );
    theirSender.close({ condition: 'amqp:resource-deleted', description: 'gone' });
    const [info] = await receiverClosed;
    expect(info.error).toMatchObject({ condition: 'amqp:resource-deleted', description: 'gone' });

    // We detach our sender with an error: rhea sees it.
    const peerSawError = waitFor<[RheaContext]>(peer, 'receiver_error');
    await sender.close({ condition: 'amqp:link:detach-forced', description: 'going away' });
    await peerSawError;
    expect(theirs.error).toMatchObject({ condition: 'amqp:link:detach-forced', description: 'going away' });
  });

  it('a rhea client attaches to our listener: we read its termini, properties and capabilities; errors go both ways', async () => {
    const listener = await listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => listener.close());
    const incoming: IncomingLink[] = [];
    const nextIncoming: ((link: IncomingLink) => void)[] = [];
    listener.on('connection', (connection: AmqpConnection) => {
      connection.on('incomingLink', (link: IncomingLink) => {
        const waiting = nextIncoming.shift();
        if (waiting !== undefined) waiting(link);
        else incoming.push(link);
      });
    });
    const next = (): Promise<IncomingLink> => {
      const ready = incoming.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve) => nextIncoming.push(resolve));
    };
    const rheaClient = container('rhea-client');
    const connection = rheaClient.connect({
      host: '127.0.0.1',
      port: listener.address().port,
      reconnect: false,
    } as never) as unknown as {
      open_sender(options: object): RheaLink;
      open_receiver(options: object): RheaLink;
      close(): void;
    };
    cleanups.push(() => connection.close());

    const theirSender = connection.open_sender({
      target: { address: 'in', capabilities: ['topic'] },
      properties: { client: 'rhea' },
      offered_capabilities: 'offered',
      desired_capabilities: ['wanted', 'too'],
      max_message_size: 1234,
    });
    const senderLink = await next();
    expect(senderLink.address).toBe('in');
    expect(senderLink.info.properties).toEqual({ client: 'rhea' });
    expect(senderLink.info.target?.capabilities).toEqual(['topic']);
    const ourReceiver = senderLink.acceptReceiver();
    await waitFor(theirSender, 'sender_open');
    expect(isLeanFrame(theirSender.remote.attach)).toBe(true);
    expect(theirSender.target).toMatchObject({ address: 'in' });

    const theirReceiver = connection.open_receiver({
      source: { address: 'out', filter: { 'x-opt-filter': 'a = 1' }, distribution_mode: 'copy' },
      properties: { side: 'receiver' },
    });
    const receiverLink = await next();
    expect(receiverLink.address).toBe('out');
    expect(receiverLink.info.source?.filter).toEqual({ 'x-opt-filter': 'a = 1' });
    expect(receiverLink.info.source?.distributionMode).toBe('copy');
    expect(receiverLink.info.properties).toEqual({ side: 'receiver' });
    const ourSender = receiverLink.acceptSender();
    await waitFor(theirReceiver, 'receiver_open');
    expect(theirReceiver.source).toMatchObject({ address: 'out' });

    // rhea closes its sender with an error: our receiver hears it.
    const receiverClosed = waitFor<[{ error?: { condition?: string } }]>(ourReceiver, 'close');
    theirSender.close({ condition: 'amqp:precondition-failed', description: 'no' });
    const [closedInfo] = await receiverClosed;
    expect(closedInfo.error).toMatchObject({ condition: 'amqp:precondition-failed' });

    // We close our sender with an error: rhea's receiver reads it through `error`.
    const theirError = waitFor(theirReceiver, 'receiver_error');
    await ourSender.close({ condition: 'amqp:resource-limit-exceeded', description: 'enough' });
    await theirError;
    expect(theirReceiver.error).toMatchObject({
      condition: 'amqp:resource-limit-exceeded',
      description: 'enough',
    });
  });
});

/**
 * A recording AMQP 1.0 peer on rhea (used directly), and a rhea client that sends to it, for checking the
 * mapping on the wire: the peer keeps each transfer's raw bytes and decodes them with rhea's own type reader,
 * so tests see every field's AMQP type (int vs uint, symbol vs string, data section vs amqp-value), and it
 * records each attach (link name, role, address, settle modes) as the client sent it.
 */
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { type AmqpMessage, fromRhea, type RheaMessage, toRhea } from '@dragoman/amqp';
import type { LinkSpec } from '@dragoman/mqtt-amqp';
import type { Connection, EventContext, Sender } from 'rhea';
import rhea from 'rhea';

// ---------------------------------------------------------------------------------------------
// Typed wire values
// ---------------------------------------------------------------------------------------------

/** An AMQP value as it was encoded: its AMQP type name and its value (lists and maps hold WireValues). */
export interface WireValue {
  readonly type: string;
  readonly value: unknown;
}

interface RheaTyped {
  readonly type: { readonly name: string; readonly typecode: number };
  readonly value: unknown;
  readonly descriptor?: { readonly value: unknown };
}

interface RheaReader {
  remaining(): number;
  read(): RheaTyped;
}

const TYPE_NAMES: Readonly<Record<number, string>> = {
  64: 'null',
  65: 'boolean',
  66: 'boolean',
  86: 'boolean',
  80: 'ubyte',
  81: 'byte',
  96: 'ushort',
  97: 'short',
  112: 'uint',
  82: 'uint',
  67: 'uint',
  128: 'ulong',
  83: 'ulong',
  68: 'ulong',
  113: 'int',
  84: 'int',
  129: 'long',
  85: 'long',
  114: 'float',
  130: 'double',
  115: 'char',
  131: 'timestamp',
  152: 'uuid',
  160: 'binary',
  176: 'binary',
  161: 'string',
  177: 'string',
  163: 'symbol',
  179: 'symbol',
  69: 'list',
  192: 'list',
  208: 'list',
  193: 'map',
  209: 'map',
  224: 'array',
  240: 'array',
};

/** The AMQP type name of an encoding's type code (`0x54` smallint → `int`, …). */
export function amqpTypeName(typecode: number): string {
  return TYPE_NAMES[typecode] ?? `0x${typecode.toString(16)}`;
}

function toWire(typed: RheaTyped): WireValue {
  const type = amqpTypeName(typed.type.typecode);
  if (type === 'list' || type === 'array') {
    return { type, value: ((typed.value as RheaTyped[] | undefined) ?? []).map(toWire) };
  }
  if (type === 'map') {
    const items = (typed.value as RheaTyped[]).map(toWire);
    const entries: Array<[WireValue, WireValue]> = [];
    for (let i = 0; i < items.length; i += 2) entries.push([items[i]!, items[i + 1]!]);
    return { type, value: entries };
  }
  return { type, value: typed.value };
}

/** A wire map as a record keyed by the keys' values, plus the keys' AMQP types. */
export function wireMap(value: WireValue): { entries: Record<string, WireValue>; keyTypes: string[] } {
  if (value.type !== 'map') throw new Error(`expected a map, got ${value.type}`);
  const entries: Record<string, WireValue> = {};
  const keyTypes: string[] = [];
  for (const [k, v] of value.value as Array<[WireValue, WireValue]>) {
    entries[String(k.value)] = v;
    keyTypes.push(k.type);
  }
  return { entries, keyTypes };
}

const HEADER_FIELDS = ['durable', 'priority', 'ttl', 'first-acquirer', 'delivery-count'] as const;
const PROPERTY_FIELDS = [
  'message-id',
  'user-id',
  'to',
  'subject',
  'reply-to',
  'correlation-id',
  'content-type',
  'content-encoding',
  'absolute-expiry-time',
  'creation-time',
  'group-id',
  'group-sequence',
  'reply-to-group-id',
] as const;

/** A message as it was on the wire, section by section. Composite fields that were null are left out. */
export interface WireMessage {
  readonly sections: string[];
  readonly header?: Record<string, WireValue>;
  readonly messageAnnotations?: { entries: Record<string, WireValue>; keyTypes: string[] };
  readonly properties?: Record<string, WireValue>;
  readonly applicationProperties?: { entries: Record<string, WireValue>; keyTypes: string[] };
  /** The body sections: `data` (binary), `amqp-value` or `amqp-sequence`, with their content. */
  readonly body: Array<{ section: 'data' | 'amqp-value' | 'amqp-sequence'; content: WireValue }>;
}

function fields(names: readonly string[], list: WireValue): Record<string, WireValue> {
  const out: Record<string, WireValue> = {};
  (list.value as WireValue[]).forEach((value, i) => {
    if (value.type !== 'null' && names[i] !== undefined) out[names[i]] = value;
  });
  return out;
}

export function parseWire(raw: Buffer): WireMessage {
  const reader = new (rhea.types as unknown as { Reader: new (b: Buffer) => RheaReader }).Reader(raw);
  const sections: string[] = [];
  const result: {
    -readonly [K in keyof WireMessage]: WireMessage[K];
  } = { sections, body: [] };
  while (reader.remaining() > 0) {
    const section = reader.read();
    const code = Number(section.descriptor?.value);
    const content = toWire(section);
    switch (code) {
      case 0x70:
        sections.push('header');
        result.header = fields(HEADER_FIELDS, content);
        break;
      case 0x71:
        sections.push('delivery-annotations');
        break;
      case 0x72:
        sections.push('message-annotations');
        result.messageAnnotations = wireMap(content);
        break;
      case 0x73:
        sections.push('properties');
        result.properties = fields(PROPERTY_FIELDS, content);
        break;
      case 0x74:
        sections.push('application-properties');
        result.applicationProperties = wireMap(content);
        break;
      case 0x75:
        sections.push('data');
        result.body.push({ section: 'data', content });
        break;
      case 0x76:
        sections.push('amqp-sequence');
        result.body.push({ section: 'amqp-sequence', content });
        break;
      case 0x77:
        sections.push('amqp-value');
        result.body.push({ section: 'amqp-value', content });
        break;
      default:
        sections.push(`0x${code.toString(16)}`);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The recording peer
// ---------------------------------------------------------------------------------------------

const SND_SETTLE_MODES = ['unsettled', 'settled', 'mixed'] as const;
const RCV_SETTLE_MODES = ['first', 'second'] as const;

/** An attach as the peer saw it arrive. */
export interface WireAttach {
  readonly name: string;
  /** The client's role on the link. */
  readonly role: 'sender' | 'receiver';
  readonly address: string | undefined;
  readonly senderSettleMode: string;
  readonly receiverSettleMode: string;
}

export interface WireDelivery {
  readonly link: WireAttach;
  /** The transfer arrived settled (pre-settled by the client). */
  readonly settled: boolean;
  readonly raw: Buffer;
  readonly wire: WireMessage;
  /** The message as @dragoman/amqp reads it (`fromRhea` of rhea's decoding). */
  readonly message: AmqpMessage;
}

interface RawAttach {
  snd_settle_mode?: number;
  rcv_settle_mode?: number;
}

function attachOf(
  role: 'sender' | 'receiver',
  name: string,
  address: string | undefined,
  raw: RawAttach,
): WireAttach {
  return {
    name,
    role,
    address,
    senderSettleMode: SND_SETTLE_MODES[raw.snd_settle_mode ?? 0] ?? String(raw.snd_settle_mode),
    receiverSettleMode: RCV_SETTLE_MODES[raw.rcv_settle_mode ?? 0] ?? String(raw.rcv_settle_mode),
  };
}

type Decode = (buffer: Buffer) => RheaMessage;

/**
 * Listens on 127.0.0.1 (free port), accepts every link, accepts every delivery, and records attaches and
 * deliveries. Raw transfer bytes are captured by wrapping rhea's message decoder while the peer is running
 * (the client side of these tests only sends, so every decode in the process is the peer's).
 */
export class RecordingPeer {
  readonly attaches: WireAttach[] = [];
  readonly deliveries: WireDelivery[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly #server: Server;
  readonly #messageModule: { decode: Decode };
  readonly #originalDecode: Decode;
  #lastRaw: Buffer | undefined;

  private constructor(server: Server, messageModule: { decode: Decode }, originalDecode: Decode) {
    this.#server = server;
    this.#messageModule = messageModule;
    this.#originalDecode = originalDecode;
  }

  static async start(): Promise<RecordingPeer> {
    const container = rhea.create_container({ id: 'recording-peer' });
    const messageModule = container.message as unknown as { decode: Decode };
    const originalDecode = messageModule.decode;
    const server = container.listen({ port: 0, host: '127.0.0.1' }) as unknown as Server;
    const peer = new RecordingPeer(server, messageModule, originalDecode);
    messageModule.decode = (buffer: Buffer) => {
      peer.#lastRaw = Buffer.from(buffer);
      return originalDecode(buffer);
    };
    container.on('receiver_open', (context: EventContext) => {
      const receiver = context.receiver!;
      const remote = (receiver as unknown as { remote: { attach: RawAttach } }).remote.attach;
      peer.attaches.push(attachOf('sender', receiver.name, receiver.target?.address, remote));
    });
    container.on('sender_open', (context: EventContext) => {
      const sender = context.sender!;
      const remote = (sender as unknown as { remote: { attach: RawAttach } }).remote.attach;
      peer.attaches.push(attachOf('receiver', sender.name, sender.source?.address, remote));
    });
    container.on('message', (context: EventContext) => {
      const raw = peer.#lastRaw;
      peer.#lastRaw = undefined;
      if (raw === undefined) throw new Error('no raw transfer captured');
      const receiver = context.receiver!;
      const link = peer.attaches.find((a) => a.role === 'sender' && a.name === receiver.name);
      if (link === undefined) throw new Error(`message on unknown link ${receiver.name}`);
      const delivery = context.delivery as unknown as { remote_settled: boolean };
      peer.deliveries.push({
        link,
        settled: delivery.remote_settled,
        raw,
        wire: parseWire(raw),
        message: fromRhea(context.message as unknown as RheaMessage),
      });
      for (const wake of peer.#waiters.splice(0)) wake();
    });
    if (!server.listening) await once(server, 'listening');
    return peer;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Waits (up to 10 s) until `count` deliveries have arrived. */
  async waitForDeliveries(count: number): Promise<WireDelivery[]> {
    const signal = AbortSignal.timeout(10_000);
    while (this.deliveries.length < count) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () =>
          reject(new Error(`timed out waiting for ${count} deliveries (got ${this.deliveries.length})`));
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    return this.deliveries.slice(0, count);
  }

  async close(): Promise<void> {
    this.#messageModule.decode = this.#originalDecode;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// The sending client
// ---------------------------------------------------------------------------------------------

/** A rhea client connection that attaches links from `LinkSpec`s and sends `AmqpMessage`s on them. */
export class WireClient {
  readonly #connection: Connection;
  readonly #senders = new Map<string, Sender>();

  private constructor(connection: Connection) {
    this.#connection = connection;
  }

  static async connect(port: number): Promise<WireClient> {
    const container = rhea.create_container({ id: 'wire-client' });
    const connection = container.connect({ host: '127.0.0.1', port, reconnect: false });
    await once(connection, 'connection_open', { signal: AbortSignal.timeout(10_000) });
    return new WireClient(connection);
  }

  /** Attaches the link as the spec says (role, name, address, settle modes) and waits for the peer's attach. */
  async attach(link: LinkSpec): Promise<void> {
    const snd_settle_mode = SND_SETTLE_MODES.indexOf(link.senderSettleMode);
    const rcv_settle_mode = RCV_SETTLE_MODES.indexOf(link.receiverSettleMode);
    if (link.role === 'sender') {
      if (this.#senders.has(link.name)) return;
      const sender = this.#connection.open_sender({
        name: link.name,
        target: { address: link.address },
        snd_settle_mode,
        rcv_settle_mode,
        autosettle: true,
      } as unknown as Parameters<Connection['open_sender']>[0]);
      this.#senders.set(link.name, sender);
      await once(sender, 'sendable', { signal: AbortSignal.timeout(10_000) });
    } else {
      const receiver = this.#connection.open_receiver({
        name: link.name,
        source: { address: link.address },
        snd_settle_mode,
        rcv_settle_mode,
        credit_window: 0,
      } as unknown as Parameters<Connection['open_receiver']>[0]);
      await once(receiver, 'receiver_open', { signal: AbortSignal.timeout(10_000) });
    }
  }

  /** Sends on an attached sender link; `presettled` settles the delivery before its transfer is written. */
  send(link: LinkSpec, message: AmqpMessage, presettled = false): void {
    const sender = this.#senders.get(link.name);
    if (sender === undefined) throw new Error(`link ${link.name} is not attached`);
    const delivery = sender.send(toRhea(message) as unknown as Parameters<Sender['send']>[0]);
    // What rhea itself does for a link whose sender settle mode is `settled`, here per delivery on a mixed link.
    if (presettled) (delivery as unknown as { settled: boolean }).settled = true;
  }

  /** Sends a message written in rhea's own format, as a plain AMQP application would. */
  sendRaw(link: LinkSpec, message: Record<string, unknown>, presettled = false): void {
    const sender = this.#senders.get(link.name);
    if (sender === undefined) throw new Error(`link ${link.name} is not attached`);
    const delivery = sender.send(message as unknown as Parameters<Sender['send']>[0]);
    if (presettled) (delivery as unknown as { settled: boolean }).settled = true;
  }

  async close(): Promise<void> {
    this.#connection.close();
    await once(this.#connection, 'connection_close', { signal: AbortSignal.timeout(10_000) }).catch(() => {});
  }
}

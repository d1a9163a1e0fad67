/**
 * A recording AMQP 1.0 peer built on rhea used directly (not on @dragoman/amqp), for testing the bridge.
 *
 * It plays the Will service and the Subscription service of spec/mqtt-over-amqp.md well enough for the
 * bridge to run against it, and it records every frame-level fact the tests assert on: link names,
 * roles, addresses, settle modes, message subjects and fields, dispositions, credit, detach errors, in
 * the order they happened. Every disposition can be held so a test can observe the bridge in between.
 */
import { EventEmitter, once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import type { Connection, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import rhea from 'rhea';

/** What the peer does with a message it receives: settle it with an outcome, or hold it for the test. */
export type PeerDisposition =
  | 'accept'
  | 'reject'
  | 'release'
  | 'hold'
  | { readonly reject: { condition: string; description?: string; info?: Record<string, unknown> } };

export interface AttachEvent {
  readonly kind: 'attach';
  readonly seq: number;
  readonly name: string;
  /** The bridge's role on this link. */
  readonly role: 'sender' | 'receiver';
  readonly address: string | undefined;
  readonly sndSettleMode: number | undefined;
  readonly rcvSettleMode: number | undefined;
}

export interface DetachEvent {
  readonly kind: 'detach';
  readonly seq: number;
  readonly name: string;
  readonly role: 'sender' | 'receiver';
  readonly address: string | undefined;
  readonly condition: string | undefined;
  readonly closed: boolean;
}

export interface MessageEvent {
  readonly kind: 'message';
  readonly seq: number;
  /** Link name and target address the bridge sent on. */
  readonly link: string;
  readonly address: string | undefined;
  readonly subject: string | undefined;
  readonly message: Message;
  readonly delivery: Delivery;
  /** Whether the bridge sent it pre-settled. */
  readonly presettled: boolean;
}

export interface SettledEvent {
  readonly kind: 'settled';
  readonly seq: number;
  /** The bridge settled a delivery it sent us (link it came on, and its subject/to). */
  readonly link: string;
  readonly deliveryId: number;
}

export interface FlowEvent {
  readonly kind: 'flow';
  readonly seq: number;
  /** The bridge's receiver link and the credit it now gives us. */
  readonly link: string;
  readonly address: string | undefined;
  readonly credit: number;
}

export interface OutcomeEvent {
  readonly kind: 'outcome';
  readonly seq: number;
  /** The bridge's disposition of a delivery we sent it. */
  readonly link: string;
  readonly address: string | undefined;
  readonly deliveryId: number;
  readonly state: string;
  readonly settled: boolean;
}

export interface ConnectionEvent<
  K extends 'connection-open' | 'connection-close' = 'connection-open' | 'connection-close',
> {
  readonly kind: K;
  readonly seq: number;
  readonly connectionId: number;
  readonly containerId: string | undefined;
  /** Idle time-out the bridge announced in its open frame, ms. */
  readonly idleTimeoutMs: number | undefined;
}

export type PeerEvent =
  | AttachEvent
  | DetachEvent
  | MessageEvent
  | SettledEvent
  | FlowEvent
  | OutcomeEvent
  | ConnectionEvent<'connection-open'>
  | ConnectionEvent<'connection-close'>;

export interface RecordingPeerOptions {
  /** When set, SASL PLAIN is required and checked with this function. */
  readonly authenticate?: (username: string, password: string) => boolean;
  /** Credit granted on each link the bridge attaches as a sender to a topic, topped up per message. Default 100. */
  readonly topicCredit?: number;
}

interface RemoteAttach {
  readonly snd_settle_mode?: number;
  readonly rcv_settle_mode?: number;
  readonly source?: { readonly address?: string };
  readonly target?: { readonly address?: string };
}

interface LinkInternals {
  readonly remote: { readonly attach?: RemoteAttach; readonly detach?: { readonly closed?: boolean } };
  readonly local: { readonly attach: { snd_settle_mode?: number; rcv_settle_mode?: number } };
}

const WILL_SERVICE = '$mqtt.willservice';
const SUBSCRIPTION_SERVICE = '$mqtt.subscriptionservice';

export function publishAddress(clientId: string): string {
  return `$mqtt.to.${clientId}.publish`;
}
export function controlAddress(clientId: string): string {
  return `$mqtt.to.${clientId}.control`;
}
export function pubrelAddress(clientId: string): string {
  return `$mqtt.${clientId}.pubrel`;
}

/** Reads a Data-section (or binary/string value) body as bytes. */
export function bodyBytes(message: Message): Buffer {
  const body: unknown = message.body;
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  if (typeof body === 'object' && 'content' in body) {
    const content = (body as { content: unknown }).content;
    if (Buffer.isBuffer(content)) return content;
    if (Array.isArray(content)) return Buffer.concat(content as Buffer[]);
  }
  throw new TypeError('body is not binary');
}

function linkAddress(link: Sender | Receiver, role: 'sender' | 'receiver'): string | undefined {
  const attach = (link as unknown as LinkInternals).remote.attach;
  return role === 'sender' ? attach?.target?.address : attach?.source?.address;
}

export class RecordingPeer extends EventEmitter {
  readonly events: PeerEvent[] = [];
  /** Subscriptions per client id as the Subscription service keeps them (topic filter → QoS). */
  readonly sessions = new Map<string, Map<string, number>>();
  /** Decides what to do with every message the bridge sends. Default: accept everything. */
  dispose: (event: MessageEvent) => PeerDisposition = () => 'accept';
  /** Whether the Subscription service answers AMQP_LIST. */
  answerList = true;
  /** Whether topic links get their credit topped up after each message. */
  topUpTopicCredit = true;

  private readonly container = rhea.create_container({ id: 'recording-peer' });
  private readonly senders = new Map<string, Sender>();
  private readonly receivers = new Map<string, Receiver>();
  private readonly connections = new Set<Connection>();
  private server: Server | undefined;
  private seq = 0;
  private connectionIds = 0;
  private readonly topicCredit: number;

  private constructor(options: RecordingPeerOptions) {
    super();
    this.setMaxListeners(100);
    this.topicCredit = options.topicCredit ?? 100;
    const authenticate = options.authenticate;
    if (authenticate !== undefined) {
      this.container.sasl_server_mechanisms.enable_plain((username: string, password: string) =>
        authenticate(username, password),
      );
    } else {
      this.container.sasl_server_mechanisms.enable_anonymous();
    }
    this.wire();
  }

  static async start(options: RecordingPeerOptions = {}): Promise<RecordingPeer> {
    const peer = new RecordingPeer(options);
    const server = peer.container.listen({
      host: '127.0.0.1',
      port: 0,
      credit_window: 0,
      autoaccept: false,
      autosettle: true,
    } as unknown as Parameters<typeof peer.container.listen>[0]) as Server;
    peer.server = server;
    await once(server, 'listening');
    return peer;
  }

  get port(): number {
    return ((this.server as Server).address() as AddressInfo).port;
  }

  get url(): string {
    return `amqp://127.0.0.1:${this.port}`;
  }

  /** Open AMQP connections from the bridge right now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** The peer's sender on an address the bridge attached a receiver to (e.g. `$mqtt.to.<id>.publish`). */
  senderFor(address: string): Sender | undefined {
    return this.senders.get(address);
  }

  /** The peer's receiver on a link the bridge attached as sender, by link name. */
  receiverNamed(name: string): Receiver | undefined {
    return this.receivers.get(name);
  }

  /**
   * Sends a message to a client's publish address (as the Subscription service would). Resolves with the
   * delivery once written; the bridge's outcome arrives later as an 'outcome' event. Waits for credit.
   */
  async sendToClient(clientId: string, message: Message, signal?: AbortSignal): Promise<Delivery> {
    const address = publishAddress(clientId);
    const sender = await this.until(() => {
      const s = this.senders.get(address);
      return s?.sendable() ? s : undefined;
    }, signal);
    return sender.send(message);
  }

  /** Gives `credit` more to the bridge's sender link `name` (a topic link). */
  grant(name: string, credit: number): void {
    const receiver = this.receivers.get(name);
    if (receiver === undefined) throw new Error(`no link named ${name}`);
    receiver.add_credit(credit);
  }

  /** Resolves with the first recorded event (past or future) matching `predicate`. */
  waitFor<E extends PeerEvent>(predicate: (event: PeerEvent) => event is E, signal?: AbortSignal): Promise<E>;
  waitFor(predicate: (event: PeerEvent) => boolean, signal?: AbortSignal): Promise<PeerEvent>;
  waitFor(predicate: (event: PeerEvent) => boolean, signal?: AbortSignal): Promise<PeerEvent> {
    return this.until(() => this.events.find(predicate), signal);
  }

  /** Resolves once `check` returns a value, re-checking after every recorded event. */
  until<T>(check: () => T | undefined, signal: AbortSignal = AbortSignal.timeout(10_000)): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = check();
      if (first !== undefined) {
        resolve(first);
        return;
      }
      const onEvent = (): void => {
        const value = check();
        if (value !== undefined) {
          cleanup();
          resolve(value);
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal.reason);
      };
      const cleanup = (): void => {
        this.off('event', onEvent);
        signal.removeEventListener('abort', onAbort);
      };
      this.on('event', onEvent);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Events of one kind, in order. */
  ofKind<K extends PeerEvent['kind']>(kind: K): Extract<PeerEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<PeerEvent, { kind: K }> => e.kind === kind);
  }

  /** Closes every connection (abruptly when `error` is given) without stopping the listener. */
  dropConnections(error?: { condition: string; description?: string }): void {
    for (const connection of this.connections) {
      if (error) connection.close(error);
      else connection.close();
    }
  }

  async close(): Promise<void> {
    for (const connection of this.connections) {
      const socket = (connection as unknown as { socket?: { destroy(): void } }).socket;
      socket?.destroy();
    }
    this.connections.clear();
    const server = this.server;
    if (server?.listening) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private record<E extends PeerEvent>(event: Omit<E, 'seq'>): E {
    const full = { ...event, seq: ++this.seq } as E;
    this.events.push(full);
    this.emit('event', full);
    return full;
  }

  private wire(): void {
    const c = this.container;
    c.on('connection_open', (context: EventContext) => {
      const connection = context.connection;
      this.connections.add(connection);
      const id = ++this.connectionIds;
      (connection as unknown as { peerConnectionId: number }).peerConnectionId = id;
      const open = (connection as unknown as { remote: { open?: { idle_time_out?: number } } }).remote.open;
      this.record<ConnectionEvent<'connection-open'>>({
        kind: 'connection-open',
        connectionId: id,
        containerId: connection.container_id,
        idleTimeoutMs: open?.idle_time_out,
      });
    });
    const onConnectionGone = (context: EventContext): void => {
      const connection = context.connection;
      if (!this.connections.delete(connection)) return;
      this.record<ConnectionEvent<'connection-close'>>({
        kind: 'connection-close',
        connectionId: (connection as unknown as { peerConnectionId: number }).peerConnectionId,
        containerId: connection.container_id,
        idleTimeoutMs: undefined,
      });
    };
    c.on('connection_close', onConnectionGone);
    c.on('disconnected', onConnectionGone);
    c.on('connection_error', () => {});
    c.on('error', () => {});

    // The bridge attaches a sender: we are the receiving end.
    c.on('receiver_open', (context: EventContext) => {
      const receiver = context.receiver as Receiver;
      const internals = receiver as unknown as LinkInternals;
      const attach = internals.remote.attach;
      const address = linkAddress(receiver, 'sender');
      // Echo the settle modes asked for (rhea's default answer would be first/mixed).
      if (attach?.rcv_settle_mode !== undefined)
        internals.local.attach.rcv_settle_mode = attach.rcv_settle_mode;
      if (attach?.snd_settle_mode !== undefined)
        internals.local.attach.snd_settle_mode = attach.snd_settle_mode;
      receiver.set_target({ address } as Parameters<Receiver['set_target']>[0]);
      receiver.set_source(terminus(attach?.source?.address) as Parameters<Receiver['set_source']>[0]);
      this.receivers.set(receiver.name, receiver);
      this.record<AttachEvent>({
        kind: 'attach',
        name: receiver.name,
        role: 'sender',
        address,
        sndSettleMode: attach?.snd_settle_mode,
        rcvSettleMode: attach?.rcv_settle_mode,
      });
      const isTopic =
        address !== undefined &&
        address !== WILL_SERVICE &&
        address !== SUBSCRIPTION_SERVICE &&
        !address.endsWith('.pubrel');
      receiver.add_credit(isTopic ? this.topicCredit : 100);
    });
    c.on('message', (context: EventContext) => this.onMessage(context));
    c.on('settled', (context: EventContext) => {
      const delivery = context.delivery as Delivery;
      if (delivery.link.is_receiver()) {
        this.record<SettledEvent>({ kind: 'settled', link: delivery.link.name, deliveryId: delivery.id });
        // Mode 'second': the sender has settled after our outcome; settle our side too.
        delivery.update(true);
      }
    });
    c.on('receiver_close', (context: EventContext) => this.onDetach(context.receiver as Receiver, 'sender'));
    c.on('receiver_error', () => {});

    // The bridge attaches a receiver: we are the sending end.
    c.on('sender_open', (context: EventContext) => {
      const sender = context.sender as Sender;
      const internals = sender as unknown as LinkInternals;
      const attach = internals.remote.attach;
      const address = linkAddress(sender, 'receiver');
      if (attach?.rcv_settle_mode !== undefined)
        internals.local.attach.rcv_settle_mode = attach.rcv_settle_mode;
      if (attach?.snd_settle_mode !== undefined)
        internals.local.attach.snd_settle_mode = attach.snd_settle_mode;
      sender.set_source({ address } as Parameters<Sender['set_source']>[0]);
      sender.set_target(terminus(attach?.target?.address) as Parameters<Sender['set_target']>[0]);
      if (address !== undefined) this.senders.set(address, sender);
      this.record<AttachEvent>({
        kind: 'attach',
        name: sender.name,
        role: 'receiver',
        address,
        sndSettleMode: attach?.snd_settle_mode,
        rcvSettleMode: attach?.rcv_settle_mode,
      });
    });
    c.on('sender_flow', (context: EventContext) => {
      const sender = context.sender as Sender;
      this.record<FlowEvent>({
        kind: 'flow',
        link: sender.name,
        address: linkAddress(sender, 'receiver'),
        credit: (sender as unknown as { credit: number }).credit,
      });
    });
    for (const state of ['accepted', 'rejected', 'released', 'modified'] as const) {
      c.on(state, (context: EventContext) => this.onOutcome(context, state));
    }
    c.on('sender_close', (context: EventContext) => this.onDetach(context.sender as Sender, 'receiver'));
    c.on('sender_error', () => {});
  }

  private onOutcome(context: EventContext, state: string): void {
    const delivery = context.delivery as Delivery;
    const sender = delivery.link as Sender;
    this.record<OutcomeEvent>({
      kind: 'outcome',
      link: sender.name,
      address: linkAddress(sender, 'receiver'),
      deliveryId: delivery.id,
      state,
      settled: delivery.remote_settled,
    });
  }

  private onDetach(link: Sender | Receiver, role: 'sender' | 'receiver'): void {
    const address = linkAddress(link, role);
    const error = link.error as { condition?: string } | undefined;
    if (role === 'sender') this.receivers.delete(link.name);
    else if (address !== undefined && this.senders.get(address) === link) this.senders.delete(address);
    this.record<DetachEvent>({
      kind: 'detach',
      name: link.name,
      role,
      address,
      condition: error?.condition,
      closed: (link as unknown as LinkInternals).remote.detach?.closed === true,
    });
  }

  private onMessage(context: EventContext): void {
    const receiver = context.receiver as Receiver;
    const delivery = context.delivery as Delivery;
    const message = context.message as Message;
    const address = linkAddress(receiver, 'sender');
    const event = this.record<MessageEvent>({
      kind: 'message',
      link: receiver.name,
      address,
      subject: message.subject,
      message,
      delivery,
      presettled: delivery.remote_settled,
    });
    const disposition = event.presettled ? 'accept' : this.dispose(event);
    if (disposition === 'accept' || disposition === 'hold') this.serve(event, receiver);
    const isTopic =
      address !== WILL_SERVICE && address !== SUBSCRIPTION_SERVICE && !(address ?? '').endsWith('.pubrel');
    if (!isTopic || this.topUpTopicCredit) receiver.add_credit(1);
    if (event.presettled) return;
    settle(delivery, disposition);
  }

  /** Subscription-service behaviour: keep sessions and answer AMQP_LIST on the control address. */
  private serve(event: MessageEvent, _receiver: Receiver): void {
    if (event.address !== SUBSCRIPTION_SERVICE) return;
    const message = event.message;
    const correlation = typeof message.correlation_id === 'string' ? message.correlation_id : '';
    const clientId = correlation.replace(/^\$mqtt\.to\./, '').replace(/\.publish$/, '');
    switch (message.subject) {
      case 'close':
        this.sessions.delete(clientId);
        break;
      case 'subscribe': {
        const session = this.sessions.get(clientId) ?? new Map<string, number>();
        for (const [filter, qos] of Object.entries(message.body as Record<string, number>)) {
          session.set(filter, Number(qos));
        }
        this.sessions.set(clientId, session);
        break;
      }
      case 'unsubscribe': {
        const session = this.sessions.get(clientId);
        for (const filter of message.body as string[]) session?.delete(filter);
        break;
      }
      case 'list': {
        if (!this.answerList) break;
        const replyTo = typeof message.reply_to === 'string' ? message.reply_to : controlAddress(clientId);
        const subscriptions = Object.fromEntries(this.sessions.get(clientId) ?? []);
        void this.until(() => {
          const s = this.senders.get(replyTo);
          return s?.sendable() ? s : undefined;
        })
          .then((sender) => sender.send({ subject: 'subscriptions', body: subscriptions }))
          .catch(() => {});
        break;
      }
      default:
        break;
    }
  }
}

/** A terminus with only an address (rhea cannot re-encode every field of a decoded one). */
function terminus(address: string | undefined): { address?: string } {
  return address === undefined || address === null ? {} : { address };
}

export function settle(delivery: Delivery, disposition: PeerDisposition): void {
  if (typeof disposition === 'object') {
    delivery.reject(disposition.reject);
    return;
  }
  switch (disposition) {
    case 'accept':
      delivery.accept();
      break;
    case 'reject':
      delivery.reject({ condition: 'amqp:precondition-failed', description: 'refused by the test peer' });
      break;
    case 'release':
      delivery.release();
      break;
    case 'hold':
      break;
  }
}

/** An AMQP_PUBLISH as the spec spells it (enmasse annotations), for the peer to send towards a client. */
export function amqpPublish(
  topic: string,
  payload: string,
  qos: 0 | 1 | 2,
  extra: Partial<Message> = {},
): Message {
  return {
    to: topic,
    durable: qos > 0,
    message_annotations: { 'x-opt-mqtt-qos': qos, 'x-opt-retain-message': false },
    body: rhea.message.data_section(Buffer.from(payload)),
    ...extra,
  } as Message;
}

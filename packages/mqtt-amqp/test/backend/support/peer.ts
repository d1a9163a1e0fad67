/**
 * rhea, used directly, as the AMQP peer of the backend: a plain AMQP client, and an emulated gateway front end
 * speaking the spec's control messages by hand (so the backend is not only tested against our own bridge).
 */
import { EventEmitter, once } from 'node:events';
import type { Connection, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import rhea from 'rhea';
import { PUBLISHER_ID_KEY } from '../../../src/index';

export const TIMEOUT_MS = 10_000;

/** Waits for `event` on `emitter`, failing after `ms`. */
export async function next<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  ms = TIMEOUT_MS,
): Promise<T> {
  return (await once(emitter, event, { signal: AbortSignal.timeout(ms) })) as T;
}

/** Polls nothing: resolves when `predicate` holds after any of `emitter`'s `event`s (checked first at once). */
export async function until(
  emitter: EventEmitter,
  event: string,
  predicate: () => boolean,
  ms = TIMEOUT_MS,
): Promise<void> {
  const signal = AbortSignal.timeout(ms);
  while (!predicate()) await once(emitter, event, { signal });
}

export type OutcomeState = 'accepted' | 'rejected' | 'released' | 'modified';

export interface Outcome {
  readonly state: OutcomeState;
  readonly error: { condition?: string; description?: string; info?: Record<string, unknown> } | undefined;
}

export interface Received {
  readonly message: Message;
  readonly delivery: Delivery;
}

/** A receiver that records what arrives; `take(n)` waits for n more. Settlement is manual. */
export class Inbox extends EventEmitter {
  readonly link: Receiver;
  readonly items: Received[] = [];
  #taken = 0;

  constructor(link: Receiver) {
    super();
    this.link = link;
    link.on('message', (context: EventContext) => {
      this.items.push({ message: context.message as Message, delivery: context.delivery as Delivery });
      this.emit('message');
    });
  }

  /** The next `n` messages not taken yet, waiting for them. */
  async take(n: number, ms = TIMEOUT_MS): Promise<Received[]> {
    await until(this, 'message', () => this.items.length >= this.#taken + n, ms);
    const out = this.items.slice(this.#taken, this.#taken + n);
    this.#taken += n;
    return out;
  }

  /** Everything that arrived and was not taken. */
  rest(): Received[] {
    const out = this.items.slice(this.#taken);
    this.#taken = this.items.length;
    return out;
  }

  addCredit(n: number): void {
    this.link.add_credit(n);
  }
}

/** One rhea connection to the backend. */
export class Peer {
  readonly connection: Connection;

  private constructor(connection: Connection) {
    this.connection = connection;
  }

  static async connect(
    port: number,
    containerId = `peer-${Math.random().toString(36).slice(2)}`,
  ): Promise<Peer> {
    const container = rhea.create_container({ id: containerId });
    const connection = container.connect({ host: '127.0.0.1', port, reconnect: false, idle_time_out: 0 });
    connection.on('error', () => {});
    connection.on('disconnected', () => {});
    await next(connection as unknown as EventEmitter, 'connection_open');
    return new Peer(connection);
  }

  /** Opens a sending link (at-least-once) and waits for the attach. */
  async sender(
    address: string | undefined,
    options: { name?: string; properties?: Record<string, unknown> } = {},
  ): Promise<Sender> {
    const sender = this.connection.open_sender({
      ...(options.name !== undefined ? { name: options.name } : {}),
      target: address === undefined ? {} : { address },
      snd_settle_mode: 0,
      rcv_settle_mode: 0,
      autosettle: true,
      ...(options.properties !== undefined ? { properties: options.properties } : {}),
    });
    sender.on('sender_error', () => {});
    await next(sender as unknown as EventEmitter, 'sender_open');
    return sender;
  }

  /** Opens a receiving link with manual settlement and `credit` initial credit (0 = none). */
  async receiver(address: string, credit: number): Promise<Inbox> {
    const link = this.connection.open_receiver({
      source: { address },
      autoaccept: false,
      credit_window: 0,
      rcv_settle_mode: 0,
    });
    link.on('receiver_error', () => {});
    const inbox = new Inbox(link);
    await next(link as unknown as EventEmitter, 'receiver_open');
    if (credit > 0) link.add_credit(credit);
    return inbox;
  }

  /** Opens a link the backend refuses, and returns its detach error. */
  async refusedReceiver(address: string): Promise<unknown> {
    const link = this.connection.open_receiver({ source: { address }, credit_window: 0 });
    link.on('receiver_error', () => {});
    await next(link as unknown as EventEmitter, 'receiver_close');
    return link.error;
  }

  async close(): Promise<void> {
    if (!this.connection.is_open()) return;
    const closed = next(this.connection as unknown as EventEmitter, 'connection_close');
    this.connection.close();
    await closed;
  }

  /** Drops the socket without any AMQP close: the connection is lost. */
  destroy(): void {
    (this.connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
  }
}

/** Sends one message and waits for its outcome. */
export async function send(sender: Sender, message: Message): Promise<Outcome> {
  if (!sender.sendable()) await next(sender as unknown as EventEmitter, 'sendable');
  const delivery = sender.send(message);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no outcome for ${JSON.stringify(message.subject ?? message.to)}`)),
      TIMEOUT_MS,
    );
    const events: OutcomeState[] = ['accepted', 'rejected', 'released', 'modified'];
    const handlers = events.map((state) => {
      const handler = (context: EventContext): void => {
        if (context.delivery !== delivery) return;
        clearTimeout(timer);
        for (const [i, s] of events.entries())
          sender.removeListener(s, handlers[i] as (c: EventContext) => void);
        const remote = (context.delivery as unknown as { remote_state?: { error?: Outcome['error'] } })
          .remote_state;
        resolve({ state, error: remote?.error });
      };
      sender.on(state, handler);
      return handler;
    });
  });
}

/** Detaches a link, with an error condition or cleanly, and waits for the peer's detach. */
export async function detach(link: Sender | Receiver, condition?: string): Promise<void> {
  const event = link.is_sender() ? 'sender_close' : 'receiver_close';
  const closed = next(link as unknown as EventEmitter, event);
  link.close(condition === undefined ? undefined : { condition, description: 'test' });
  await closed;
}

export const data = (text: string): unknown => rhea.message.data_section(Buffer.from(text, 'utf8'));

export function text(message: Message): string {
  const body = message.body as unknown;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (typeof body === 'object' && body !== null && 'content' in body) {
    return Buffer.from((body as { content: Buffer }).content).toString('utf8');
  }
  return String(body);
}

/** An AMQP_PUBLISH as the spec writes it. */
export function publishMessage(
  topic: string,
  payload: string,
  qos: 0 | 1 | 2,
  retain = false,
  extra: Partial<Message> = {},
): Message {
  return {
    to: topic,
    durable: qos > 0,
    message_annotations: { 'x-opt-mqtt-qos': qos, 'x-opt-retain-message': retain },
    body: data(payload),
    ...extra,
  } as Message;
}

/**
 * The front end's exactly-once topic link for `clientId`: settled by hand (sender unsettled, receiver settles
 * second), with the capabilities it desires (none: the attach carries no desired-capabilities).
 */
export async function exactlyOnceLink(
  peer: Peer,
  clientId: string,
  topic: string,
  desiredCapabilities: readonly string[] = [],
): Promise<Sender> {
  const sender = peer.connection.open_sender({
    target: { address: topic },
    snd_settle_mode: 0,
    rcv_settle_mode: 1,
    autosettle: false,
    properties: { [PUBLISHER_ID_KEY]: clientId },
    ...(desiredCapabilities.length > 0 ? { desired_capabilities: [...desiredCapabilities] } : {}),
  } as never);
  sender.on('sender_error', () => {});
  await next(sender as unknown as EventEmitter, 'sender_open');
  return sender;
}

/**
 * The front-end side of the spec for one client, by hand: will link (name = client id), subscription-service
 * link, control and publish receivers.
 */
export class FrontEnd {
  readonly peer: Peer;
  readonly clientId: string;
  willLink: Sender | undefined;
  requests: Sender | undefined;
  control: Inbox | undefined;
  publish: Inbox | undefined;
  pubrel: Sender | undefined;

  constructor(peer: Peer, clientId: string) {
    this.peer = peer;
    this.clientId = clientId;
  }

  get publishAddress(): string {
    return `$mqtt.to.${this.clientId}.publish`;
  }

  /** Attaches the will link and sends AMQP_WILL; returns its outcome. */
  async setWill(
    topic: string,
    payload: string,
    options: { qos?: 0 | 1 | 2; retain?: boolean; delay?: number } = {},
  ): Promise<Outcome> {
    this.willLink ??= await this.peer.sender('$mqtt.willservice', { name: this.clientId });
    const qos = options.qos ?? 1;
    return send(this.willLink, {
      subject: 'will',
      to: topic,
      durable: qos > 0,
      message_annotations: {
        'x-opt-mqtt-qos': qos,
        'x-opt-retain-message': options.retain === true,
        ...(options.delay !== undefined ? { 'x-opt-mqtt-will-delay-interval': options.delay } : {}),
      },
      body: data(payload),
    } as Message);
  }

  async attachWillLink(): Promise<Sender> {
    this.willLink ??= await this.peer.sender('$mqtt.willservice', { name: this.clientId });
    return this.willLink;
  }

  async clearWill(): Promise<Outcome> {
    const link = await this.attachWillLink();
    return send(link, { subject: 'will-clear' } as Message);
  }

  async #requestLink(): Promise<Sender> {
    this.requests ??= await this.peer.sender('$mqtt.subscriptionservice');
    return this.requests;
  }

  /** AMQP_LIST; resolves with the AMQP_SUBSCRIPTIONS body, after accepting it. */
  async list(): Promise<Record<string, unknown>> {
    this.control ??= await this.peer.receiver(`$mqtt.to.${this.clientId}.control`, 10);
    const requests = await this.#requestLink();
    const reply = this.control.take(1);
    const outcome = send(requests, {
      subject: 'list',
      correlation_id: this.publishAddress,
      reply_to: `$mqtt.to.${this.clientId}.control`,
    } as Message);
    const [subscriptions] = await reply;
    subscriptions?.delivery.accept();
    const state = await outcome;
    if (state.state !== 'accepted') throw new Error(`list ${state.state}`);
    if (subscriptions?.message.subject !== 'subscriptions') throw new Error('no subscriptions reply');
    return subscriptions.message.body as Record<string, unknown>;
  }

  /** AMQP_CLOSE. */
  async closeSession(): Promise<Outcome> {
    return send(await this.#requestLink(), {
      subject: 'close',
      correlation_id: this.publishAddress,
    } as Message);
  }

  /** AMQP_SUBSCRIBE: filter → QoS, with MQTT 5 options per filter and a subscription identifier. */
  async subscribe(
    subscriptions: Record<string, 0 | 1 | 2>,
    extra: { options?: Record<string, Record<string, unknown>>; identifier?: number; packetId?: number } = {},
  ): Promise<Outcome> {
    const annotations: Record<string, unknown> = {};
    if (extra.options !== undefined) annotations['x-opt-mqtt-subscription-options'] = extra.options;
    if (extra.identifier !== undefined) annotations['x-opt-mqtt-subscription-identifier'] = extra.identifier;
    return send(await this.#requestLink(), {
      subject: 'subscribe',
      message_id: extra.packetId ?? 1,
      correlation_id: this.publishAddress,
      message_annotations: annotations,
      body: subscriptions,
    } as Message);
  }

  async unsubscribe(filters: string[], packetId = 1): Promise<Outcome> {
    return send(await this.#requestLink(), {
      subject: 'unsubscribe',
      message_id: packetId,
      correlation_id: this.publishAddress,
      body: filters,
    } as Message);
  }

  /** Attaches the receiver on `$mqtt.to.<id>.publish` with `credit`. */
  async attachPublish(credit: number): Promise<Inbox> {
    this.publish = await this.peer.receiver(this.publishAddress, credit);
    return this.publish;
  }

  /** AMQP_PUBREL for a delivery received on the publish link. */
  async sendPubrel(messageId: unknown): Promise<Outcome> {
    this.pubrel ??= await this.peer.sender(`$mqtt.${this.clientId}.pubrel`);
    return send(this.pubrel, { subject: 'pubrel', message_id: messageId } as Message);
  }
}

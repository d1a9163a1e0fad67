/**
 * rhea used directly as a native AMQP publisher that outlives backend restarts: it sends numbered messages to
 * a topic address and, whenever its connection goes, connects again (a real connection attempt every 200 ms
 * while nothing listens) and finishes what it had not finished, the way an MQTT client with a persistent
 * session would over the spec's mapping (`x-opt-mqtt-qos`, `message-id` = packet id, `delivery-count` = DUP):
 *
 * - QoS 1 (at-least-once link): a message is finished when accepted; one not yet accepted is sent again (DUP).
 * - QoS 2 (exactly-once link: receiver settles second, the publisher id on the attach, as the gateway's bridge
 *   does): a message not yet accepted is sent again (DUP; the backend remembers what it routed, so it is not
 *   routed twice). An accepted one (the PUBREC step) is never sent again: the sender settles it (PUBREL) and it
 *   is finished when the backend confirms that settlement; if the connection went first, the release is sent
 *   as AMQP_PUBLISH_RELEASED on `$mqtt.<publisher id>.pubrel` and it is finished once that is accepted.
 */
import { EventEmitter } from 'node:events';
import { PUBLISHER_ID_KEY } from '@dragoman/mqtt-amqp';
import rhea, { type Connection, type Delivery, type EventContext, type Message, type Sender } from 'rhea';
import { rheaClose, rheaConnect } from '../../support/rhea-client';
import { retryUntil } from '../../support/wait';

const SETTLEMENT_CONFIRMATION = 'dragoman:settlement-confirmation';
const PUBLISH_RELEASED_SUBJECT = 'publish-released';

export interface ResendingSenderOptions {
  readonly port: number;
  readonly address: string;
  readonly publisherId: string;
  /** One message per body; message i has packet id i + 1 (at most 65 535 bodies). */
  readonly bodies: readonly string[];
  readonly qos: 1 | 2;
  /** How long it keeps trying to connect again after a loss. */
  readonly reconnectTimeoutMs: number;
}

type State = 'new' | 'sent' | 'accepted' | 'finished';

/** A delivery as rhea has it at run time (its typings leave these out). */
type RheaDelivery = Delivery & { remote_settled: boolean; update(settled: boolean, state?: unknown): void };

const acceptedOutcome = (): unknown =>
  (rhea.message as unknown as { accepted(): { described(): unknown } }).accepted().described();

/** Emits 'progress' after each message is finished and 'error' (Error) when it gives up. */
export class ResendingAmqpSender extends EventEmitter {
  /** Outcomes other than accepted (`<index>: <outcome>`); none expected. */
  readonly failures: string[] = [];
  /** Connections opened (1 + reconnections). */
  connections = 0;
  /** Messages sent again with DUP, and releases sent as AMQP_PUBLISH_RELEASED. */
  resent = 0;
  released = 0;
  readonly #options: ResendingSenderOptions;
  readonly #states: State[];
  #connection: Connection | undefined;
  #closed = false;

  constructor(options: ResendingSenderOptions) {
    super();
    this.#options = options;
    this.#states = options.bodies.map(() => 'new');
  }

  /** Messages whose exchange is complete (accepted at QoS 1; released and confirmed at QoS 2). */
  get finished(): number {
    return this.#states.filter((state) => state === 'finished').length;
  }

  /** Messages the backend has accepted so far (finished or not). */
  get accepted(): number {
    return this.#states.filter((state) => state === 'accepted' || state === 'finished').length;
  }

  async start(): Promise<void> {
    await this.#connect(10_000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection !== undefined) await rheaClose(connection).catch(() => connection.socket?.destroy());
  }

  async #connect(timeoutMs: number): Promise<void> {
    const connection = await retryUntil(() => rheaConnect({ port: this.#options.port, timeoutMs: 5_000 }), {
      timeoutMs,
      intervalMs: 200,
      what: `a connection to the backend on port ${this.#options.port}`,
      giveUp: () => (this.#closed ? new Error('the sender is closed') : undefined),
    });
    if (this.#closed) {
      await rheaClose(connection);
      return;
    }
    this.connections += 1;
    this.#connection = connection;
    connection.once('disconnected', () => this.#onLost(connection));
    this.#release(connection);
    this.#publish(connection);
  }

  #onLost(connection: Connection): void {
    if (this.#closed || this.#connection !== connection) return;
    this.#connection = undefined;
    this.#connect(this.#options.reconnectTimeoutMs).catch((error: unknown) => {
      if (!this.#closed) this.emit('error', error instanceof Error ? error : new Error(String(error)));
    });
  }

  #finish(index: number): void {
    if (this.#states[index] === 'finished') return;
    this.#states[index] = 'finished';
    this.emit('progress');
  }

  /** QoS 2: AMQP_PUBLISH_RELEASED for every message accepted on an earlier connection and not finished. */
  #release(connection: Connection): void {
    const pending = this.#states.flatMap((state, index) => (state === 'accepted' ? [index] : []));
    if (pending.length === 0) return;
    const sender = connection.open_sender({
      target: { address: `$mqtt.${this.#options.publisherId}.pubrel` },
    });
    sender.on('sender_error', () => {});
    const indexOf = new WeakMap<Delivery, number>();
    let next = 0;
    sender.on('sendable', () => {
      while (next < pending.length && sender.sendable()) {
        const index = pending[next++] as number;
        // No body (rhea's type wants one; the mapping has none).
        const message = { subject: PUBLISH_RELEASED_SUBJECT, message_id: index + 1 } as Message;
        indexOf.set(sender.send(message), index);
        this.released += 1;
      }
    });
    sender.on('accepted', (context: EventContext) => {
      const index = context.delivery === undefined ? undefined : indexOf.get(context.delivery);
      if (index !== undefined) this.#finish(index);
    });
    for (const outcome of ['rejected', 'released', 'modified'] as const) {
      sender.on(outcome, () => this.failures.push(`publish-released: ${outcome}`));
    }
  }

  #publish(connection: Connection): void {
    const { address, qos, publisherId, bodies } = this.#options;
    const sender: Sender = connection.open_sender(
      qos === 2
        ? ({
            target: { address },
            snd_settle_mode: 0,
            rcv_settle_mode: 1,
            autosettle: false,
            properties: { [PUBLISHER_ID_KEY]: publisherId },
            desired_capabilities: [SETTLEMENT_CONFIRMATION],
          } as never)
        : { target: { address } },
    );
    sender.on('sender_error', () => {});
    const indexOf = new WeakMap<Delivery, number>();
    const queue = this.#states.flatMap((state, index) =>
      state === 'new' || state === 'sent' ? [index] : [],
    );
    let next = 0;
    sender.on('sendable', () => {
      while (next < queue.length && sender.sendable()) {
        const index = queue[next++] as number;
        const dup = this.#states[index] === 'sent';
        if (dup) this.resent += 1;
        this.#states[index] = 'sent';
        const message: Message = {
          to: address,
          durable: true,
          message_id: index + 1,
          delivery_count: dup ? 1 : 0,
          message_annotations: { 'x-opt-mqtt-qos': qos },
          body: Buffer.from(bodies[index] as string),
        };
        indexOf.set(sender.send(message), index);
      }
    });
    sender.on('accepted', (context: EventContext) => {
      const delivery = context.delivery as RheaDelivery | undefined;
      const index = delivery === undefined ? undefined : indexOf.get(delivery);
      if (delivery === undefined || index === undefined || this.#states[index] !== 'sent') return;
      if (qos === 1) {
        this.#finish(index);
        return;
      }
      // PUBREC: never sent again from here on; settling is the PUBREL.
      this.#states[index] = 'accepted';
      delivery.update(true, acceptedOutcome());
      if (delivery.remote_settled) this.#finish(index);
    });
    // QoS 2: the backend's settled disposition confirms the release (PUBCOMP).
    sender.on('settled', (context: EventContext) => {
      const delivery = context.delivery as RheaDelivery | undefined;
      const index = delivery === undefined ? undefined : indexOf.get(delivery);
      if (delivery !== undefined && index !== undefined && this.#states[index] === 'accepted') {
        if (delivery.remote_settled) this.#finish(index);
      }
    });
    for (const outcome of ['rejected', 'released', 'modified'] as const) {
      sender.on(outcome, (context: EventContext) => {
        const index = context.delivery === undefined ? undefined : indexOf.get(context.delivery);
        this.failures.push(`${index}: ${outcome}`);
      });
    }
  }
}

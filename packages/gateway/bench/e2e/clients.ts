/**
 * The load generator's clients: mqtt.js for MQTT, rhea for AMQP 1.0. Every publisher keeps at most
 * MAX_OUTSTANDING publishes outstanding (QoS 0: not yet written to the socket; QoS 1: not yet acknowledged),
 * because mqtt.js and rhea would otherwise buffer without bound and measure the generator, not the target.
 */
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import rhea, {
  type Connection,
  type ConnectionOptions,
  type EventContext,
  type Receiver,
  type Sender,
} from 'rhea';
import { decodeBodiesOnly } from './amqp-body';
import { AMQP_MESSAGE_FORMAT, EncodedMessages } from './amqp-messages';
import { encodePayload } from './payload';
import { unzeroedRheaFrameBuffers } from './rhea-frame-buffers';

// The generator's own costs, not the target's: its receivers read only the body (rhea decoded every section),
// and rhea's frame writer takes its buffer unzeroed.
decodeBodiesOnly(rhea.message);
unzeroedRheaFrameBuffers();

/** Outstanding publishes per publisher (documented in docs/performance.md). */
export const MAX_OUTSTANDING = 100;
/** Credit an AMQP receiver of the generator keeps granting. */
export const RECEIVER_CREDIT = 500;
/** How often a fixed-rate publisher wakes up to send what is due. */
const PACING_TICK_MS = 5;

export type QoS = 0 | 1;

export interface Endpoint {
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
}

export interface PublishPlan {
  readonly publisher: number;
  readonly count: number;
  readonly size: number;
  readonly qos: QoS;
  /** Messages per second for this publisher; undefined = as fast as the bound allows. */
  readonly rate: number | undefined;
  readonly signal: AbortSignal;
}

export interface PublishResult {
  sent: number;
  failed: number;
}

/** A window of outstanding operations: `acquire` waits while it is full. */
class Window {
  #outstanding = 0;
  #waiters: (() => void)[] = [];
  constructor(readonly size: number) {}
  get outstanding(): number {
    return this.#outstanding;
  }
  async acquire(): Promise<void> {
    while (this.#outstanding >= this.size) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#outstanding++;
  }
  release(): void {
    this.#outstanding--;
    this.#waiters.shift()?.();
    if (this.#outstanding === 0) for (const waiter of this.#waiters.splice(0)) waiter();
  }
  async drained(): Promise<void> {
    while (this.#outstanding > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Runs `send(sequence)` for each message, as fast as the window allows or paced to `rate`. */
async function pump(
  plan: PublishPlan,
  window: Window,
  send: (sequence: number) => void,
  gate?: () => Promise<void> | undefined,
): Promise<void> {
  const startedAt = performance.now();
  for (let sequence = 0; sequence < plan.count; sequence++) {
    if (plan.signal.aborted) return;
    if (plan.rate !== undefined) {
      const dueAt = startedAt + (sequence * 1000) / plan.rate;
      const wait = dueAt - performance.now();
      if (wait > 1) await delay(Math.min(wait, PACING_TICK_MS));
    }
    if (window.outstanding >= window.size) await window.acquire();
    else void window.acquire(); // room: takes the slot synchronously
    const waiting = gate?.();
    if (waiting !== undefined) await waiting;
    if (plan.signal.aborted) return;
    send(sequence);
  }
}

export async function connectMqtt(endpoint: Endpoint, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${endpoint.port}`, {
    clientId,
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    username: endpoint.username,
    password: endpoint.password,
  });
  client.on('error', () => {});
  return client;
}

export async function mqttPublish(
  client: MqttClient,
  topic: string,
  plan: PublishPlan,
): Promise<PublishResult> {
  const window = new Window(MAX_OUTSTANDING);
  const result: PublishResult = { sent: 0, failed: 0 };
  await pump(plan, window, (sequence) => {
    client.publish(topic, encodePayload(plan.size, plan.publisher, sequence), { qos: plan.qos }, (error) => {
      if (error) result.failed++;
      else result.sent++;
      window.release();
    });
  });
  await Promise.race([window.drained(), aborted(plan.signal)]);
  return result;
}

export async function mqttSubscribe(
  client: MqttClient,
  topic: string,
  qos: QoS,
  onMessage: (payload: Buffer) => void,
): Promise<void> {
  client.on('message', (_topic, payload) => onMessage(payload));
  const granted = await client.subscribeAsync(topic, { qos });
  if (granted[0]?.qos === 128) throw new Error(`subscription to ${topic} refused`);
}

export async function endMqtt(client: MqttClient): Promise<void> {
  await Promise.race([client.endAsync(true), delay(5_000)]);
}

/**
 * rhea's socket factory (its `connect` option, missing from its types) with Nagle off: a pre-settled publisher
 * gets nothing back to piggyback ACKs on, so with Nagle its small transfers could wait for the target's delayed
 * ACK (up to 40 ms) and a fixed-rate run would measure the generator's socket, not the target.
 * It also gathers what rhea writes in one turn into one system call: rhea writes each frame of a turn separately
 * (a quarter of the generator's CPU when it publishes over AMQP), where mqtt.js already corks its writes.
 */
function connectBatched(port: number, host: string, _options: unknown, connected: () => void): net.Socket {
  const socket = net.connect({ port, host, noDelay: true }, connected);
  const write = socket.write.bind(socket) as (chunk: Uint8Array) => boolean;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((chunk: Uint8Array): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(chunk);
  }) as typeof socket.write;
  return socket;
}

export async function connectAmqp(endpoint: Endpoint, id: string): Promise<Connection> {
  const container = rhea.create_container({ id });
  const options: ConnectionOptions & { connect: typeof connectBatched } = {
    host: '127.0.0.1',
    port: endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    reconnect: false,
    idle_time_out: 0,
    connect: connectBatched,
  };
  const connection = container.connect(options);
  const [context] = (await Promise.race([
    once(connection, 'connection_open'),
    once(connection, 'connection_error').then(([c]) => {
      throw new Error(`AMQP open refused: ${String((c as EventContext).connection.error)}`);
    }),
    once(connection, 'disconnected').then(() => {
      throw new Error(`AMQP connection to port ${endpoint.port} failed`);
    }),
  ])) as [EventContext];
  context.connection.on('error', () => {});
  return connection;
}

export async function amqpReceive(
  connection: Connection,
  address: string,
  onMessage: (payload: Uint8Array) => void,
): Promise<Receiver> {
  const receiver = connection.open_receiver({
    source: { address },
    credit_window: RECEIVER_CREDIT,
    autoaccept: true,
  });
  receiver.on('message', (context: EventContext) => {
    // decodeBodiesOnly (above) made the message `{ body }`, the body section's bytes.
    const body = context.message?.body as Uint8Array | undefined;
    onMessage(body ?? new Uint8Array(0));
  });
  await Promise.race([
    once(receiver, 'receiver_open'),
    once(receiver, 'receiver_error').then(() => {
      throw new Error(`receiver on ${address} refused: ${String(receiver.error)}`);
    }),
  ]);
  return receiver;
}

export async function amqpPublish(
  connection: Connection,
  address: string,
  plan: PublishPlan,
): Promise<PublishResult> {
  const settled = plan.qos === 0;
  const sender: Sender = connection.open_sender({
    target: { address },
    snd_settle_mode: settled ? 1 : 0,
    autosettle: true,
  });
  await Promise.race([
    once(sender, 'sender_open'),
    once(sender, 'sender_error').then(() => {
      throw new Error(`sender on ${address} refused: ${String(sender.error)}`);
    }),
  ]);
  // A native AMQP sender asks for QoS 1 with header durable (mqtt-over-amqp spec; RabbitMQ: delivery mode 2).
  const messages = new EncodedMessages(plan.publisher, plan.size, !settled);
  const window = new Window(MAX_OUTSTANDING);
  const result: PublishResult = { sent: 0, failed: 0 };
  let creditWaiter: (() => void) | undefined;
  sender.on('sendable', () => {
    const waiter = creditWaiter;
    creditWaiter = undefined;
    waiter?.();
  });
  if (!settled) {
    sender.on('accepted', () => {
      result.sent++;
      window.release();
    });
    for (const outcome of ['rejected', 'released', 'modified'] as const) {
      sender.on(outcome, () => {
        result.failed++;
        window.release();
      });
    }
  }
  // rhea counts a link's credit down only when it transfers, on the next tick, so `sendable()` stays true
  // through a synchronous run of sends: each publisher would hand rhea up to its session window (2,048) of
  // stamped messages beyond the target's credit, and the latency would measure that queue in the generator.
  // The sends rhea holds untransferred (its `delivery_count` counts the transfers) are taken off its credit.
  const link = sender as unknown as { credit: number; delivery_count: number };
  let given = 0;
  const creditLeft = (): number => link.credit - (given - link.delivery_count);
  await pump(
    plan,
    window,
    (sequence) => {
      given++;
      sender.send(messages.next(sequence), undefined, AMQP_MESSAGE_FORMAT);
      if (settled) {
        result.sent++;
        window.release();
      }
    },
    () =>
      creditLeft() > 0 && sender.sendable()
        ? undefined
        : new Promise<void>((resolve) => (creditWaiter = resolve)),
  );
  await Promise.race([window.drained(), aborted(plan.signal)]);
  return result;
}

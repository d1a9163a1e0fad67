/**
 * Routing through the embedded backend over real AMQP connections (rhea as the peers): a publisher sends N
 * messages on a topic, M subscriber sessions (each an emulated front end: AMQP_LIST, AMQP_SUBSCRIBE, a publish
 * link with credit) receive and accept them. Reports messages routed per second (wall time, publisher's first
 * send to the last subscriber's last message) and the backend's memory high-water mark of buffered messages.
 * Prints one JSON object per line.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, createMemoryStores, openLmdbStores, type Stores } from '@dragoman/mqtt-amqp';
import rhea, { type Connection, type EventContext, type Message, type Sender } from 'rhea';

const MESSAGES = 20_000;

async function connect(port: number): Promise<Connection> {
  const container = rhea.create_container({ id: `bench-${Math.random().toString(36).slice(2)}` });
  const connection = container.connect({ host: '127.0.0.1', port, reconnect: false, idle_time_out: 0 });
  await once(connection as never, 'connection_open');
  return connection;
}

/** Resolves on the next 'accepted' of `sender` (one request at a time, so it is that request's). */
async function accepted(sender: Sender): Promise<void> {
  await once(sender as never, 'accepted');
}

async function opened(link: Sender | rhea.Receiver, event: string): Promise<void> {
  await once(link as never, event);
}

/** An emulated front end with a persistent session subscribed to `topic`; resolves `done` after `expected` messages. */
async function subscriber(port: number, clientId: string, topic: string, qos: 0 | 1, expected: number) {
  const connection = await connect(port);
  const control = connection.open_receiver({
    source: { address: `$mqtt.to.${clientId}.control` },
    credit_window: 10,
  });
  await opened(control, 'receiver_open');
  const requests = connection.open_sender({ target: { address: '$mqtt.subscriptionservice' } });
  await opened(requests, 'sendable');
  const reply = once(control as never, 'message');
  const listed = accepted(requests);
  requests.send({
    subject: 'list',
    correlation_id: `$mqtt.to.${clientId}.publish`,
    reply_to: `$mqtt.to.${clientId}.control`,
  } as Message);
  await reply;
  await listed;
  const subscribed = accepted(requests);
  requests.send({
    subject: 'subscribe',
    message_id: 1,
    correlation_id: `$mqtt.to.${clientId}.publish`,
    body: { [topic]: qos },
  } as Message);
  await subscribed;
  let received = 0;
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const inbox = connection.open_receiver({
    source: { address: `$mqtt.to.${clientId}.publish` },
    credit_window: 500,
  });
  inbox.on('message', (context: EventContext) => {
    received += 1;
    // QoS 0 messages may be dropped (no spare credit): a final marker, sent after them, ends the run.
    const body = context.message?.body as { content?: Buffer } | undefined;
    if (received === expected || body?.content?.toString() === 'end') resolve();
  });
  await opened(inbox, 'receiver_open');
  return { connection, done, received: () => received };
}

async function run(
  name: string,
  options: { subscribers: number; qos: 0 | 1; stores?: Stores },
): Promise<void> {
  // Backlogs large enough for the whole run: the benchmark measures routing, not the drop-oldest policy.
  const stores = options.stores ?? createMemoryStores({ maxBacklogPerSession: MESSAGES });
  const backend = await createBackend({ store: stores });
  const topic = `bench/${name}`;
  const subs = await Promise.all(
    Array.from({ length: options.subscribers }, (_, i) =>
      subscriber(backend.port, `${name}-${i}`, topic, options.qos, MESSAGES),
    ),
  );
  const connection = await connect(backend.port);
  const sender = connection.open_sender({ target: { address: topic } });
  await opened(sender, 'sendable');
  let accepted = 0;
  const allAccepted = new Promise<void>((resolve) => {
    sender.on('accepted', () => {
      accepted += 1;
      if (accepted === MESSAGES) resolve();
    });
  });
  const payload = rhea.message.data_section(Buffer.alloc(64, 1));
  const message: Message = {
    to: topic,
    durable: options.qos > 0,
    message_annotations: { 'x-opt-mqtt-qos': options.qos, 'x-opt-retain-message': false },
    body: payload,
  };
  const start = performance.now();
  const cpu = process.cpuUsage();
  let sent = 0;
  const pump = (): void => {
    while (sent < MESSAGES && sender.sendable()) {
      sender.send(message);
      sent += 1;
    }
  };
  sender.on('sendable', pump);
  pump();
  await allAccepted;
  if (options.qos === 0) {
    sender.send({
      ...message,
      durable: true,
      message_annotations: { 'x-opt-mqtt-qos': 1 },
      body: rhea.message.data_section(Buffer.from('end')),
    });
  }
  await Promise.all(subs.map((s) => s.done));
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const stats = backend.stats();
  console.log(
    JSON.stringify({
      bench: 'mqtt-amqp',
      name: `backend route ${name}`,
      qos: options.qos,
      subscribers: options.subscribers,
      store: options.stores === undefined ? 'memory' : 'lmdb',
      messages: MESSAGES,
      publishedPerSec: Math.round(MESSAGES / seconds),
      deliveredPerSec: Math.round(subs.reduce((n, s) => n + s.received(), 0) / seconds),
      bufferedHighWater: stats.subscriptions.bufferedHighWater,
      droppedNoCredit: stats.subscriptions.droppedNoCredit,
      cpuPercent: Math.round(((used.user + used.system) / 1e6 / seconds) * 100),
    }),
  );
  connection.close();
  for (const s of subs) s.connection.close();
  await backend.close();
  if (options.stores === undefined) await stores.close();
}

const only = process.env.BENCH_ONLY;
if (only === undefined || only === 'qos1') await run('qos1-1sub', { subscribers: 1, qos: 1 });
if (only === undefined || only === 'qos0') await run('qos0-1sub', { subscribers: 1, qos: 0 });
if (only === undefined || only === 'fanout') await run('qos1-10subs', { subscribers: 10, qos: 1 });
if (only !== undefined && only !== 'lmdb') process.exit(0);
const dir = mkdtempSync(join(tmpdir(), 'dragoman-bench-'));
const stores = openLmdbStores({ path: dir, maxBacklogPerSession: MESSAGES });
await run('qos1-1sub-lmdb', { subscribers: 1, qos: 1, stores });
await stores.close();
rmSync(dir, { recursive: true, force: true });

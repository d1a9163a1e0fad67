// Loopback throughput, this package beside rhea used directly, in the same process and the same run.
// Prints one JSON object per line: per guarantee (at-most-once, at-least-once) and API (send() promises,
// trySend() callbacks), the median msgs/s of both and their ratio (target >= 0.9).
import type { AddressInfo, Server } from 'node:net';
import * as rheaNamespace from 'rhea';
import {
  type AmqpMessage,
  binaryMessage,
  connect,
  type DeliveryGuarantee,
  listen,
  type SendResult,
} from '../src/index';

type Rhea = typeof rheaNamespace;
const rhea: Rhea = (rheaNamespace as Rhea & { default?: Rhea }).default ?? rheaNamespace;

const PAYLOAD = Buffer.alloc(100, 0x61);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MESSAGES: Record<DeliveryGuarantee, number> = {
  'at-most-once': Number(process.env.BENCH_MESSAGES ?? 100_000),
  'at-least-once': Number(process.env.BENCH_MESSAGES ?? 50_000),
  'exactly-once': Number(process.env.BENCH_MESSAGES ?? 50_000),
};
const CREDIT_WINDOW = 1000;

/** rhea on both ends: a listening container and a connecting one. Returns msgs/s. */
async function rheaDirect(guarantee: DeliveryGuarantee, n: number): Promise<number> {
  const presettled = guarantee === 'at-most-once';
  const serverContainer = rhea.create_container({ id: 'bench-server' });
  let received = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  // Handlers on the links themselves, as ours are: rhea bubbles unhandled link events up to the container.
  serverContainer.on(
    'receiver_open',
    (context: { receiver?: { on(event: string, f: () => void): void } }) => {
      context.receiver?.on('message', () => {
        received++;
        if (presettled && received === n) finish();
      });
    },
  );
  serverContainer.on('disconnected', () => {});
  // Same socket options as ours (TCP_NODELAY both ways), so that the comparison measures the layers.
  serverContainer.on(
    'connection_open',
    (context: { connection: { socket?: { setNoDelay?(on: boolean): void } } }) => {
      context.connection.socket?.setNoDelay?.(true);
    },
  );
  const server = serverContainer.listen({ port: 0, host: '127.0.0.1' } as never) as unknown as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  const clientContainer = rhea.create_container({ id: 'bench-client' });
  clientContainer.on('disconnected', () => {});
  const connection = clientContainer.connect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    reconnect: false,
    tcp_no_delay: true,
  } as never);
  const sender = connection.open_sender({ target: { address: 'q' }, snd_settle_mode: presettled ? 1 : 0 });
  let accepted = 0;
  sender.on('accepted', () => {
    accepted++;
    if (accepted === n) finish();
  });
  await new Promise((resolve) => sender.once('sendable', resolve));
  const message = { body: rhea.message.data_section(PAYLOAD) };
  let sent = 0;
  const pump = (): void => {
    while (sent < n && sender.sendable()) {
      sender.send(message);
      sent++;
    }
  };
  const start = process.hrtime.bigint();
  sender.on('sendable', pump);
  pump();
  await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  connection.close();
  await new Promise((resolve) => connection.once('connection_close', resolve));
  await new Promise((resolve) => server.close(resolve));
  return n / seconds;
}

/** This package on both ends: listen() and connect(). Returns msgs/s. */
async function ours(guarantee: DeliveryGuarantee, n: number, api: 'send' | 'trySend'): Promise<number> {
  const presettled = guarantee === 'at-most-once';
  const listener = await listen();
  let received = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  listener.on('connection', (connection) =>
    connection.on('incomingLink', (link) => {
      const receiver = link.acceptReceiver({ creditWindow: CREDIT_WINDOW });
      receiver.on('delivery', (delivery) => {
        delivery.accept();
        received++;
        if (presettled && received === n) finish();
      });
    }),
  );
  const client = await connect(listener.url, { reconnect: false });
  const sender = await client.openSender({ target: 'q', guarantee, maxQueued: 0 });
  let completed = 0;
  const onResult = (): void => {
    completed++;
    if (!presettled && completed === n) finish();
  };
  const onCallback = (error: Error | undefined, _result: SendResult | undefined): void => {
    if (error === undefined) onResult();
  };
  const message: AmqpMessage = binaryMessage(PAYLOAD);
  let sent = 0;
  const pump =
    api === 'trySend'
      ? (): void => {
          while (sent < n && sender.trySend(message, presettled ? undefined : onCallback)) sent++;
        }
      : (): void => {
          while (sent < n && sender.credit > 0) {
            const result = sender.send(message);
            if (!presettled) void result.then(onResult);
            sent++;
          }
        };
  await sender.whenSendable();
  const start = process.hrtime.bigint();
  sender.on('sendable', pump);
  pump();
  await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await client.close();
  await listener.close();
  return n / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  for (const guarantee of ['at-most-once', 'at-least-once'] as const) {
    const n = MESSAGES[guarantee];
    await rheaDirect(guarantee, Math.min(n, 10_000)); // warm-up
    await ours(guarantee, Math.min(n, 10_000), 'send');
    await ours(guarantee, Math.min(n, 10_000), 'trySend');
    const rheaRates: number[] = [];
    const sendRates: number[] = [];
    const tryRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved, so that drift in machine load hits all three alike.
      rheaRates.push(await rheaDirect(guarantee, n));
      sendRates.push(await ours(guarantee, n, 'send'));
      tryRates.push(await ours(guarantee, n, 'trySend'));
      (globalThis as { gc?: () => void }).gc?.();
    }
    const rheaRate = median(rheaRates);
    for (const [api, rates] of [
      ['send', sendRates],
      ['trySend', tryRates],
    ] as const) {
      const rate = median(rates);
      console.log(
        JSON.stringify({
          bench: 'amqp.throughput',
          transport: 'loopback-tcp',
          guarantee,
          api,
          messages: n,
          payloadBytes: PAYLOAD.length,
          rounds: ROUNDS,
          oursMsgsPerSec: Math.round(rate),
          rheaMsgsPerSec: Math.round(rheaRate),
          ratio: Number((rate / rheaRate).toFixed(3)),
          target: 0.9,
        }),
      );
    }
  }
}

if (process.env.BENCH_ONLY === undefined) await main();

export { ours, rheaDirect };

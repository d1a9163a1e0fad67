// The in-process transport beside TCP loopback, in the same process and the same run (rounds alternate):
// one sender of 64-byte messages towards a listener that accepts each, at most 500 outstanding; in-process
// both with encoded messages and handing them off (`handOffMessages`). Prints one JSON object per line: per
// transport and guarantee, the median msgs/s and CPU µs per message of this process (both ends run in it),
// and the in-process ones' ratios to TCP.
import {
  type AmqpConnection,
  type AmqpListener,
  binaryMessage,
  connect,
  createInProcessTransport,
  type Delivery,
  type DeliveryGuarantee,
  type IncomingLink,
  listen,
  type SendResult,
} from '../src/index';

const PAYLOAD = Buffer.alloc(64, 0x61);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const OUTSTANDING = 500;

const TRANSPORTS = ['tcp', 'in-process', 'hand-off'] as const;
type Transport = (typeof TRANSPORTS)[number];

interface Ends {
  readonly listener: AmqpListener;
  readonly client: AmqpConnection;
}

interface Sample {
  readonly msgPerSec: number;
  readonly cpuUsPerMessage: number;
}

async function run(
  listener: AmqpListener,
  client: AmqpConnection,
  guarantee: DeliveryGuarantee,
  n: number,
): Promise<Sample> {
  const address = `bench-${guarantee}-${Math.random()}`;
  let received = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const onLink = (link: IncomingLink): void => {
    if (link.address !== address) return;
    const receiver = link.acceptReceiver({ creditWindow: 1000 });
    receiver.on('delivery', (delivery: Delivery) => {
      if (!delivery.presettled) delivery.accept();
      if (++received === n) finish();
    });
  };
  for (const connection of listener.connections) connection.on('incomingLink', onLink);
  const sender = await client.openSender({ target: address, guarantee });
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  let outstanding = 0;
  let wake: (() => void) | undefined;
  const settle = (): void => {
    outstanding--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  for (let i = 0; i < n; i++) {
    while (outstanding >= OUTSTANDING) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    if (sender.credit === 0 || sender.queued > 0) await sender.whenSendable();
    outstanding++;
    void sender.send(binaryMessage(PAYLOAD)).then((_: SendResult) => settle(), settle);
  }
  await done;
  const cpu = process.cpuUsage(cpuAtStart);
  const seconds = (performance.now() - startedAt) / 1000;
  await sender.close();
  for (const connection of listener.connections) connection.off('incomingLink', onLink);
  return {
    msgPerSec: Math.round(n / seconds),
    cpuUsPerMessage: Math.round(((cpu.user + cpu.system) / n) * 10) / 10,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const inProcess = createInProcessTransport('bench');
  const listener = await listen({ inProcess, idleTimeoutMs: 0 });
  const handOff = createInProcessTransport('bench hand-off', { handOffMessages: true });
  const handOffListener = await listen({ inProcess: handOff, idleTimeoutMs: 0 });
  const ends: Record<Transport, Ends> = {
    tcp: { listener, client: await connect(listener.url, { reconnect: false, idleTimeoutMs: 0 }) },
    'in-process': { listener, client: await connect({ inProcess, reconnect: false }) },
    'hand-off': {
      listener: handOffListener,
      client: await connect({ inProcess: handOff, reconnect: false }),
    },
  };
  for (const guarantee of ['at-most-once', 'at-least-once'] as const) {
    const samples: Record<Transport, Sample[]> = { tcp: [], 'in-process': [], 'hand-off': [] };
    for (const transport of TRANSPORTS)
      await run(ends[transport].listener, ends[transport].client, guarantee, 5_000); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const transport of TRANSPORTS) {
        const { listener: server, client } = ends[transport];
        samples[transport].push(await run(server, client, guarantee, MESSAGES));
      }
    }
    const summary = (transport: Transport) => ({
      msgPerSec: median(samples[transport].map((s) => s.msgPerSec)),
      cpuUsPerMessage: median(samples[transport].map((s) => s.cpuUsPerMessage)),
    });
    const tcp = summary('tcp');
    const memory = summary('in-process');
    const handedOff = summary('hand-off');
    process.stdout.write(
      `${JSON.stringify({
        bench: 'amqp-in-process',
        guarantee,
        messages: MESSAGES,
        rounds: ROUNDS,
        tcp,
        inProcess: memory,
        throughputRatio: Math.round((memory.msgPerSec / tcp.msgPerSec) * 100) / 100,
        cpuRatio: Math.round((memory.cpuUsPerMessage / tcp.cpuUsPerMessage) * 100) / 100,
        handOff: handedOff,
        handOffThroughputRatio: Math.round((handedOff.msgPerSec / tcp.msgPerSec) * 100) / 100,
        handOffCpuRatio: Math.round((handedOff.cpuUsPerMessage / tcp.cpuUsPerMessage) * 100) / 100,
      })}\n`,
    );
  }
  await Promise.all(Object.values(ends).map((e) => e.client.close()));
  await listener.close();
  await handOffListener.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

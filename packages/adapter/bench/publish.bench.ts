// DeviceSession.publish beside the @dragoman/amqp Sender it wraps: messages/s with up to WINDOW publishes in
// flight, QoS 1 (each waits for its outcome) and QoS 0 (pre-settled), against a rhea peer in a child
// process. Rounds alternate between the two in the same run; prints one JSON line with the medians (by wall
// clock, and by this process's CPU time, which stays meaningful on a loaded machine) and their ratios.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { type AmqpMessage, binaryMessage, connect, type SendResult } from '@dragoman/amqp';
import { createDeviceSession } from '../src/index';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOW = 500;

const peer = fork(new URL('./publish-peer.mjs', import.meta.url), {
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
});
const [hello] = (await once(peer, 'message')) as [{ port: number }];
const connection = await connect({ url: `amqp://127.0.0.1:${hello.port}`, reconnect: false });
const session = createDeviceSession(connection, 'bench', { maxQueuedPerLink: WINDOW });
const senders = {
  1: await connection.openSender({ target: 'raw-1', maxQueued: WINDOW }),
  0: await connection.openSender({ target: 'raw-0', guarantee: 'at-most-once', maxQueued: WINDOW }),
};
const message: AmqpMessage = binaryMessage(Buffer.alloc(64, 0x61));

interface Rate {
  readonly wall: number;
  readonly cpu: number;
}

/** Sends MESSAGES with at most WINDOW in flight. */
async function measure(send: () => Promise<SendResult>): Promise<Rate> {
  const wallStart = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < MESSAGES) {
      started++;
      await send();
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  const cpu = process.cpuUsage(cpuStart);
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
  return { wall: MESSAGES / wallSeconds, cpu: MESSAGES / ((cpu.user + cpu.system) / 1e6) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0);
}

const result: Record<string, unknown> = {
  bench: 'adapter.publish',
  messages: MESSAGES,
  rounds: ROUNDS,
  window: WINDOW,
};
for (const qos of [1, 0] as const) {
  // Warm-up of both paths.
  await measure(() => senders[qos].send(message));
  await measure(() => session.publish(message, { qos, address: `telemetry-${qos}` }));
  const raw: Rate[] = [];
  const wrapped: Rate[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    raw.push(await measure(() => senders[qos].send(message)));
    wrapped.push(await measure(() => session.publish(message, { qos, address: `telemetry-${qos}` })));
  }
  const sender = { wall: median(raw.map((r) => r.wall)), cpu: median(raw.map((r) => r.cpu)) };
  const deviceSession = { wall: median(wrapped.map((r) => r.wall)), cpu: median(wrapped.map((r) => r.cpu)) };
  result[`qos${qos}`] = {
    senderMsgsPerSec: sender,
    deviceSessionMsgsPerSec: deviceSession,
    ratioWall: Number((deviceSession.wall / sender.wall).toFixed(2)),
    ratioCpu: Number((deviceSession.cpu / sender.cpu).toFixed(2)),
  };
}
console.log(JSON.stringify(result));

await session.close();
await connection.close();
peer.disconnect();

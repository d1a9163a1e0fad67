// Relay throughput: messages/s from one address to another through receiverPublisher → RelayProcessor →
// senderSubscriber (end-to-end credit and acknowledgement), beside the same relay written on rhea directly,
// alternating in the same run against the same peer (a rhea listener in a child process). Prints one JSON
// line with the medians of each and their ratio (target >= 0.8): per wall-clock second, and per CPU second
// of this process (which holds only the relay), the figure that stays meaningful on a loaded machine.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect } from '@dragoman/amqp';
import * as rheaNamespace from 'rhea';
import { relay } from '../src/index';

type Rhea = typeof rheaNamespace;
const rhea: Rhea = (rheaNamespace as Rhea & { default?: Rhea }).default ?? rheaNamespace;

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 40_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

type PeerMessage = { port?: number; ready?: number; done?: number };

const peer = fork(new URL('./relay-peer.mjs', import.meta.url), {
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
});
const [hello] = (await once(peer, 'message')) as [PeerMessage];
const port = hello.port as number;
let runs = 0;

/** Registers a run at the peer; resolves with the addresses and a promise of the source's last outcome. */
async function prepare(): Promise<{ from: string; to: string; finished: Promise<void> }> {
  const run = runs++;
  peer.send({ run, count: MESSAGES });
  await waitFor((m) => m.ready === run);
  return { from: `in-${run}`, to: `out-${run}`, finished: waitFor((m) => m.done === run) };
}

function waitFor(match: (message: PeerMessage) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const listener = (message: PeerMessage): void => {
      if (!match(message)) return;
      peer.off('message', listener);
      resolve();
    };
    peer.on('message', listener);
  });
}

interface Rate {
  readonly wall: number;
  readonly cpu: number;
}

/** Runs `body` until the peer saw every outcome; msgs/s by wall clock and by this process's CPU time. */
async function measure(finished: Promise<void>, body: () => void): Promise<Rate> {
  const wallStart = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  body();
  await finished;
  const cpu = process.cpuUsage(cpuStart);
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
  return { wall: MESSAGES / wallSeconds, cpu: MESSAGES / ((cpu.user + cpu.system) / 1e6) };
}

async function ours(): Promise<Rate> {
  const connection = await connect({ host: '127.0.0.1', port, reconnect: false });
  const { from, to, finished } = await prepare();
  const rate = await measure(finished, () => relay(connection, from, to));
  await connection.close();
  return rate;
}

/** The same relay on rhea: receiver credit follows the sender's credit; accept upstream once accepted downstream. */
async function rheaDirect(): Promise<Rate> {
  const container = rhea.create_container({ id: 'bench-rhea-relay' });
  container.on('disconnected', () => undefined);
  container.on('error', () => undefined);
  const connection = container.connect({ host: '127.0.0.1', port, reconnect: false });
  const { from, to, finished } = await prepare();
  const result = await measure(finished, () => {
    const receiver = connection.open_receiver({
      source: { address: from },
      credit_window: 0,
      autoaccept: false,
    });
    const sender = connection.open_sender({ target: { address: to } });
    type WireSender = typeof sender & { credit: number; delivery_count: number };
    type WireReceiver = typeof receiver & { credit: number };
    const out = sender as WireSender;
    const inbound = receiver as WireReceiver;
    let forwarded = 0;
    const grant = (): void => {
      const available = out.credit - (forwarded - out.delivery_count);
      const add = available - inbound.credit;
      if (add > 0) inbound.add_credit(add);
    };
    const sources = new Map<unknown, rheaNamespace.Delivery>();
    sender.on('sendable', grant);
    receiver.on('message', (context) => {
      const copy = sender.send(context.message as rheaNamespace.Message);
      forwarded += 1;
      sources.set(copy, context.delivery as rheaNamespace.Delivery);
    });
    sender.on('accepted', (context) => {
      const source = sources.get(context.delivery);
      sources.delete(context.delivery);
      source?.accept();
    });
  });
  connection.close();
  await once(container, 'connection_close');
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

// Warm both paths up once before measuring.
await ours();
await rheaDirect();
const oursRates: Rate[] = [];
const rheaRates: Rate[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  rheaRates.push(await rheaDirect());
  oursRates.push(await ours());
  (globalThis as { gc?: () => void }).gc?.();
}
const oursWall = median(oursRates.map((r) => r.wall));
const rheaWall = median(rheaRates.map((r) => r.wall));
const oursCpu = median(oursRates.map((r) => r.cpu));
const rheaCpu = median(rheaRates.map((r) => r.cpu));
console.log(
  JSON.stringify({
    bench: 'reactive.relay',
    path: 'receiverPublisher -> RelayProcessor -> senderSubscriber',
    guarantee: 'at-least-once, end-to-end acknowledgement',
    messages: MESSAGES,
    payloadBytes: 100,
    rounds: ROUNDS,
    oursMsgsPerSec: Math.round(oursWall),
    rheaMsgsPerSec: Math.round(rheaWall),
    ratio: Number((oursWall / rheaWall).toFixed(3)),
    oursMsgsPerCpuSec: Math.round(oursCpu),
    rheaMsgsPerCpuSec: Math.round(rheaCpu),
    cpuRatio: Number((oursCpu / rheaCpu).toFixed(3)),
    target: 0.8,
  }),
);
peer.send({ stop: true });
await once(peer, 'exit');

// Relay throughput: messages/s from one address to another through receiverPublisher → RelayProcessor →
// senderSubscriber (end-to-end credit and acknowledgement), beside the same relay written on rhea directly,
// alternating in the same run against the same peer (a rhea listener in a worker thread). Prints one JSON
// line with the median of each and their ratio (target >= 0.8).
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { connect } from '@dragoman/amqp';
import * as rheaNamespace from 'rhea';
import { relay } from '../src/index';

type Rhea = typeof rheaNamespace;
const rhea: Rhea = (rheaNamespace as Rhea & { default?: Rhea }).default ?? rheaNamespace;

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 40_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

type PeerMessage = { port?: number; ready?: number; done?: number };

const peer = new Worker(new URL('./relay-peer.mjs', import.meta.url));
const [hello] = (await once(peer, 'message')) as [PeerMessage];
const port = hello.port as number;
let runs = 0;

/** Registers a run at the peer; resolves with the addresses and a promise of the source's last outcome. */
async function prepare(): Promise<{ from: string; to: string; finished: Promise<void> }> {
  const run = runs++;
  peer.postMessage({ run, count: MESSAGES });
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

async function ours(): Promise<number> {
  const connection = await connect({ host: '127.0.0.1', port, reconnect: false });
  const { from, to, finished } = await prepare();
  const start = process.hrtime.bigint();
  relay(connection, from, to);
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await connection.close();
  return MESSAGES / seconds;
}

/** The same relay on rhea: receiver credit follows the sender's credit; accept upstream once accepted downstream. */
async function rheaDirect(): Promise<number> {
  const container = rhea.create_container({ id: 'bench-rhea-relay' });
  container.on('disconnected', () => undefined);
  container.on('error', () => undefined);
  const connection = container.connect({ host: '127.0.0.1', port, reconnect: false });
  const { from, to, finished } = await prepare();
  const start = process.hrtime.bigint();
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
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  connection.close();
  await once(container, 'connection_close');
  return MESSAGES / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

// Warm both paths up once before measuring.
await ours();
await rheaDirect();
const oursRates: number[] = [];
const rheaRates: number[] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  rheaRates.push(await rheaDirect());
  oursRates.push(await ours());
  (globalThis as { gc?: () => void }).gc?.();
}
const oursRate = median(oursRates);
const rheaRate = median(rheaRates);
console.log(
  JSON.stringify({
    bench: 'reactive.relay',
    path: 'receiverPublisher -> RelayProcessor -> senderSubscriber',
    guarantee: 'at-least-once, end-to-end acknowledgement',
    messages: MESSAGES,
    payloadBytes: 100,
    rounds: ROUNDS,
    oursMsgsPerSec: Math.round(oursRate),
    rheaMsgsPerSec: Math.round(rheaRate),
    ratio: Number((oursRate / rheaRate).toFixed(3)),
    target: 0.8,
  }),
);
peer.postMessage({ stop: true });
await once(peer, 'exit');

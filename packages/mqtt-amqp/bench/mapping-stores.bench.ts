/**
 * The foundation's hot paths: mapping a PUBLISH to an AMQP message and back (per dialect, with and without
 * MQTT 5 properties, including rhea's encoding to wire bytes and decoding from them), the offline backlog
 * (enqueue → backlog → ack, memory and LMDB), and retained lookups by filter in 10 000 retained topics.
 * Prints one JSON object per line. Times are CPU time of this process (median of several rounds).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRhea, type RheaMessage, toRhea } from '@dragoman/amqp';
import {
  createMemoryStores,
  DIALECT_NAMES,
  decodePublish,
  encodePublish,
  openLmdbStores,
  type PublishInput,
  type Stores,
} from '@dragoman/mqtt-amqp';
import rhea from 'rhea';

const ROUNDS = 7;
const ROUND_MS = 100;

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs `op` in rounds of about ROUND_MS and reports the median ns per operation. */
function measureSync(name: string, extra: Record<string, unknown>, op: () => void): void {
  for (let i = 0; i < 200; i++) op();
  const results: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let count = 0;
    const start = cpuNow();
    const until = performance.now() + ROUND_MS;
    while (performance.now() < until) {
      for (let i = 0; i < 100; i++) op();
      count += 100;
    }
    results.push((cpuNow() - start) / count);
  }
  const nsPerOp = median(results);
  console.log(
    JSON.stringify({
      bench: 'mqtt-amqp',
      name,
      ...extra,
      nsPerOp: Math.round(nsPerOp),
      opsPerSec: Math.round(1e9 / nsPerOp),
    }),
  );
}

/** Runs `op` `count` times in each of 3 rounds; `perOp` messages per call. Reports CPU and wall ns per message. */
async function measureAsync(
  name: string,
  extra: Record<string, unknown>,
  count: number,
  op: (i: number) => Promise<void>,
  perOp = 1,
): Promise<void> {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let round = 0; round < 3; round++) {
    const start = cpuNow();
    const wallStart = performance.now();
    for (let i = 0; i < count; i++) await op(round * count + i);
    cpu.push((cpuNow() - start) / (count * perOp));
    wall.push(((performance.now() - wallStart) * 1e6) / (count * perOp));
  }
  const nsPerOp = median(cpu);
  console.log(
    JSON.stringify({
      bench: 'mqtt-amqp',
      name,
      ...extra,
      nsPerOp: Math.round(nsPerOp),
      wallNsPerOp: Math.round(median(wall)),
      opsPerSec: Math.round(1e9 / nsPerOp),
    }),
  );
}

const NOW = 1_700_000_000_000;
const now = () => NOW;
const plain: PublishInput = {
  topic: 'tenant1/site4/device17/temperature',
  payload: Buffer.alloc(64, 1),
  qos: 1,
  retain: false,
  messageId: 17,
};
const mqtt5: PublishInput = {
  ...plain,
  properties: {
    contentType: 'application/json',
    correlationData: Buffer.from('req-1234'),
    responseTopic: 'tenant1/replies/device17',
    messageExpiryInterval: 300,
    userProperties: { trace: 'abc123', unit: 'celsius' },
  },
};

for (const dialect of DIALECT_NAMES) {
  for (const [shape, input] of [
    ['plain', plain],
    ['mqtt5', mqtt5],
  ] as const) {
    measureSync('encodePublish', { dialect, shape }, () => {
      encodePublish(input, { dialect, now });
    });
    const wire: Buffer = rhea.message.encode(toRhea(encodePublish(input, { dialect, now }).message) as never);
    measureSync('encodePublish+wire', { dialect, shape, wireBytes: wire.length }, () => {
      rhea.message.encode(toRhea(encodePublish(input, { dialect, now }).message) as never);
    });
    measureSync('wire+decodePublish', { dialect, shape }, () => {
      decodePublish(fromRhea(rhea.message.decode(wire) as unknown as RheaMessage), { dialect, now });
    });
  }
}

async function backlogBench(kind: string, stores: Stores): Promise<void> {
  await stores.sessions.open('c1', { clean: false });
  const message = { topic: 't/1', payload: Buffer.alloc(256, 2), qos: 1 as const, retain: false };
  // One at a time: every enqueue is its own committed transaction.
  await measureAsync('backlog enqueue (sequential)', { store: kind }, 300, async () => {
    await stores.sessions.enqueue('c1', message);
  });
  // 100 at once, as a subscription service fanning a message out: LMDB commits them together.
  await measureAsync(
    'backlog enqueue (100 concurrent, per message)',
    { store: kind },
    10,
    async () => {
      await Promise.all(Array.from({ length: 100 }, () => stores.sessions.enqueue('c1', message)));
    },
    100,
  );
  // Drain: read 100, ack them concurrently, until empty (each round refills first).
  await measureAsync(
    'backlog read 100 + ack (per message)',
    { store: kind },
    5,
    async () => {
      await Promise.all(Array.from({ length: 100 }, () => stores.sessions.enqueue('c1', message)));
      const batch = await stores.sessions.backlog('c1', { limit: 100 });
      await Promise.all(batch.map((entry) => stores.sessions.ack('c1', entry.seq)));
    },
    100,
  );
}

async function retainedBench(kind: string, stores: Stores): Promise<void> {
  const count = 10_000;
  for (let i = 0; i < count; i++) {
    await stores.retained.set({
      topic: `tenant${i % 10}/site${Math.floor(i / 10) % 10}/device${Math.floor(i / 100)}/status`,
      payload: Buffer.from('online'),
      qos: 1,
      retain: true,
    });
  }
  for (const filter of [
    'tenant3/site4/device42/status',
    'tenant3/site4/+/status',
    'tenant3/#',
    '+/+/device42/+',
  ]) {
    const matches = (await stores.retained.match(filter)).length;
    await measureAsync('retained match', { store: kind, retained: count, filter, matches }, 50, async () => {
      await stores.retained.match(filter);
    });
  }
}

const directory = mkdtempSync(join(tmpdir(), 'dragoman-bench-'));
try {
  for (const [kind, open] of [
    ['memory', () => createMemoryStores({ maxBacklogPerSession: 10_000, maxRetained: 20_000 })],
    [
      'lmdb',
      () =>
        openLmdbStores({ path: join(directory, 'db'), maxBacklogPerSession: 10_000, maxRetained: 20_000 }),
    ],
  ] as const) {
    const stores = open();
    try {
      await backlogBench(kind, stores);
      await retainedBench(kind, stores);
    } finally {
      await stores.close();
    }
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}

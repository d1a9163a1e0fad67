/**
 * Scale benchmark: N idle MQTT clients (keep-alive 60 s) on one dragoman process; reports its RSS and heap per
 * connection, and the p50/p99 latency of a fixed-rate MQTT→AMQP stream (QoS 0) before and with the idle clients.
 *
 *   node --import tsx packages/gateway/bench/scale/run.ts [--clients 10000] [--rate 2000] [--seconds 10]
 *
 * The script re-runs itself under `sh -c 'ulimit -n …'` so that it and the gateway (its child) may hold one
 * descriptor per client; where the hard limit cannot be raised (an unprivileged container), it uses the hard
 * limit, which caps --clients a little below it. The idle clients live in a child process of their own
 * (`idle-process.ts`, under the same limit), so that connecting and pinging them never delays the stream's
 * generator: the figures are the gateway's. With the clients connected and before the stream, it also times five
 * `/metrics` scrapes (`metricsScrapeMs…`), each of which the gateway serves from its one event loop. Last, the
 * stream runs once more and the idle clients' sockets are all destroyed 2 s into it (`…WhileDisconnecting`): a mass
 * disconnect's cost, seen as the stream's latency. JSON lines on stdout; progress on stderr.
 */
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RssSampler, readMemory } from '../e2e/rss';
import { parseScenario, runScenario } from '../e2e/scenario';
import { startTarget, type Target } from '../e2e/targets';
import { metric, scrapeMetrics } from '../support/metrics';
import { SOURCE_ADDRESSES } from './idle-clients';
import { type IdleClientProcess, startIdleClientProcess } from './idle-process';

const WANTED_FD_LIMIT = 200_000;
const REEXEC_FLAG = 'BENCH_SCALE_LIMIT_RAISED';
/** When, into the last stream, the idle clients are dropped: after its set-up, well before its end. */
const DISCONNECT_AFTER_MS = 2_000;

function log(message: string): void {
  process.stderr.write(`[bench:scale] ${message}\n`);
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer`);
  return parsed;
}

/** Runs this script again with the highest descriptor limit the shell can set. */
async function reexecWithRaisedLimit(): Promise<number> {
  const script = `ulimit -n ${WANTED_FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  const child = spawn(
    'sh',
    [
      '-c',
      script,
      'sh',
      process.execPath,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env: { ...process.env, [REEXEC_FLAG]: '1' } },
  );
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

async function memory(target: Target): Promise<{ rssMiB: number; heapUsedMiB: number }> {
  const samples = target.metricsPort === undefined ? undefined : await scrapeMetrics(target.metricsPort);
  return {
    rssMiB: readMemory(target.pid)?.rssMiB ?? Number.NaN,
    heapUsedMiB:
      samples === undefined ? Number.NaN : metric(samples, 'nodejs_heap_size_used_bytes') / 2 ** 20,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { clients: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' } },
  });
  const clients = positive('clients', values.clients, 10_000);
  const rate = positive('rate', values.rate, 2_000);
  const seconds = positive('seconds', values.seconds, 10);
  const { execSync } = await import('node:child_process');
  const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh', encoding: 'utf8' }).trim());
  log(`descriptor limit ${fdLimit}; ${clients} idle clients from ${SOURCE_ADDRESSES.join(', ')}`);
  if (clients + 200 > fdLimit)
    throw new Error(`--clients ${clients} needs a descriptor limit above ${clients + 200}`);

  // The idle clients come from four loopback addresses, faster than the default per-address limits allow.
  const target = await startTarget('dragoman', {
    extraArgs: [
      '--max-connections',
      String(clients + 100),
      '--max-connections-per-address',
      String(clients + 100),
      '--connect-rate',
      '0',
      '--connect-rate-per-address',
      '0',
    ],
  });
  const sampler = new RssSampler(target.pid);
  let idle: IdleClientProcess | undefined;
  const stream = parseScenario(`mqtt-amqp-qos0-1p@${rate}`, undefined);
  const streamOptions = { messages: rate * seconds, size: 64, timeoutMs: (seconds + 60) * 1000 };
  const rss = () => ({ reset: () => sampler.reset(), peakMiB: () => sampler.peakMiB() });
  try {
    const before = await runScenario(target, stream, 1, streamOptions, rss);
    process.stdout.write(
      `${JSON.stringify({ bench: 'scale', phase: 'stream without idle clients', ...before })}\n`,
    );
    idle = await startIdleClientProcess((connected) => {
      if (connected % 5_000 === 0) log(`${connected} clients connected`);
    });
    log(`idle-client process ${idle.pid}: descriptor limit ${idle.fdLimit}`);
    if (clients + 100 > idle.fdLimit)
      throw new Error(`the idle-client process's descriptor limit ${idle.fdLimit} is below ${clients + 100}`);
    const baseline = await memory(target);
    const openedAt = performance.now();
    const connected = await idle.connect(target.mqtt.port, clients);
    const connectSeconds = (performance.now() - openedAt) / 1000;
    log(`${connected} clients connected in ${connectSeconds.toFixed(1)} s`);
    const loaded = await memory(target);
    const scrapes = await timeScrapes(target, 5);
    const openAtMeasure = await idle.open();
    const during = await runScenario(target, stream, 1, streamOptions, rss);
    process.stdout.write(
      `${JSON.stringify({ bench: 'scale', phase: 'stream with idle clients', ...during })}\n`,
    );
    const openAfterStream = await idle.open();
    // A mass disconnect (a network blip, a load balancer's restart): every idle client's socket is destroyed
    // while the stream runs, and the stream's latency shows how long the closes kept the gateway's loop busy.
    const disconnecting = runScenario(target, stream, 1, streamOptions, rss);
    await delay(DISCONNECT_AFTER_MS);
    await idle.close();
    const whileDisconnecting = await disconnecting;
    process.stdout.write(
      `${JSON.stringify({ bench: 'scale', phase: 'stream while the idle clients disconnect', ...whileDisconnecting })}\n`,
    );
    const summary = {
      bench: 'scale',
      clients: connected,
      openAtMeasure,
      openAfterStream,
      fdLimit,
      connectsPerSec: Math.round(connected / connectSeconds),
      rssBeforeMiB: round(baseline.rssMiB),
      rssWithClientsMiB: round(loaded.rssMiB),
      rssPerClientKiB: round(((loaded.rssMiB - baseline.rssMiB) * 1024) / openAtMeasure),
      heapBeforeMiB: round(baseline.heapUsedMiB),
      heapWithClientsMiB: round(loaded.heapUsedMiB),
      heapPerClientKiB: round(((loaded.heapUsedMiB - baseline.heapUsedMiB) * 1024) / openAtMeasure),
      peakRssMiB: round(readMemory(target.pid)?.hwmMiB ?? Number.NaN),
      metricsScrapeMsMedian: scrapes.medianMs,
      metricsScrapeMsMax: scrapes.maxMs,
      streamRate: rate,
      p50MsWithout: before.p50Ms,
      p99MsWithout: before.p99Ms,
      p50MsWith: during.p50Ms,
      p99MsWith: during.p99Ms,
      lostWith: during.lost,
      p99MsWhileDisconnecting: whileDisconnecting.p99Ms,
      maxMsWhileDisconnecting: whileDisconnecting.maxMs,
      lostWhileDisconnecting: whileDisconnecting.lost,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    idle?.kill();
    sampler.stop();
    await target.stop();
  }
}

/**
 * How long a `/metrics` scrape takes with the clients connected, as seen by the scraper: the gateway's event loop
 * is busy for about that long, as a Prometheus scraping it would find. Run before the stream, not during it.
 */
async function timeScrapes(target: Target, count: number): Promise<{ medianMs: number; maxMs: number }> {
  if (target.metricsPort === undefined) return { medianMs: Number.NaN, maxMs: Number.NaN };
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const startedAt = performance.now();
    await scrapeMetrics(target.metricsPort);
    times.push(performance.now() - startedAt);
  }
  times.sort((a, b) => a - b);
  return {
    medianMs: round(times[Math.floor(count / 2)] ?? Number.NaN),
    maxMs: round(times[count - 1] ?? Number.NaN),
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

const run = process.env[REEXEC_FLAG] === '1' ? main().then(() => 0) : reexecWithRaisedLimit();
run.then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);

/**
 * The MQTT fuzzer: seeded mutations of valid client packet sequences fed to an `MqttServer` over in-memory
 * Duplex pairs (fast), and optionally a bounded number over real TCP to a running gateway. Every case must end:
 * the server closes the stream after the input ends, or the per-case deadline passes (a hang) and the case is
 * destroyed. Crashes (a throw from the endpoint, an uncaught exception) and unhandled rejections are counted
 * by process-level handlers; heap usage after a forced GC is compared with the baseline taken after a warm-up.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type MqttEndpoint, MqttServer } from '@dragoman/mqtt';
import { duplexPair } from '../support/duplex-pair';
import { validSequence } from './corpus';
import { chunk, type Mutation, mutate } from './mutate';
import { caseSeed, createRandom, type Random } from './prng';

export interface FuzzOptions {
  /** Run seed; case i is reproducible from (seed, i). */
  readonly seed: number;
  /** Most in-memory cases. */
  readonly cases: number;
  /** Time budget for the in-memory cases, seconds (whichever of cases/seconds comes first). */
  readonly seconds: number;
  /** Cases over TCP against `tcp` (in addition to `cases`). Default 0. */
  readonly tcpCases?: number;
  /** Where the TCP cases connect (a running gateway's MQTT listener). */
  readonly tcp?: { readonly host: string; readonly port: number };
  /** How long a case may take to close once its input has ended, ms. Default 5 000. */
  readonly caseDeadlineMs?: number;
  /** Cases in flight at once. Default 16 (in memory), 8 (TCP). */
  readonly concurrency?: number;
  /** Failure details kept in the summary (the counts are always complete). Default 10. */
  readonly keepFailures?: number;
}

export interface FuzzFailure {
  readonly kind: 'crash' | 'hang' | 'unhandled-rejection';
  readonly transport: 'memory' | 'tcp' | 'process';
  readonly seed: number;
  readonly index: number;
  readonly mutations: readonly Mutation[];
  readonly detail: string;
  /** The input, hex (first 512 bytes). */
  readonly input: string;
}

export interface FuzzSummary {
  readonly seed: number;
  readonly cases: number;
  readonly tcpCases: number;
  readonly crashes: number;
  readonly hangs: number;
  readonly unhandledRejections: number;
  /** Endpoints of the in-memory server not closed after the run (must be 0). */
  readonly liveEndpoints: number;
  /** In-memory server-side streams not closed after the run (must be 0). */
  readonly liveStreams: number;
  /** heapUsed after the warm-up (forced GC): the baseline. */
  readonly heapBeforeBytes: number;
  /** heapUsed after the in-memory cases (forced GC), to compare with the baseline. */
  readonly heapAfterBytes: number;
  /**
   * heapUsed after the TCP cases (forced GC); informational: the gateway in this process keeps the sessions
   * that fuzz clients opened without clean session, as it should, so this one is not held to the baseline.
   */
  readonly heapAfterTcpBytes: number | undefined;
  readonly durationMs: number;
  readonly closeReasons: Readonly<Record<string, number>>;
  readonly failures: readonly FuzzFailure[];
}

/** Forces a full GC: `global.gc` under --expose-gc, else the flag is switched on at run time. */
export function forceGc(): void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') {
    exposed();
    return;
  }
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
}

/** heapUsed after letting pending callbacks run and collecting twice. */
export async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await nextTurn();
    forceGc();
  }
  return process.memoryUsage().heapUsed;
}

interface CaseInput {
  readonly index: number;
  readonly seed: number;
  readonly random: Random;
  readonly bytes: Buffer;
  readonly mutations: readonly Mutation[];
  /** Whether the client ends its side after writing (else it keeps the connection open until the server acts). */
  readonly sendEof: boolean;
}

function makeCase(runSeed: number, index: number): CaseInput {
  const seed = caseSeed(runSeed, index);
  const random = createRandom(seed);
  const packets = validSequence(random);
  const donor = validSequence(random);
  const { bytes, mutations } = mutate(random, packets, donor);
  return { index, seed, random, bytes, mutations, sendEof: random.chance(0.85) };
}

/** A host that says yes to everything and also sends to its clients, so the outbound paths run too. */
function serveEverything(server: MqttServer): void {
  server.on('endpoint', (endpoint: MqttEndpoint) => {
    endpoint.on('publish', (message) => {
      if (message.qos === 1) message.ack();
      if (message.qos === 2) {
        message.received();
        message.complete();
      }
    });
    endpoint.on('subscribe', (request) => {
      request.grant(request.subscriptions.map((s) => s.qos));
      if (endpoint.canPublish) {
        endpoint.publish({ topic: 'fuzz/out', payload: Buffer.from('x'), qos: 1 }).catch(() => {});
      }
    });
    endpoint.on('unsubscribe', (request) => request.done());
    if (endpoint.clientId.endsWith('7')) endpoint.reject(0x87);
    else endpoint.accept({ sessionPresent: false });
  });
}

/**
 * Waits for `stream` to close, or `ms` to pass; true when it closed. The timer is a plain (ref'd) one: an
 * `AbortSignal.timeout` would not keep the process alive, and a stream that never closes must count as a hang
 * rather than let the event loop drain.
 */
function closedWithin(stream: Duplex, ms: number): Promise<boolean> {
  if (stream.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      stream.off('close', onClose);
      resolve(stream.closed);
    }, ms);
    stream.once('close', onClose);
  });
}

async function writeChunks(input: CaseInput, client: Duplex): Promise<void> {
  for (const piece of chunk(input.random, input.bytes)) {
    if (!client.writable) return;
    client.write(piece);
    if (input.random.chance(0.5)) await nextTurn();
  }
}

interface Counters {
  crashes: number;
  hangs: number;
  unhandledRejections: number;
  readonly closeReasons: Record<string, number>;
  readonly failures: FuzzFailure[];
  readonly keep: number;
}

function record(counters: Counters, failure: FuzzFailure): void {
  if (failure.kind === 'crash') counters.crashes += 1;
  if (failure.kind === 'hang') counters.hangs += 1;
  if (failure.kind === 'unhandled-rejection') counters.unhandledRejections += 1;
  if (counters.failures.length < counters.keep) counters.failures.push(failure);
}

function failureOf(
  kind: FuzzFailure['kind'],
  transport: FuzzFailure['transport'],
  input: CaseInput,
  detail: string,
): FuzzFailure {
  return {
    kind,
    transport,
    seed: input.seed,
    index: input.index,
    mutations: input.mutations,
    detail,
    input: input.bytes.subarray(0, 512).toString('hex'),
  };
}

async function runMemoryCase(
  server: MqttServer,
  input: CaseInput,
  deadlineMs: number,
  counters: Counters,
  streams: Set<Duplex>,
): Promise<void> {
  const [serverSide, client] = duplexPair();
  streams.add(serverSide);
  serverSide.once('close', () => streams.delete(serverSide));
  client.on('error', () => {});
  client.resume();
  try {
    server.accept(serverSide);
    await writeChunks(input, client);
  } catch (error) {
    record(counters, failureOf('crash', 'memory', input, String(error)));
  }
  if (input.sendEof) client.end();
  // Without EOF the server may legitimately keep waiting (for the rest of a packet, or for more packets):
  // give it a moment, then drop the connection as a vanished client would, and require it to clean up.
  else if (!(await closedWithin(serverSide, 20))) client.destroy();
  if (!(await closedWithin(serverSide, deadlineMs))) {
    record(counters, failureOf('hang', 'memory', input, 'server stream still open after the input ended'));
    serverSide.destroy();
  }
  client.destroy();
}

async function runTcpCase(
  target: { host: string; port: number },
  input: CaseInput,
  deadlineMs: number,
  counters: Counters,
): Promise<void> {
  const socket: Socket = tcpConnect(target.port, target.host);
  socket.on('error', () => {});
  socket.resume();
  const connected = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve('no connection in time'), deadlineMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed before connecting');
    });
  });
  if (connected !== undefined) {
    socket.destroy();
    record(counters, failureOf('crash', 'tcp', input, `cannot connect: ${connected}`));
    return;
  }
  await writeChunks(input, socket);
  if (input.sendEof) socket.end();
  else if (!(await closedWithin(socket, 50))) socket.destroy();
  if (!(await closedWithin(socket, deadlineMs))) {
    record(counters, failureOf('hang', 'tcp', input, 'gateway kept the socket open after the input ended'));
    socket.destroy();
  }
}

/** Runs `work(i)` for i in [from, to) with `concurrency` in flight, stopping early when `stop()` says so. */
async function pool(
  from: number,
  to: number,
  concurrency: number,
  stop: () => boolean,
  work: (index: number) => Promise<void>,
): Promise<number> {
  let next = from;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < to && !stop()) {
      const index = next++;
      await work(index);
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done;
}

/** Runs the fuzzer and returns its summary; never throws for what it finds (the counts say it). */
export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const started = Date.now();
  const deadlineMs = options.caseDeadlineMs ?? 5_000;
  const counters: Counters = {
    crashes: 0,
    hangs: 0,
    unhandledRejections: 0,
    closeReasons: {},
    failures: [],
    keep: options.keepFailures ?? 10,
  };
  const processCase: CaseInput = {
    index: -1,
    seed: options.seed,
    random: createRandom(0),
    bytes: Buffer.alloc(0),
    mutations: [],
    sendEof: true,
  };
  const describe = (error: unknown): string =>
    error instanceof Error ? (error.stack ?? String(error)) : String(error);
  const onRejection = (reason: unknown): void =>
    record(counters, failureOf('unhandled-rejection', 'process', processCase, describe(reason)));
  const onException = (error: unknown): void =>
    record(counters, failureOf('crash', 'process', processCase, describe(error)));
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);

  const server = new MqttServer({ connectTimeoutMs: 1_000, maxPacketSize: 64 * 1024 });
  serveEverything(server);
  server.on('connectionError', (reason) => {
    counters.closeReasons[reason.kind] = (counters.closeReasons[reason.kind] ?? 0) + 1;
  });
  server.on('endpoint', (endpoint) =>
    endpoint.once('close', (reason) => {
      counters.closeReasons[reason.kind] = (counters.closeReasons[reason.kind] ?? 0) + 1;
    }),
  );
  const streams = new Set<Duplex>();
  const concurrency = options.concurrency ?? 16;
  const budgetEnds = started + options.seconds * 1_000;
  const outOfTime = (): boolean => Date.now() >= budgetEnds;
  const memoryCase = (index: number) =>
    runMemoryCase(server, makeCase(options.seed, index), deadlineMs, counters, streams);

  let heapBefore = 0;
  let heapAfter = 0;
  let heapAfterTcp: number | undefined;
  let cases = 0;
  let tcpCases = 0;
  try {
    // Warm-up: the first cases load code and fill caches; the baseline is taken after them.
    const warmUp = Math.min(200, Math.floor(options.cases / 10));
    cases += await pool(0, warmUp, concurrency, outOfTime, memoryCase);
    heapBefore = await settledHeap();
    cases += await pool(warmUp, options.cases, concurrency, outOfTime, memoryCase);
    heapAfter = await settledHeap();

    const target = options.tcp;
    const wanted = options.tcpCases ?? 0;
    if (target !== undefined && wanted > 0) {
      tcpCases = await pool(
        options.cases,
        options.cases + wanted,
        options.concurrency ?? 8,
        () => false,
        (i) => runTcpCase(target, makeCase(options.seed, i), deadlineMs, counters),
      );
      // Reported, not judged: the gateway in this process warms caches and pools on its first connections.
      heapAfterTcp = await settledHeap();
    }
  } finally {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
  return {
    seed: options.seed,
    cases,
    tcpCases,
    crashes: counters.crashes,
    hangs: counters.hangs,
    unhandledRejections: counters.unhandledRejections,
    liveEndpoints: server.endpoints.size,
    liveStreams: streams.size,
    heapBeforeBytes: heapBefore,
    heapAfterBytes: heapAfter,
    heapAfterTcpBytes: heapAfterTcp,
    durationMs: Date.now() - started,
    closeReasons: counters.closeReasons,
    failures: counters.failures,
  };
}

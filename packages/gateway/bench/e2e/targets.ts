/**
 * The systems under test, each started as its own process on free loopback ports and stopped by pid:
 * dragoman (the built CLI, embedded backend), mosquitto, aedes and RabbitMQ 3.10 (MQTT and AMQP 1.0 plugins).
 */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeAmqpOpen } from '../../../../test/support/amqp-probe';
import { freePorts } from '../../../../test/support/free-port';
import { ManagedProcess } from '../../../../test/support/managed-process';
import { probeMqttConnect } from '../../../../test/support/mqtt-probe';
import { startRabbitMq } from '../../../../test/support/rabbitmq';
import { retryUntil } from '../../../../test/support/wait';
import type { Endpoint } from './clients';

export const TARGET_NAMES = ['dragoman', 'mosquitto', 'aedes', 'rabbitmq'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface AmqpEndpoint extends Endpoint {
  /** The AMQP address on which MQTT topic `topic` is published and received. */
  address(topic: string): string;
}

export interface Target {
  readonly name: TargetName;
  /** How it was started, for docs/performance.md. */
  readonly command: string;
  readonly version: string;
  /** The process whose memory is measured (RabbitMQ: the Erlang VM, beam.smp). */
  readonly pid: number;
  readonly mqtt: Endpoint;
  readonly amqp: AmqpEndpoint | undefined;
  /** dragoman only: its /metrics port. */
  readonly metricsPort?: number;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '../../../..');
export const GATEWAY_CLI = join(REPO_ROOT, 'packages/gateway/dist/cli.js');
const READY_TIMEOUT_MS = 60_000;
/**
 * Per-subscriber backlog given to dragoman and mosquitto: both drop QoS 1 messages beyond their default (1 000)
 * when publishers outrun a subscriber, which would measure the drop policy rather than the throughput.
 */
export const BACKLOG_LIMIT = 100_000;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why a target cannot run here, or undefined when it can. */
export function unavailable(name: TargetName): string | undefined {
  switch (name) {
    case 'dragoman':
      return executable(process.execPath) && exists(GATEWAY_CLI)
        ? undefined
        : `${GATEWAY_CLI} missing: npm run build`;
    case 'mosquitto':
      return executable('/usr/sbin/mosquitto')
        ? undefined
        : 'mosquitto not installed (apt install mosquitto)';
    case 'aedes':
      return exists(join(REPO_ROOT, 'node_modules/aedes/package.json'))
        ? undefined
        : 'aedes not installed (npm)';
    case 'rabbitmq':
      return executable('/usr/lib/rabbitmq/bin/rabbitmq-server')
        ? undefined
        : 'rabbitmq-server not installed (apt install rabbitmq-server)';
  }
}

function exists(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

async function waitReady(
  process: ManagedProcess,
  probe: () => Promise<unknown>,
  what: string,
): Promise<void> {
  await retryUntil(probe, {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 100,
    what,
    giveUp: () => (process.hasExited ? new Error(`${what}: exited\n${process.outputTail()}`) : undefined),
  });
}

export interface DragomanOptions {
  /** Run with the gateway's defaults only (no raised backlog), e.g. to show its bounds. */
  readonly defaults?: boolean;
  /** More flags for the CLI, e.g. ['--max-connections', '60000']. */
  readonly extraArgs?: readonly string[];
}

export async function startTarget(name: TargetName, dragoman: DragomanOptions = {}): Promise<Target> {
  switch (name) {
    case 'dragoman':
      return startDragoman(dragoman);
    case 'mosquitto':
      return startMosquitto();
    case 'aedes':
      return startAedes();
    case 'rabbitmq':
      return startRabbit();
  }
}

/** Extra dragoman flags, e.g. for profiling: BENCH_DRAGOMAN_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
function nodeFlags(): string[] {
  return (process.env.BENCH_DRAGOMAN_NODE_OPTIONS ?? '').split(' ').filter((flag) => flag !== '');
}

/**
 * BENCH_DRAGOMAN_SOURCE=1 runs the CLI from the TypeScript sources through tsx instead of the built dist, so that a
 * change can be measured without `npm run build` (which other work in the same tree may be running too).
 */
function cliEntry(): string[] {
  // BENCH_DRAGOMAN_CLI: another build of the CLI (e.g. a variant kept for a before/after comparison).
  if (process.env.BENCH_DRAGOMAN_CLI !== undefined) return [process.env.BENCH_DRAGOMAN_CLI];
  if (process.env.BENCH_DRAGOMAN_SOURCE !== '1') return [GATEWAY_CLI];
  return ['--conditions=@dragoman/source', '--import', 'tsx', join(REPO_ROOT, 'packages/gateway/src/cli.ts')];
}

async function startDragoman(options: DragomanOptions): Promise<Target> {
  const [mqttPort, wsPort, amqpPort, metricsPort] = (await freePorts(4)) as [number, number, number, number];
  const entry = cliEntry();
  const args = [
    ...nodeFlags(),
    ...entry,
    '--mqtt',
    `127.0.0.1:${mqttPort}`,
    '--ws',
    `127.0.0.1:${wsPort}`,
    '--amqp-listen',
    `127.0.0.1:${amqpPort}`,
    '--metrics',
    `127.0.0.1:${metricsPort}`,
    '--log-level',
    'warn',
    // Like mosquitto's max_queued_messages below: a subscriber's backlog holds a whole run (default 1 000).
    ...(options.defaults ? [] : ['--max-offline-messages', String(BACKLOG_LIMIT)]),
    ...(options.extraArgs ?? []),
    // For experiments with the gateway's limits, e.g. BENCH_DRAGOMAN_ARGS='--max-inflight 256'.
    ...(process.env.BENCH_DRAGOMAN_ARGS ?? '').split(' ').filter((arg) => arg !== ''),
  ];
  const child = await ManagedProcess.start(process.execPath, args, { name: 'dragoman' });
  await waitReady(child, () => probeMqttConnect({ port: mqttPort }), 'dragoman MQTT');
  await waitReady(child, () => probeAmqpOpen({ port: amqpPort }), 'dragoman AMQP');
  const version = (await import(join(REPO_ROOT, 'packages/gateway/package.json'), { with: { type: 'json' } }))
    .default.version as string;
  return {
    name: 'dragoman',
    command: `node packages/gateway/dist/cli.js ${args.slice(nodeFlags().length + entry.length).join(' ')}`,
    version: `${version} (embedded backend)`,
    pid: child.pid,
    mqtt: { port: mqttPort },
    amqp: { port: amqpPort, address: (topic) => topic },
    metricsPort,
    stop: async () => {
      await child.stop({ signal: 'SIGTERM', timeoutMs: 15_000 });
    },
  };
}

async function startMosquitto(): Promise<Target> {
  const [port] = (await freePorts(1)) as [number];
  const dir = await mkdtemp(join(tmpdir(), 'dragoman-bench-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  // Defaults otherwise (as a user gets them); persistence off, no log file.
  await writeFile(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages ${BACKLOG_LIMIT}\nlog_dest stderr\nlog_type error\n`,
  );
  const child = await ManagedProcess.start('/usr/sbin/mosquitto', ['-c', conf], { name: 'mosquitto' });
  await waitReady(child, () => probeMqttConnect({ port }), 'mosquitto');
  return {
    name: 'mosquitto',
    command: `mosquitto -c mosquitto.conf  # listener ${port} 127.0.0.1, allow_anonymous true, persistence false, max_queued_messages ${BACKLOG_LIMIT}`,
    version: await commandVersion('/usr/sbin/mosquitto', ['-h'], /mosquitto version (\S+)/),
    pid: child.pid,
    mqtt: { port },
    amqp: undefined,
    stop: async () => {
      await child.stop({ signal: 'SIGTERM', timeoutMs: 15_000 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startAedes(): Promise<Target> {
  const [port] = (await freePorts(1)) as [number];
  const script = join(here, 'aedes-server.mjs');
  const child = await ManagedProcess.start(process.execPath, [script, String(port)], {
    name: 'aedes',
    cwd: REPO_ROOT,
  });
  await waitReady(child, () => probeMqttConnect({ port }), 'aedes');
  const version = (
    await import(join(REPO_ROOT, 'node_modules/aedes/package.json'), { with: { type: 'json' } })
  ).default.version as string;
  return {
    name: 'aedes',
    command: `node packages/gateway/bench/e2e/aedes-server.mjs ${port}`,
    version,
    pid: child.pid,
    mqtt: { port },
    amqp: undefined,
    stop: async () => {
      await child.stop({ signal: 'SIGTERM', timeoutMs: 15_000 });
    },
  };
}

async function startRabbit(): Promise<Target> {
  const rabbit = await startRabbitMq({ plugins: ['rabbitmq_amqp1_0', 'rabbitmq_mqtt'] });
  const mqttPort = rabbit.mqttPort;
  if (mqttPort === undefined) throw new Error('RabbitMQ started without its MQTT listener');
  const credentials = { username: rabbit.username, password: rabbit.password };
  let version = '3.10';
  try {
    version = (await rabbit.ctl(['version'])).trim();
  } catch {
    // Keep the packaged major version.
  }
  return {
    name: 'rabbitmq',
    command:
      'rabbitmq-server (test/support/rabbitmq.ts startRabbitMq, plugins rabbitmq_amqp1_0 + rabbitmq_mqtt, defaults otherwise)',
    version,
    pid: rabbit.beamPid,
    mqtt: { port: mqttPort, ...credentials },
    // rabbitmq_mqtt publishes topic a/b to amq.topic with routing key a.b; AMQP 1.0 reaches it as /topic/a.b.
    amqp: {
      port: rabbit.amqpPort,
      ...credentials,
      address: (topic) => `/topic/${topic.replaceAll('/', '.')}`,
    },
    stop: () => rabbit.stop(),
  };
}

async function commandVersion(command: string, args: string[], pattern: RegExp): Promise<string> {
  const { spawnSync } = await import('node:child_process');
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${result.stdout}${result.stderr}`)?.[1] ?? 'unknown';
}

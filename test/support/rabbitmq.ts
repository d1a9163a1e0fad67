import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { probeAmqpOpen } from './amqp-probe';
import { freePorts } from './free-port';
import { ManagedProcess } from './managed-process';
import { probeMqttConnect } from './mqtt-probe';
import { findOnPath, PEER_PATHS } from './peers';
import { type QueueInfo, RabbitMqInspector } from './rabbitmq-inspector';
import { probeTcp } from './tcp-probe';
import { retryUntil } from './wait';

const execFileAsync = promisify(execFile);

export interface RabbitQueueDefinition {
  name: string;
  /** Default true. */
  durable?: boolean;
  /** Queue arguments, e.g. { 'x-max-length': 2, 'x-overflow': 'reject-publish' }. */
  arguments?: Record<string, string | number | boolean>;
}

export interface RabbitExchangeDefinition {
  name: string;
  type: 'direct' | 'topic' | 'fanout' | 'headers';
  /** Default true. */
  durable?: boolean;
}

export interface RabbitBindingDefinition {
  /** Exchange name. */
  source: string;
  /** Queue name (or exchange name with destinationType 'exchange'). */
  destination: string;
  destinationType?: 'queue' | 'exchange';
  routingKey: string;
}

export interface RabbitMqOptions {
  /** Plugins to enable. Default ['rabbitmq_amqp1_0']; add 'rabbitmq_mqtt' to get an MQTT listener (mqttPort). */
  plugins?: readonly string[];
  /** Topology loaded from a definitions file at boot (on vhost '/'), so it exists before the first client. */
  queues?: readonly RabbitQueueDefinition[];
  exchanges?: readonly RabbitExchangeDefinition[];
  bindings?: readonly RabbitBindingDefinition[];
  /** Extra lines for rabbitmq.conf (new-style sysctl format). */
  extraConfig?: readonly string[];
  /** Overall time allowed for the node to boot until a real AMQP 1.0 open succeeds. Default 120 s. */
  startTimeoutMs?: number;
}

export type { QueueInfo };

export interface RestartOptions {
  /** true: SIGKILL the Erlang VM (a crash); false (default): SIGTERM, RabbitMQ's orderly shutdown. */
  crash?: boolean;
}

export interface RabbitMq {
  readonly host: '127.0.0.1';
  /** AMQP port: RabbitMQ 3.10 serves AMQP 0-9-1 and AMQP 1.0 (rabbitmq_amqp1_0) on the same listener. */
  readonly amqpPort: number;
  /** MQTT port when rabbitmq_mqtt is enabled. */
  readonly mqttPort: number | undefined;
  readonly username: string;
  readonly password: string;
  readonly nodeName: string;
  /** The node's temp dir (config, data, logs, $HOME); removed by stop(). */
  readonly dir: string;
  /** Pid of the node's own epmd. */
  readonly epmdPid: number;
  /** Pid of the current rabbitmq-server process (the script that owns the Erlang VM; it changes on restart). */
  readonly pid: number;
  /** Pid of the current Erlang VM (beam.smp). */
  readonly beamPid: number;
  /** How long the last (re)start took until the AMQP 1.0 open succeeded. */
  readonly startupMs: number;
  /** Stops the node and its epmd by pid, waits for them to exit, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops the node and starts it again on the same ports and data dir (durable queues survive). */
  restart(options?: RestartOptions): Promise<void>;
  /** Runs rabbitmqctl against this node and returns its stdout (slow: a new Erlang VM per call). */
  ctl(args: readonly string[]): Promise<string>;
  /** The queues of vhost '/' with their counters, read over Erlang distribution by a long-lived hidden node. */
  listQueues(): Promise<QueueInfo[]>;
  /** One queue's counters; rejects if the queue does not exist. */
  queue(name: string): Promise<QueueInfo>;
  /** The last lines the node printed, for failure messages. */
  outputTail(lines?: number): string;
}

const TEST_USER = 'dragoman';
const TEST_PASSWORD = 'dragoman-interop';
const PLUGIN_NAME = /^[a-z0-9_]+$/;

function definitionsJson(options: RabbitMqOptions): string {
  const vhost = '/';
  return JSON.stringify({
    // A definitions file replaces the default guest user and vhost, so it brings its own.
    users: [{ name: TEST_USER, password: TEST_PASSWORD, tags: 'administrator' }],
    vhosts: [{ name: vhost }],
    permissions: [{ user: TEST_USER, vhost, configure: '.*', write: '.*', read: '.*' }],
    queues: (options.queues ?? []).map((queue) => ({
      name: queue.name,
      vhost,
      durable: queue.durable ?? true,
      auto_delete: false,
      arguments: queue.arguments ?? {},
    })),
    exchanges: (options.exchanges ?? []).map((exchange) => ({
      name: exchange.name,
      vhost,
      type: exchange.type,
      durable: exchange.durable ?? true,
      auto_delete: false,
      internal: false,
      arguments: {},
    })),
    bindings: (options.bindings ?? []).map((binding) => ({
      source: binding.source,
      vhost,
      destination: binding.destination,
      destination_type: binding.destinationType ?? 'queue',
      routing_key: binding.routingKey,
      arguments: {},
    })),
  });
}

/**
 * Starts a private RabbitMQ node (Debian's rabbitmq-server, run directly, not as a service) on free
 * 127.0.0.1 ports, with its own config, data, log dir, Erlang cookie and epmd, and waits until a real
 * AMQP 1.0 open succeeds (and an MQTT CONNACK when rabbitmq_mqtt is enabled).
 */
export async function startRabbitMq(options: RabbitMqOptions = {}): Promise<RabbitMq> {
  const plugins = [...new Set(options.plugins ?? ['rabbitmq_amqp1_0'])];
  for (const plugin of plugins) {
    if (!PLUGIN_NAME.test(plugin)) throw new Error(`invalid RabbitMQ plugin name: ${plugin}`);
  }
  const withMqtt = plugins.includes('rabbitmq_mqtt');
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  const epmdCommand = findOnPath('epmd');
  if (epmdCommand === undefined) throw new Error('epmd not found on PATH');

  const dir = await mkdtemp(join(tmpdir(), 'dragoman-rabbitmq-'));
  const [amqpPort, distPort, epmdPort, mqttPort] = (await freePorts(4)) as [number, number, number, number];
  const nodeName = `dragoman-test-${randomBytes(4).toString('hex')}@localhost`;
  const mnesiaBase = join(dir, 'mnesia');

  const config = [
    'loopback_users = none',
    `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
    `load_definitions = ${join(dir, 'definitions.json')}`,
    ...(withMqtt
      ? [
          `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
          'mqtt.vhost = /',
          `mqtt.default_user = ${TEST_USER}`,
          `mqtt.default_pass = ${TEST_PASSWORD}`,
        ]
      : []),
    ...(options.extraConfig ?? []),
  ];
  await writeFile(join(dir, 'rabbitmq.conf'), `${config.join('\n')}\n`);
  await writeFile(join(dir, 'definitions.json'), definitionsJson(options));
  await writeFile(join(dir, 'enabled_plugins'), `[${plugins.join(',')}].\n`);
  // An empty env file of our own, so /etc/rabbitmq/rabbitmq-env.conf is not read.
  await writeFile(join(dir, 'rabbitmq-env.conf'), '');

  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Inherit nothing that would point the node at another broker's files or at systemd.
    if (!/^(RABBITMQ_|ERL_|NOTIFY_SOCKET$)/.test(key)) env[key] = value;
  }
  Object.assign(env, {
    // A fresh $HOME gives the node (and rabbitmqctl) a fresh .erlang.cookie.
    HOME: dir,
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: mnesiaBase,
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    // Distribution on loopback only; never start a shared epmd daemon, we run our own below.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false',
  });

  let epmd: ManagedProcess | undefined;
  let node: ManagedProcess | undefined;
  let beamPid = 0;
  let startupMs = 0;
  let stopped = false;
  let inspector: Promise<RabbitMqInspector> | undefined;

  const stopNode = async (crash: boolean) => {
    if (!node) return;
    if (crash && beamPid > 0) {
      try {
        process.kill(beamPid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // SIGTERM to the script: it forwards SIGTERM to the VM and exits once the VM has exited.
    await node.stop({ signal: 'SIGTERM', timeoutMs: 60_000 });
    node = undefined;
  };

  const startNode = async () => {
    const startedAt = Date.now();
    const started = await ManagedProcess.start(PEER_PATHS.rabbitmqServer, [], {
      name: `rabbitmq ${nodeName}`,
      env,
      cwd: dir,
    });
    node = started;
    await retryUntil(
      () => probeAmqpOpen({ port: amqpPort, username: TEST_USER, password: TEST_PASSWORD, timeoutMs: 5_000 }),
      {
        timeoutMs: startTimeoutMs,
        intervalMs: 500,
        what: `RabbitMQ ${nodeName} to accept an AMQP 1.0 open on 127.0.0.1:${amqpPort}`,
        giveUp: () =>
          started.hasExited
            ? new Error(
                `RabbitMQ exited during startup (${JSON.stringify(started.exitStatus)}):\n${started.outputTail()}`,
              )
            : undefined,
      },
    );
    if (withMqtt) {
      await retryUntil(
        () => probeMqttConnect({ port: mqttPort, username: TEST_USER, password: TEST_PASSWORD }),
        {
          timeoutMs: startTimeoutMs,
          intervalMs: 500,
          what: `RabbitMQ MQTT listener on 127.0.0.1:${mqttPort}`,
        },
      );
    }
    beamPid = Number((await readFile(join(mnesiaBase, `${nodeName}.pid`), 'utf8')).trim());
    startupMs = Date.now() - startedAt;
    console.log(`[interop] RabbitMQ ${nodeName} ready in ${startupMs} ms (plugins: ${plugins.join(', ')})`);
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await (await inspector?.catch(() => undefined))?.stop();
      await stopNode(false);
    } finally {
      await epmd?.stop({ timeoutMs: 10_000 });
      await rm(dir, { recursive: true, force: true });
    }
  };

  try {
    epmd = await ManagedProcess.start(epmdCommand, ['-port', String(epmdPort), '-address', '127.0.0.1'], {
      name: `epmd :${epmdPort}`,
      env,
    });
    const epmdProcess = epmd;
    await retryUntil(() => probeTcp(epmdPort), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: `epmd on 127.0.0.1:${epmdPort}`,
      giveUp: () =>
        epmdProcess.hasExited ? new Error(`epmd exited:\n${epmdProcess.outputTail()}`) : undefined,
    });
    await startNode();
  } catch (error) {
    const tail = node?.outputTail() ?? '';
    await stop().catch(() => {});
    if (error instanceof Error && tail !== '' && !error.message.includes(tail)) {
      error.message += `\n--- RabbitMQ output ---\n${tail}`;
    }
    throw error;
  }

  const ctl = async (args: readonly string[]) => {
    const { stdout } = await execFileAsync(PEER_PATHS.rabbitmqctl, ['-n', nodeName, ...args], {
      env,
      cwd: dir,
      timeout: 60_000,
    });
    return stdout;
  };

  const listQueues = async (): Promise<QueueInfo[]> => {
    if (stopped) throw new Error('RabbitMQ was stopped');
    inspector ??= RabbitMqInspector.start(nodeName, env, dir);
    return (await inspector).listQueues();
  };

  return {
    host: '127.0.0.1',
    amqpPort,
    mqttPort: withMqtt ? mqttPort : undefined,
    username: TEST_USER,
    password: TEST_PASSWORD,
    nodeName,
    dir,
    epmdPid: epmd.pid,
    get pid() {
      return node?.pid ?? 0;
    },
    get beamPid() {
      return beamPid;
    },
    get startupMs() {
      return startupMs;
    },
    stop,
    async restart(restartOptions: RestartOptions = {}) {
      if (stopped) throw new Error('RabbitMQ was stopped; start a new one');
      await stopNode(restartOptions.crash ?? false);
      await startNode();
    },
    ctl,
    listQueues,
    async queue(name: string) {
      const found = (await listQueues()).find((queue) => queue.name === name);
      if (found === undefined) throw new Error(`RabbitMQ has no queue named ${name}`);
      return found;
    },
    outputTail(lines?: number) {
      return node?.outputTail(lines) ?? '';
    },
  };
}

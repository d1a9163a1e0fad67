import { fileURLToPath } from 'node:url';
import { probeAmqpOpen } from './amqp-probe';
import { freePort } from './free-port';
import { ManagedProcess } from './managed-process';
import { PEER_PATHS } from './peers';
import { retryUntil, withTimeout } from './wait';

const SCRIPTS_DIR = fileURLToPath(new URL('./proton/', import.meta.url));

/** Environment for Debian's python3: nothing from a pyenv/virtualenv that could shadow the proton binding. */
function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PYTHON|PYENV|VIRTUAL_ENV)/.test(key)) env[key] = value;
  }
  env.PYTHONUNBUFFERED = '1';
  return env;
}

export interface ProtonBroker {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly pid: number;
  /** Stops the broker by pid and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts Qpid Proton's example broker (Python, in-memory queues named by link address) on a free
 * 127.0.0.1 port and waits until a real AMQP open succeeds. It speaks SASL ANONYMOUS or no SASL.
 */
export async function startProtonBroker(startTimeoutMs = 30_000): Promise<ProtonBroker> {
  const port = await freePort();
  const broker = await ManagedProcess.start(
    PEER_PATHS.python,
    [PEER_PATHS.protonBroker, '--address', `127.0.0.1:${port}`],
    { name: `proton broker :${port}`, env: pythonEnv() },
  );
  try {
    await retryUntil(() => probeAmqpOpen({ port, timeoutMs: 5_000 }), {
      timeoutMs: startTimeoutMs,
      intervalMs: 100,
      what: `the Proton example broker to accept an AMQP open on 127.0.0.1:${port}`,
      giveUp: () => (broker.hasExited ? new Error(`broker.py exited:\n${broker.outputTail()}`) : undefined),
    });
  } catch (error) {
    await broker.stop({ timeoutMs: 5_000 });
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    pid: broker.pid,
    async stop() {
      // broker.py ends on SIGINT (KeyboardInterrupt) without a traceback.
      await broker.stop({ signal: 'SIGINT', timeoutMs: 10_000 });
    },
  };
}

/** One JSON line printed by test/support/proton/{send,receive}.py. */
export interface ProtonEvent {
  event: string;
  [field: string]: unknown;
}

export interface ProtonClientResult {
  code: number | null;
  events: ProtonEvent[];
  /** stderr and unparsable stdout, for failure messages. */
  output: string;
}

export interface ProtonClient {
  readonly pid: number;
  /** Every event so far, in order. */
  readonly events: ProtonEvent[];
  /** Resolves with the first event (past or future) matching `predicate`. */
  waitForEvent(predicate: (event: ProtonEvent) => boolean, timeoutMs?: number): Promise<ProtonEvent>;
  /** Resolves when the script exits. */
  readonly finished: Promise<ProtonClientResult>;
  stop(): Promise<void>;
}

export interface ProtonClientOptions {
  port: number;
  address: string;
  count?: number;
  user?: string;
  password?: string;
  /** The script's own deadline in seconds (it exits with status 3 when it passes). */
  timeoutSeconds?: number;
  /** Extra script flags, e.g. ['--settle', 'at-most-once'] or ['--outcome', 'reject']. */
  extraArgs?: readonly string[];
}

/** Runs `send.py` or `receive.py` with Debian's python3 and collects its JSON-line events. */
export async function runProtonClient(
  script: 'send' | 'receive',
  options: ProtonClientOptions,
): Promise<ProtonClient> {
  const args = [
    `${SCRIPTS_DIR}${script}.py`,
    '--port',
    String(options.port),
    '--address',
    options.address,
    '--count',
    String(options.count ?? 1),
    '--timeout',
    String(options.timeoutSeconds ?? 20),
    ...(options.user !== undefined ? ['--user', options.user, '--password', options.password ?? ''] : []),
    ...(options.extraArgs ?? []),
  ];
  const child = await ManagedProcess.start(PEER_PATHS.python, args, {
    name: `proton ${script}.py`,
    env: pythonEnv(),
    cwd: SCRIPTS_DIR,
  });
  const events: ProtonEvent[] = [];
  const other: string[] = [];
  const waiters = new Set<{
    predicate: (event: ProtonEvent) => boolean;
    resolve: (event: ProtonEvent) => void;
  }>();
  child.on('line', (line: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      other.push(line);
      return;
    }
    const event = parsed as ProtonEvent;
    events.push(event);
    for (const waiter of waiters) {
      if (waiter.predicate(event)) {
        waiters.delete(waiter);
        waiter.resolve(event);
      }
    }
  });
  child.on('stderr-line', (line: string) => other.push(line));
  const finished = child.exited.then((exit) => ({ code: exit.code, events, output: other.join('\n') }));
  return {
    pid: child.pid,
    events,
    finished,
    waitForEvent(predicate, timeoutMs = 20_000) {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return withTimeout(
        new Promise<ProtonEvent>((resolve) => waiters.add({ predicate, resolve })),
        timeoutMs,
        `an event from proton ${script}.py (events so far: ${JSON.stringify(events)}; output: ${other.join(' | ')})`,
      );
    },
    async stop() {
      await child.stop({ timeoutMs: 5_000 });
    },
  };
}

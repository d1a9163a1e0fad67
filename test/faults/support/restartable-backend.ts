/**
 * The embedded backend on a durable LMDB store at a fixed port, stopped and started again on the same port and
 * path, as a restart does. Two ways to stop it:
 *
 * - `close`: in this process, `backend.close()` then the stores' close (an orderly restart: every connection
 *   is closed with `amqp:connection:forced`);
 * - `kill`: the backend runs in a child process (support/backend-main.ts) which gets SIGKILL (no close frames,
 *   no store close: what is on disk is what the store had written when it died).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend, openLmdbStores } from '@dragoman/mqtt-amqp';
import { ManagedProcess } from '../../support/managed-process';
import { retryUntil, withTimeout } from '../../support/wait';

export type BackendStop = 'close' | 'kill';

export interface RestartableBackend {
  readonly url: string;
  /** Stops the running backend the chosen way (`close` or `kill`); resolves once it is gone. */
  stop(): Promise<void>;
  /** Starts a new backend on the same port and store path. */
  start(): Promise<void>;
  /** Stops whatever runs, in order (for afterEach). */
  dispose(): Promise<void>;
}

interface Running {
  stop(how: BackendStop): Promise<void>;
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(root, 'test/faults/support/backend-main.ts');
const START_TIMEOUT_MS = 30_000;

async function startInProcess(port: number, dir: string): Promise<Running> {
  // The stores also hold the unreleased QoS 2 publications, committed with their routing.
  const stores = openLmdbStores({ path: dir });
  try {
    const backend = await createBackend({ store: stores, listen: { host: '127.0.0.1', port } });
    backend.on('error', () => {});
    return {
      async stop() {
        await backend.close();
        await stores.close();
      },
    };
  } catch (error) {
    await stores.close();
    throw error;
  }
}

async function startChild(port: number, dir: string): Promise<Running> {
  const child = await ManagedProcess.start(
    process.execPath,
    ['--conditions=@dragoman/source', '--import', 'tsx', MAIN, String(port), dir],
    { name: 'backend', cwd: root },
  );
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        child.on('line', (line) => {
          if (line.includes('"ready":true')) resolve();
        });
        child.once('exit', () => reject(new Error(`the backend process exited:\n${child.outputTail()}`)));
      }),
      START_TIMEOUT_MS,
      'the backend process to listen',
    );
  } catch (error) {
    await child.stop({ timeoutMs: 5_000 });
    throw error;
  }
  return {
    async stop(how) {
      if (how === 'kill') {
        child.killGroupNow();
        await withTimeout(child.exited, 10_000, 'the killed backend process to exit');
      } else {
        await child.stop({ timeoutMs: 10_000 });
      }
    },
  };
}

/** Starts the backend on `port` (which must be free) with its LMDB store in `dir`. */
export async function startRestartableBackend(options: {
  port: number;
  dir: string;
  stop: BackendStop;
}): Promise<RestartableBackend> {
  const { port, dir, stop } = options;
  const startOnce = (): Promise<Running> =>
    stop === 'kill' ? startChild(port, dir) : startInProcess(port, dir);
  let running: Running | undefined = await startOnce();
  return {
    url: `amqp://127.0.0.1:${port}`,
    async stop() {
      const current = running;
      running = undefined;
      await current?.stop(stop);
    },
    async start() {
      if (running !== undefined) throw new Error('the backend is already running');
      // The port was free a moment ago; retried only in case an outgoing connection took it as its local port
      // in between (EADDRINUSE). Each attempt is a real listen.
      running = await retryUntil(startOnce, {
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 200,
        what: `a new backend to listen on port ${port}`,
      });
    },
    async dispose() {
      const current = running;
      running = undefined;
      await current?.stop('close');
    },
  };
}

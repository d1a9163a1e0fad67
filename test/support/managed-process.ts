import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { withTimeout } from './wait';

/** How many output lines a managed process keeps for error messages (older lines are dropped). */
export const OUTPUT_TAIL_LINES = 200;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** Short name used in error messages and logs. */
  name: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep a pipe to the process's stdin (for `write`). Default: stdin is /dev/null. */
  stdin?: boolean;
}

export interface StopOptions {
  /** First signal, sent to the main pid only (so the process can shut down in order). Default SIGTERM. */
  signal?: NodeJS.Signals;
  /** How long to wait for exit before SIGKILL goes to the whole process group. Default 30 s. */
  timeoutMs?: number;
}

const running = new Set<ManagedProcess>();
let exitHookInstalled = false;

/**
 * If a test worker dies without its afterAll (a crash, or a SIGTERM from a test-runner time-out), still take
 * the external processes down with it. A signal is re-raised afterwards so the worker ends as it would have.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const managed of running) managed.killGroupNow();
  };
  process.once('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

/**
 * An external process started in its own process group, stopped by pid.
 * Emits 'line' (stdout line) and 'stderr-line'; keeps the last OUTPUT_TAIL_LINES lines of both for diagnostics.
 */
export class ManagedProcess extends EventEmitter {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private readonly tail: string[] = [];
  private readonly child: ChildProcess;

  private constructor(name: string, child: ChildProcess, pid: number) {
    super();
    this.name = name;
    this.child = child;
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        resolve(this.exit);
        this.emit('exit', this.exit);
      });
    });
    // A write to a process that has gone must not crash the test worker (EPIPE): its 'exit' tells the story.
    child.stdin?.on('error', () => {});
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        this.remember(line);
        this.emit('line', line);
      });
    }
    if (child.stderr) {
      createInterface({ input: child.stderr }).on('line', (line) => {
        this.remember(line);
        this.emit('stderr-line', line);
      });
    }
  }

  static async start(
    command: string,
    args: readonly string[],
    options: StartProcessOptions,
  ): Promise<ManagedProcess> {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      // Own process group: the SIGKILL fallback reaches grandchildren too.
      detached: true,
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (error) =>
        reject(new Error(`cannot start ${options.name} (${command}): ${error.message}`)),
      );
    });
    if (child.pid === undefined) throw new Error(`cannot start ${options.name}: no pid`);
    const managed = new ManagedProcess(options.name, child, child.pid);
    running.add(managed);
    installExitHook();
    return managed;
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  get exitStatus(): ProcessExit | undefined {
    return this.exit;
  }

  /** Writes to the process's stdin (started with `stdin: true`). */
  write(text: string): void {
    if (!this.child.stdin) throw new Error(`${this.name} was started without a stdin pipe`);
    this.child.stdin.write(text);
  }

  /** The last lines the process printed, for error messages. */
  outputTail(lines = 40): string {
    return this.tail.slice(-lines).join('\n');
  }

  /** Sends `signal` to the pid, waits for exit, and falls back to SIGKILL of the whole group. */
  async stop(options: StopOptions = {}): Promise<ProcessExit> {
    if (this.exit) return this.exit;
    const timeoutMs = options.timeoutMs ?? 30_000;
    this.signal(options.signal ?? 'SIGTERM');
    try {
      return await withTimeout(this.exited, timeoutMs, `${this.name} (pid ${this.pid}) to exit`);
    } catch {
      this.killGroupNow();
      return withTimeout(this.exited, 10_000, `${this.name} (pid ${this.pid}) to exit after SIGKILL`);
    }
  }

  /** SIGKILL to the whole process group, synchronously (also used from the process 'exit' hook). */
  killGroupNow(): void {
    if (this.exit) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      this.signal('SIGKILL');
    }
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone: 'exit' follows.
    }
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > OUTPUT_TAIL_LINES) this.tail.shift();
  }
}

/** True while a process with this pid exists (signal 0 probes without signalling). */
export function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

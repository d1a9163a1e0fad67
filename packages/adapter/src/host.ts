import { EventEmitter } from 'node:events';
import { createHostContext, HostContext, type HostContextOptions, type ScopedContext } from './context';
import { AdapterStartError, AdapterStateError, AdapterTimeoutError } from './errors';
import type { Adapter, StopDeadline } from './types';

export const DEFAULT_START_TIMEOUT_MS = 30_000;
export const DEFAULT_ABORT_GRACE_MS = 1_000;
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export interface RunAdaptersOptions {
  /** Time each adapter has to start; then its start signal aborts and the start fails. Default 30 000 ms. */
  readonly startTimeoutMs?: number;
  /**
   * Time an adapter still has after its stop signal aborted (the deadline passed); then the host stops
   * waiting for it and reports it `abandoned`. Default 1 000 ms.
   */
  readonly abortGraceMs?: number;
}

/**
 * How one adapter's stop went: `stopped` before the deadline, `aborted` after the deadline signal fired
 * (within the grace time), `abandoned` when it did not finish even then, `failed` when its stop threw.
 */
export type AdapterStopState = 'stopped' | 'aborted' | 'abandoned' | 'failed';

export interface AdapterStopResult {
  readonly name: string;
  readonly state: AdapterStopState;
  /** The error `stop` threw (`failed`). */
  readonly error: Error | undefined;
}

export interface StopReport {
  /** In stop order (the reverse of the start order). */
  readonly adapters: readonly AdapterStopResult[];
  /** True when every adapter stopped before the deadline. */
  readonly clean: boolean;
}

export interface AdapterHostEvents {
  /** An adapter reported (`context.fail`) that it cannot go on. */
  failure: [adapter: string, error: Error];
}

export type AdapterHostState = 'running' | 'stopping' | 'stopped';

interface Running {
  readonly adapter: Adapter;
  readonly context: ScopedContext;
}

/**
 * Adapters started by `runAdapters`, in order, sharing one host context. `stop(deadline)` stops them in
 * reverse order within one deadline for all: each drains until the deadline, then is aborted, then
 * abandoned after a grace time. Device sessions an adapter left open are closed after its stop.
 */
export class AdapterHost extends EventEmitter<AdapterHostEvents> {
  readonly context: HostContext;
  readonly #running: Running[];
  readonly #ownsContext: boolean;
  readonly #abortGraceMs: number;
  #state: AdapterHostState = 'running';
  #stopping: Promise<StopReport> | undefined;

  /** @internal Use `runAdapters`. */
  constructor(context: HostContext, ownsContext: boolean, abortGraceMs: number) {
    super();
    this.context = context;
    this.#running = [];
    this.#ownsContext = ownsContext;
    this.#abortGraceMs = abortGraceMs;
  }

  get state(): AdapterHostState {
    return this.#state;
  }

  /** Names of the running adapters, in start order. */
  get adapters(): readonly string[] {
    return this.#running.map((r) => r.adapter.name);
  }

  /**
   * Stops every adapter, last started first, within `deadline` (milliseconds from now, default 10 000, or a
   * signal that aborts at the deadline). Never rejects: what went wrong is in the report. Calling it again
   * returns the same report.
   */
  stop(deadline: StopDeadline = DEFAULT_STOP_TIMEOUT_MS): Promise<StopReport> {
    this.#stopping ??= this.#stopAll(deadline);
    return this.#stopping;
  }

  /** @internal */
  async start(adapter: Adapter, startTimeoutMs: number): Promise<void> {
    const context = this.context.forAdapter(adapter.name, (error) => this.#failure(adapter.name, error));
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new AdapterTimeoutError(`start of '${adapter.name}' took over ${startTimeoutMs} ms`),
        ),
      startTimeoutMs,
    );
    try {
      await raceAbort(
        Promise.resolve().then(() => adapter.start(context, { signal: controller.signal })),
        controller.signal,
      );
    } catch (error) {
      controller.abort(error);
      // Whatever the start set up is released by its stop, given little time.
      await this.#stopOne({ adapter, context }, deadlineFrom(this.#abortGraceMs));
      throw new AdapterStartError(adapter.name, error);
    } finally {
      clearTimeout(timer);
    }
    this.#running.push({ adapter, context });
  }

  #failure(name: string, error: Error): void {
    if (this.listenerCount('failure') > 0) this.emit('failure', name, error);
    else this.context.logger.error({ adapter: name, err: error }, 'adapter failed');
  }

  async #stopAll(deadline: StopDeadline): Promise<StopReport> {
    this.#state = 'stopping';
    const { signal, deadline: at, dispose } = deadlineFrom(deadline);
    const results: AdapterStopResult[] = [];
    try {
      for (const running of [...this.#running].reverse()) {
        results.push(await this.#stopOne(running, { signal, deadline: at, dispose: () => undefined }));
      }
    } finally {
      dispose();
    }
    this.#running.length = 0;
    if (this.#ownsContext) await this.context.close().catch(() => undefined);
    this.#state = 'stopped';
    return { adapters: results, clean: results.every((r) => r.state === 'stopped') };
  }

  async #stopOne(running: Running, deadline: Deadline): Promise<AdapterStopResult> {
    const { adapter, context } = running;
    const { signal } = deadline;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const abandoned = new Promise<'abandoned'>((resolve) => {
      onAbort = () => {
        graceTimer = setTimeout(() => resolve('abandoned'), this.#abortGraceMs);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    let result: AdapterStopResult;
    try {
      const outcome = await Promise.race([
        Promise.resolve()
          .then(() => adapter.stop({ signal, deadline: deadline.deadline }))
          .then(() => (signal.aborted ? ('aborted' as const) : ('stopped' as const))),
        abandoned,
      ]);
      result = { name: adapter.name, state: outcome, error: undefined };
      if (outcome === 'abandoned') {
        context.logger.warn(
          { graceMs: this.#abortGraceMs },
          'adapter did not stop after its abort; abandoned',
        );
      }
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      context.logger.error({ err: failure }, 'adapter stop failed');
      result = { name: adapter.name, state: 'failed', error: failure };
    } finally {
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
      deadline.dispose();
    }
    await context.closeSessions().catch(() => undefined);
    return result;
  }
}

/**
 * Starts `adapters` in order on one host context (`context` itself, or one made from options: then its
 * connection is closed by `stop`). If one fails to start (its error, or `startTimeoutMs`), it is stopped,
 * the ones already started are stopped in reverse order, and `AdapterStartError` is thrown.
 */
export async function runAdapters(
  context: HostContext | HostContextOptions,
  adapters: readonly Adapter[],
  options: RunAdaptersOptions = {},
): Promise<AdapterHost> {
  const names = new Set<string>();
  for (const adapter of adapters) {
    if (names.has(adapter.name)) throw new AdapterStateError(`two adapters are named '${adapter.name}'`);
    names.add(adapter.name);
  }
  const startTimeoutMs = checkMs('startTimeoutMs', options.startTimeoutMs, DEFAULT_START_TIMEOUT_MS);
  const abortGraceMs = checkMs('abortGraceMs', options.abortGraceMs, DEFAULT_ABORT_GRACE_MS);
  const owned = !(context instanceof HostContext);
  const hostContext = context instanceof HostContext ? context : createHostContext(context);
  const host = new AdapterHost(hostContext, owned, abortGraceMs);
  for (const adapter of adapters) {
    try {
      await host.start(adapter, startTimeoutMs);
    } catch (error) {
      await host.stop(DEFAULT_STOP_TIMEOUT_MS);
      throw error;
    }
  }
  return host;
}

interface Deadline {
  readonly signal: AbortSignal;
  readonly deadline: number;
  dispose(): void;
}

function deadlineFrom(deadline: StopDeadline): Deadline {
  if (typeof deadline !== 'number') {
    return { signal: deadline, deadline: Number.POSITIVE_INFINITY, dispose: () => undefined };
  }
  checkMs('deadline', deadline, 0);
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new AdapterTimeoutError(`stop deadline of ${deadline} ms passed`)),
    deadline,
  );
  return { signal: controller.signal, deadline: Date.now() + deadline, dispose: () => clearTimeout(timer) };
}

function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function checkMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new AdapterStateError(
      `${name} must be a non-negative number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

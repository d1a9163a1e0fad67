import type { EventEmitter } from 'node:events';
import { once } from 'node:events';

/** Default time a test waits for one event before it fails (generous: CI is a loaded 2-core machine). */
export const DEFAULT_EVENT_TIMEOUT_MS = 10_000;

/**
 * Waits for one `event` from `emitter`, failing with a readable error after `timeoutMs`. Resolves with the
 * event's arguments. Like `events.once`, an 'error' event rejects, unless `ignoreErrors` is set (for waiting
 * on the 'close' that follows an expected error).
 */
export async function waitForEvent(
  emitter: EventEmitter,
  event: string,
  timeoutMs = DEFAULT_EVENT_TIMEOUT_MS,
  options: { ignoreErrors?: boolean } = {},
): Promise<unknown[]> {
  if (options.ignoreErrors) {
    let listener: ((...args: unknown[]) => void) | undefined;
    const next = new Promise<unknown[]>((resolve) => {
      listener = (...args: unknown[]) => resolve(args);
      emitter.once(event, listener);
    });
    try {
      return await withTimeout(next, timeoutMs, `'${event}'`);
    } finally {
      if (listener) emitter.removeListener(event, listener);
    }
  }
  try {
    return await once(emitter, event, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    if (error instanceof Error && error.name === 'AbortError') {
      throw new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`);
    }
    throw error;
  }
}

/** Races `promise` against a timeout; the error names `what` so a failing test says what it was waiting for. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RetryOptions {
  /** Overall deadline; the last attempt's error is reported when it passes. */
  timeoutMs: number;
  /** Pause between failed attempts (the attempts themselves are real protocol exchanges, not sleeps). */
  intervalMs?: number;
  /** What we are waiting for, for the error message. */
  what: string;
  /** Stops retrying early, e.g. when the process we are polling has exited. */
  giveUp?: () => Error | undefined;
}

/** Runs `attempt` until it resolves or the deadline passes: for readiness checks of external peers. */
export async function retryUntil<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const intervalMs = options.intervalMs ?? 250;
  let lastError: unknown;
  for (;;) {
    const reason = options.giveUp?.();
    if (reason !== undefined) throw reason;
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${options.what} (last error: ${detail})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

import { RuleViolation } from './rule-violation';
import type { KitTimings } from './types';

export const DEFAULT_TIMEOUT_MS = 5_000;

/** A few event-loop turns: enough for in-process publishers to emit whatever they would emit now. */
export async function eventLoopTurns(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

export function resolveTimings(timings: KitTimings): { timeoutMs: number; quiesce: () => Promise<void> } {
  return {
    timeoutMs: timings.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    quiesce: timings.quiesce ?? (() => eventLoopTurns()),
  };
}

/** Resolves when `condition()` holds, re-checked after every `notify`; fails the rule on time-out. */
export class Waiters {
  private readonly pending = new Set<{ condition: () => boolean; resolve: () => void }>();
  private failure: Error | undefined;

  notify(): void {
    for (const waiter of [...this.pending]) {
      if (waiter.condition()) {
        this.pending.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Makes every current and future wait reject with `error` (a violation noticed by a probe). */
  abort(error: Error): void {
    this.failure ??= error;
    for (const waiter of [...this.pending]) {
      this.pending.delete(waiter);
      waiter.resolve();
    }
  }

  async until(condition: () => boolean, rule: string, what: string, timeoutMs: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (!condition()) {
      let timer: NodeJS.Timeout | undefined;
      let timedOut = false;
      await new Promise<void>((resolve) => {
        const waiter = { condition, resolve };
        this.pending.add(waiter);
        timer = setTimeout(() => {
          timedOut = true;
          this.pending.delete(waiter);
          resolve();
        }, timeoutMs);
      });
      clearTimeout(timer);
      if (this.failure !== undefined) throw this.failure;
      if (timedOut) throw new RuleViolation(rule, `timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * Counts arrivals per message id on the receiving side of a fault test, and waits (on arrivals, and on other
 * progress the test reports, with a deadline) until a condition holds; a time-out says what is still missing.
 */
import { EventEmitter } from 'node:events';

export class ArrivalTally extends EventEmitter {
  readonly counts = new Map<string, number>();

  constructor(private readonly expected: readonly string[]) {
    super();
  }

  add(id: string): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.emit('progress');
  }

  /** Something else a waiting condition looks at has changed (e.g. an acknowledgement): check again. */
  progress(): void {
    this.emit('progress');
  }

  /** Ids that arrived at least once. */
  get distinct(): number {
    return this.counts.size;
  }

  /** Ids that arrived more than once. */
  duplicates(): string[] {
    return [...this.counts].filter(([, n]) => n > 1).map(([id]) => id);
  }

  /** Ids of `among` (default: all expected) that have not arrived. */
  missing(among: readonly string[] = this.expected): string[] {
    return among.filter((id) => !this.counts.has(id));
  }

  /** Ids that arrived and were never sent (none of `expected`, nor of `alsoSent`). */
  unexpected(alsoSent: readonly string[] = []): string[] {
    const sent = new Set([...this.expected, ...alsoSent]);
    return [...this.counts.keys()].filter((id) => !sent.has(id));
  }

  /**
   * Resolves once `check()` holds (checked now, at every arrival and `progress()`); rejects after `timeoutMs`,
   * saying `what` (a function is called then, so it can report the state at that moment).
   */
  until(check: () => boolean, what: string | (() => string), timeoutMs: number): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onArrival = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.off('progress', onArrival);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('progress', onArrival);
        const missing = this.missing();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}: ${this.distinct} distinct arrived, missing ` +
              `${missing.length} (${missing.slice(0, 5).join(', ')}…), duplicated ${this.duplicates().length}`,
          ),
        );
      }, timeoutMs);
      this.on('progress', onArrival);
    });
  }
}

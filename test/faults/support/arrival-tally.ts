/**
 * Counts arrivals per message id on the receiving side of a fault test, and waits (on arrivals, with a
 * deadline) until a condition on the counts holds; a time-out says what is still missing.
 */
import { EventEmitter } from 'node:events';

export class ArrivalTally extends EventEmitter {
  readonly counts = new Map<string, number>();

  constructor(private readonly expected: readonly string[]) {
    super();
  }

  add(id: string): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.emit('arrival');
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

  /** Resolves once `check()` holds (checked now and at every arrival); rejects after `timeoutMs`. */
  until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onArrival = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.off('arrival', onArrival);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('arrival', onArrival);
        const missing = this.missing();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}: ${this.distinct} distinct arrived, missing ` +
              `${missing.length} (${missing.slice(0, 5).join(', ')}…), duplicated ${this.duplicates().length}`,
          ),
        );
      }, timeoutMs);
      this.on('arrival', onArrival);
    });
  }
}

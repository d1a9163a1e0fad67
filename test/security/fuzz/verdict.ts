/** What counts as a finding in a fuzz summary, shared by `npm run fuzz` and the `npm test` slice. */
import type { FuzzSummary } from './run';

/**
 * Heap growth allowed between the baseline (after the warm-up) and the end of a run, after a forced GC. Large
 * enough for V8's own jitter (code caches, inline caches, pooled buffers), small against a leak: a leak of one
 * endpoint, stream or buffered packet per case over thousands of cases exceeds it.
 */
export const HEAP_TOLERANCE_BYTES = 8 * 1024 * 1024;

export function problemsOf(summary: FuzzSummary): string[] {
  const problems: string[] = [];
  if (summary.crashes > 0) problems.push(`${summary.crashes} crash(es)`);
  if (summary.hangs > 0) problems.push(`${summary.hangs} hang(s)`);
  if (summary.unhandledRejections > 0) problems.push(`${summary.unhandledRejections} unhandled rejection(s)`);
  if (summary.liveEndpoints > 0) problems.push(`${summary.liveEndpoints} endpoint(s) still open`);
  if (summary.liveStreams > 0) problems.push(`${summary.liveStreams} stream(s) still open`);
  const growth = summary.heapAfterBytes - summary.heapBeforeBytes;
  if (growth > HEAP_TOLERANCE_BYTES) problems.push(`heap grew by ${growth} bytes`);
  return problems;
}

import v8 from 'node:v8';
import { type ProcessStart, startedWith, thisProcess } from './node-options';

/** What `limitOldGenerationGrowth` did: applied (and how to undo it), or left V8 alone, and why. */
export type OldGenerationGrowth =
  | { readonly applied: true; readonly percent: number; stop(): void }
  | { readonly applied: false; readonly reason: 'off' | 'node-option' };

/** The range accepted besides 0: V8's own factor moves between 1.1 and 4 (10 % and 300 %). */
export const MIN_HEAP_GROWTH_PERCENT = 10;
export const MAX_HEAP_GROWTH_PERCENT = 300;

const NODE_OPTION = '--heap-growing-percent';

/**
 * Lets V8's old generation grow by at most `percent` past what survived the last full collection before it
 * starts the next one (0 leaves V8's own factor). V8 picks that factor from its collection and allocation
 * speeds, between 1.1 and 4: at a gateway's throughput it lets the old generation fill to two or three times
 * its live size with messages promoted while in flight and dead soon after, and the RSS follows. A smaller
 * factor collects that garbage sooner, in full collections that are cheap while little is alive.
 *
 * V8 reads the factor at the end of each full collection, so setting it at run time takes effect from the next
 * one. Process-wide: the `dragoman` CLI applies it (`--heap-growth`); a host that embeds `startGateway` decides
 * for its own process. Left alone when Node was started with `--heap-growing-percent` (the operator chose).
 */
export function limitOldGenerationGrowth(
  percent: number,
  started: ProcessStart = thisProcess(),
): OldGenerationGrowth {
  if (!isHeapGrowthPercent(percent)) {
    throw new RangeError(
      `percent must be 0 or an integer from ${MIN_HEAP_GROWTH_PERCENT} to ${MAX_HEAP_GROWTH_PERCENT}, got ${percent}`,
    );
  }
  if (percent === 0) return { applied: false, reason: 'off' };
  if (startedWith(NODE_OPTION, started)) return { applied: false, reason: 'node-option' };

  v8.setFlagsFromString(`${NODE_OPTION}=${percent}`);
  let applied = true;
  return {
    applied: true,
    percent,
    stop(): void {
      if (applied) v8.setFlagsFromString(`${NODE_OPTION}=0`);
      applied = false;
    },
  };
}

/** 0 (V8's own factor) or a whole percentage V8's factor could take itself. */
export function isHeapGrowthPercent(percent: number): boolean {
  return (
    percent === 0 ||
    (Number.isInteger(percent) && percent >= MIN_HEAP_GROWTH_PERCENT && percent <= MAX_HEAP_GROWTH_PERCENT)
  );
}

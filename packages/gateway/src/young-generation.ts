import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { type ProcessStart, startedWith, thisProcess } from './node-options';

/** What `limitYoungGeneration` did: applied (and how to stop it), or left V8 alone, and why. */
export type YoungGenerationLimit =
  | { readonly applied: true; readonly maxSemiSpaceMiB: number; stop(): void }
  | { readonly applied: false; readonly reason: 'off' | 'node-option' };

const MIB = 1024 * 1024;
const NODE_OPTION = '--max-semi-space-size';

/**
 * Keeps V8's young generation at most `maxSemiSpaceMiB` per semi-space (a power of two; 0 leaves V8's own
 * sizing). V8 starts a semi-space at 1 MiB and doubles it after a scavenge in which much survived, up to
 * 16 MiB on 64-bit Node 20: at a gateway's throughput, with every in-flight message surviving a scavenge or
 * two, it gets there, and its two semi-spaces alone hold 32 MiB of RSS. Node's `--max-semi-space-size` bounds
 * it only from the process's start; V8 reads its growth factor at each growth, so this keeps that factor at 1
 * (no growth) once one more doubling would pass the bound, and at V8's 2 below it. It is read after each
 * collection ('gc' performance entries, delivered after the collection), so a burst of scavenges within one
 * callback can still grow it one step past the bound before it is held.
 *
 * Process-wide: the `dragoman` CLI applies it (`--max-semi-space`); a host that embeds `startGateway` decides
 * for its own process. Left alone when Node was started with `--max-semi-space-size` (the operator chose).
 */
export function limitYoungGeneration(
  maxSemiSpaceMiB: number,
  started: ProcessStart = thisProcess(),
): YoungGenerationLimit {
  if (!isSemiSpaceBound(maxSemiSpaceMiB)) {
    throw new RangeError(`maxSemiSpaceMiB must be 0 or a power of two, got ${maxSemiSpaceMiB}`);
  }
  if (maxSemiSpaceMiB === 0) return { applied: false, reason: 'off' };
  if (startedWith(NODE_OPTION, started)) return { applied: false, reason: 'node-option' };

  const bound = maxSemiSpaceMiB * MIB;
  let factor = 2;
  const hold = (): void => {
    const newSpace = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    if (newSpace === undefined) return;
    // Node 20 reports both semi-spaces as the new space's size.
    const semiSpace = newSpace.space_size / 2;
    const wanted = semiSpace * 2 <= bound ? 2 : 1;
    if (wanted === factor) return;
    factor = wanted;
    v8.setFlagsFromString(`--semi-space-growth-factor=${wanted}`);
  };
  const observer = new PerformanceObserver(hold);
  observer.observe({ entryTypes: ['gc'] });
  hold();
  return {
    applied: true,
    maxSemiSpaceMiB,
    stop(): void {
      observer.disconnect();
      if (factor !== 2) v8.setFlagsFromString('--semi-space-growth-factor=2');
      factor = 2;
    },
  };
}

/** 0 or a power of two: a bound V8's doublings can stop at. */
export function isSemiSpaceBound(mib: number): boolean {
  return mib === 0 || Number.isInteger(Math.log2(mib));
}

// Run as a child process by old-generation.test.ts: allocates in short turns, as a server does, and keeps each
// turn's objects for a few turns (long enough to be promoted, then dead), then prints the old generation's
// largest size in MiB. argv[2]: the growth percent to apply, or 'none'.
import v8 from 'node:v8';
import { limitOldGenerationGrowth } from '../../src/old-generation';

const percent = process.argv[2];
const growth = percent === 'none' ? undefined : limitOldGenerationGrowth(Number(percent));
const oldSpaceMiB = (): number =>
  (v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_size ?? 0) / 1048576;

/** What stays alive throughout: a server's sessions and subscriptions. */
const resident = Array.from({ length: 100_000 }, (_, i) => ({ id: i, name: `client-${i}` }));
const inFlight: unknown[][] = [];
let largest = oldSpaceMiB();
let turns = 0;
function turn(): void {
  const made: unknown[] = [];
  for (let i = 0; i < 20_000; i++) made.push({ id: i, payload: [i, i + 1, i + 2] });
  inFlight.push(made);
  if (inFlight.length > 8) inFlight.shift();
  largest = Math.max(largest, oldSpaceMiB());
  if (++turns < 400) setImmediate(turn);
  else {
    growth?.applied && growth.stop();
    process.stdout.write(
      `${JSON.stringify({ applied: growth?.applied ?? false, largestOldSpaceMiB: largest, resident: resident.length })}\n`,
    );
  }
}
turn();

// Run as a child process by young-generation.test.ts: allocates in short turns, as a server does, keeping
// about a third of what it makes for a while (so that V8 grows its young generation), then prints the
// young generation's largest size in MiB. argv[2]: the bound to apply, or 'none'.
import v8 from 'node:v8';
import { limitYoungGeneration } from '../../src/young-generation';

const bound = process.argv[2];
const limit = bound === 'none' ? undefined : limitYoungGeneration(Number(bound));
const newSpaceMiB = (): number =>
  (v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0) / 1048576;

let largest = newSpaceMiB();
let kept: unknown[] = [];
let turns = 0;
function turn(): void {
  for (let i = 0; i < 20_000; i++) {
    const made = { id: i, payload: [i, i + 1, i + 2] };
    if (i % 3 === 0) kept.push(made);
  }
  if (kept.length > 300_000) kept = [];
  largest = Math.max(largest, newSpaceMiB());
  if (++turns < 400) setImmediate(turn);
  else {
    limit?.applied && limit.stop();
    process.stdout.write(
      `${JSON.stringify({ applied: limit?.applied ?? false, largestNewSpaceMiB: largest })}\n`,
    );
  }
}
turn();

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { limitYoungGeneration } from '../src/young-generation';

const child = fileURLToPath(new URL('./support/young-generation-child.ts', import.meta.url));

async function largestNewSpace(bound: string): Promise<{ applied: boolean; largestNewSpaceMiB: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, bound], {
    timeout: 60_000,
  });
  return JSON.parse(stdout) as { applied: boolean; largestNewSpaceMiB: number };
}

describe('limitYoungGeneration', () => {
  it('keeps the young generation of a busy process within the bound; V8 alone grows it past', async () => {
    const free = await largestNewSpace('none');
    const bounded = await largestNewSpace('2');
    // Node 20 reports the new space as both semi-spaces: 2 MiB each is 4 MiB.
    expect(free.largestNewSpaceMiB).toBeGreaterThan(4);
    expect(bounded.applied).toBe(true);
    expect(bounded.largestNewSpaceMiB).toBeLessThanOrEqual(4);
  }, 120_000);

  it('leaves V8 alone when Node was given --max-semi-space-size, or when the bound is 0', () => {
    expect(
      limitYoungGeneration(4, { execArgv: ['--max-semi-space-size=8'], nodeOptions: undefined }),
    ).toEqual({
      applied: false,
      reason: 'node-option',
    });
    expect(
      limitYoungGeneration(4, { execArgv: [], nodeOptions: '--trace-gc --max-semi-space-size 8' }),
    ).toEqual({
      applied: false,
      reason: 'node-option',
    });
    expect(limitYoungGeneration(0)).toEqual({ applied: false, reason: 'off' });
    expect(() => limitYoungGeneration(3)).toThrow(RangeError);
  });
});

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { limitOldGenerationGrowth } from '../src/old-generation';

const child = fileURLToPath(new URL('./support/old-generation-child.ts', import.meta.url));

async function largestOldSpace(percent: string): Promise<{ applied: boolean; largestOldSpaceMiB: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, percent], {
    timeout: 60_000,
  });
  return JSON.parse(stdout) as { applied: boolean; largestOldSpaceMiB: number };
}

describe('limitOldGenerationGrowth', () => {
  it('keeps the old generation of a busy process nearer its live size than V8 alone does', async () => {
    const free = await largestOldSpace('none');
    const limited = await largestOldSpace('25');
    expect(limited.applied).toBe(true);
    // The child keeps about 10 MiB alive throughout; V8 alone let it reach 170–210 MiB here, 25 % 58–75 MiB.
    expect(limited.largestOldSpaceMiB).toBeLessThan(free.largestOldSpaceMiB * 0.75);
  }, 120_000);

  it('leaves V8 alone when Node was given --heap-growing-percent, or when the percent is 0', () => {
    expect(
      limitOldGenerationGrowth(50, { execArgv: ['--heap-growing-percent=80'], nodeOptions: undefined }),
    ).toEqual({ applied: false, reason: 'node-option' });
    expect(
      limitOldGenerationGrowth(50, { execArgv: [], nodeOptions: '--trace-gc --heap_growing_percent 80' }),
    ).toEqual({ applied: false, reason: 'node-option' });
    expect(limitOldGenerationGrowth(0)).toEqual({ applied: false, reason: 'off' });
  });

  it('refuses a percent V8 would not take', () => {
    for (const percent of [5, 301, 12.5, -1, Number.NaN]) {
      expect(() => limitOldGenerationGrowth(percent)).toThrow(RangeError);
    }
  });
});

/**
 * The load generator's quiet `debug`: after it is imported, the loggers rhea and mqtt-packet make are silent
 * unless DEBUG named them at start, and the ones DEBUG names still write. Run in a child process, because the
 * module changes what `require('debug')` returns for the whole process.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const quietDebug = fileURLToPath(new URL('../bench/support/quiet-debug.ts', import.meta.url));
const run = promisify(execFile);

const PROBE = `
import { createRequire } from 'node:module';
await import(${JSON.stringify(quietDebug)});
const require = createRequire(import.meta.url);
const rheaLog = require('rhea/lib/log.js');
const parserDebug = require('debug')('mqtt-packet:parser');
rheaLog.frames('frames %d', 1);
rheaLog.io('io %d', 2);
parserDebug('parser %d', 3);
const enabledAtStart = { frames: rheaLog.frames.enabled, io: rheaLog.io.enabled, parser: parserDebug.enabled };
// A logger made silent stays silent when its namespace is enabled later; the package's own would wake up.
require('debug').enable('rhea:io');
console.log(JSON.stringify({ ...enabledAtStart, ioEnabledLater: rheaLog.io.enabled }));
`;

async function probe(debug: string): Promise<{ enabled: Record<string, boolean>; logged: string }> {
  const { stdout, stderr } = await run(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '--eval', PROBE],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, DEBUG: debug, DEBUG_COLORS: 'no' },
    },
  );
  return { enabled: JSON.parse(stdout) as Record<string, boolean>, logged: stderr };
}

describe("the generator's quiet debug", () => {
  it('silences the loggers DEBUG does not name', async () => {
    const { enabled, logged } = await probe('');
    expect(enabled).toEqual({ frames: false, io: false, parser: false, ioEnabledLater: false });
    expect(logged).toBe('');
  }, 30_000);

  it('keeps the loggers DEBUG names', async () => {
    const { enabled, logged } = await probe('rhea:frames,mqtt-packet:*');
    expect(enabled).toEqual({ frames: true, io: false, parser: true, ioEnabledLater: false });
    expect(logged).toContain('rhea:frames frames 1');
    expect(logged).toContain('mqtt-packet:parser parser 3');
    expect(logged).not.toContain('io 2');
  }, 30_000);
});

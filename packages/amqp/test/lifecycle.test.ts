import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./child-open-and-close.ts', import.meta.url));

/** Runs the fixture; resolves with its exit code and output once it exits on its own. */
function run(mode: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@dragoman/source', '--import', 'tsx', script, mode],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    // rhea's heartbeat timer would hold a leaking process for two idle time-outs (120 s by default).
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process did not exit by itself; output: ${output}`));
    }, 25_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('lifecycle', () => {
  it('a process that closed its connection and listener exits by itself', async () => {
    const { code, output } = await run('client-first');
    expect(output).toContain('closed');
    expect(code).toBe(0);
  });

  it('also when the listener went first and the client was reconnecting', async () => {
    const { code, output } = await run('listener-first');
    expect(output).toContain('closed');
    expect(code).toBe(0);
  });
});

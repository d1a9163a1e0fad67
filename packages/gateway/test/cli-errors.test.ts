/**
 * Bad configuration: the built `dragoman` command prints one line on stderr and exits with code 2, before or
 * instead of serving anything. Also --help and --version.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../src/index';
import { assertBuilt, Dragoman, freePort } from './support/process';

/** Free ports for every listener, so that only the setting under test can fail. */
async function freeListeners(): Promise<string[]> {
  return [
    '--mqtt',
    `127.0.0.1:${await freePort()}`,
    '--ws',
    `127.0.0.1:${await freePort()}`,
    '--amqp-listen',
    `127.0.0.1:${await freePort()}`,
  ];
}

async function runToExit(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const dragoman = new Dragoman([...args, '--log-format', 'json'], env);
  try {
    const exit = await dragoman.exit(20_000);
    return { code: exit.code, stderr: dragoman.stderr, stdout: dragoman.stdout };
  } finally {
    await dragoman.kill();
  }
}

function expectOneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((line) => line !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^dragoman: /);
  expect(lines[0]).toMatch(pattern);
}

describe('dragoman with bad configuration exits 2 with one line on stderr', () => {
  let blocker: Server;
  let blockedPort: number;
  let dir: string;

  beforeAll(async () => {
    assertBuilt();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    blockedPort = (blocker.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'dragoman-cli-'));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });

  it('MQTT port in use', async () => {
    const args = await freeListeners();
    args[1] = `127.0.0.1:${blockedPort}`;
    const { code, stderr } = await runToExit(args);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, new RegExp(`--mqtt 127\\.0\\.0\\.1:${blockedPort}: address already in use`));
  });

  it('embedded AMQP port in use', async () => {
    const args = await freeListeners();
    args[5] = `127.0.0.1:${blockedPort}`;
    const { code, stderr } = await runToExit(args);
    expect(code).toBe(2);
    expectOneErrorLine(
      stderr,
      new RegExp(`--amqp-listen 127\\.0\\.0\\.1:${blockedPort}: address already in use`),
    );
  });

  it('unreadable certificate', async () => {
    const missing = join(dir, 'no-such-cert.pem');
    const { code, stderr } = await runToExit([
      ...(await freeListeners()),
      '--mqtt-cert',
      missing,
      '--mqtt-key',
      missing,
    ]);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /--mqtt-cert .*no-such-cert\.pem: cannot read the file \(ENOENT\)/);
  });

  it('a certificate file that is not PEM', async () => {
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    const { code, stderr } = await runToExit([
      ...(await freeListeners()),
      '--ws-cert',
      junk,
      '--ws-key',
      junk,
    ]);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /--ws-cert .*junk\.pem .*not a usable PEM certificate and key/);
  });

  it('unknown option', async () => {
    const { code, stderr } = await runToExit(['--mqtt-port', '1883']);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /unknown option '?--mqtt-port'?/);
  });

  it('malformed AMQP URL', async () => {
    const { code, stderr } = await runToExit(['--amqp', 'amqp//broker:5672']);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /--amqp 'amqp\/\/broker:5672': malformed URL/);
  });

  it('AMQP URL with another scheme, password not echoed', async () => {
    const { code, stderr } = await runToExit(['--amqp', 'http://user:secret@broker:5672']);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /unsupported scheme 'http:'/);
    expect(stderr).not.toContain('secret');
  });

  it('bad HOST:PORT', async () => {
    const { code, stderr } = await runToExit(['--mqtt', 'localhost']);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /--mqtt 'localhost': not a HOST:PORT/);
  });

  it('unknown log level, named by the environment variable it came from', async () => {
    const { code, stderr } = await runToExit([], { DRAGOMAN_LOG_LEVEL: 'loud' });
    expect(code).toBe(2);
    expectOneErrorLine(
      stderr,
      /DRAGOMAN_LOG_LEVEL 'loud': expected one of fatal, error, warn, info, debug, trace, silent/,
    );
  });

  it('malformed config file', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ "mqtt": ');
    const { code, stderr } = await runToExit(['--config', file]);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /--config .*bad\.json: not valid JSON/);
  });

  it('hash-password reads a password on stdin and prints a users-file entry', async () => {
    const dragoman = new Dragoman(['hash-password']);
    dragoman.child.stdin?.end('wonderland\n');
    const exit = await dragoman.exit(20_000);
    expect(exit.code).toBe(0);
    const entry = dragoman.stdout.trim();
    expect(entry).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('wonderland', entry)).toBe(true);
  });

  it('unknown command', async () => {
    const { code, stderr } = await runToExit(['serve']);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /unknown command 'serve'/);
  });

  it('--help prints every option and exits 0; --version prints the version', async () => {
    const help = await runToExit(['--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--mqtt HOST:PORT',
      '--ws HOST:PORT',
      '--amqp-listen HOST:PORT',
      '--amqp URL',
      '--metrics HOST:PORT',
      '--store PATH',
      '--config FILE',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    const version = await runToExit(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

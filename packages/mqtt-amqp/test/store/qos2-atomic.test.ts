/**
 * The QoS 2 memory in the stores' LMDB environment: a routing's backlog writes and its remember commit as one
 * transaction (`LmdbBackend.atomically`). A process killed (SIGKILL) inside that transaction leaves neither, one
 * killed after it both; a write that fails in the group fails all of it; a backlog write that fails is reported
 * to `finish`, which then does not remember.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type GroupedResult, LmdbBackend } from '../../src/store/lmdb-backend';
import { resolveStoreOptions } from '../../src/store/options';
import { BackendSessionStore } from '../../src/store/session-store';
import type { MqttMessage } from '../../src/types';

const CHILD = fileURLToPath(new URL('./support/kill-in-transaction.ts', import.meta.url));
const ENTRY = { clientId: 'pub', packetId: 7, fingerprint: 'f7' };
const MESSAGE: MqttMessage = { topic: 'k/t', payload: Buffer.from('seven'), qos: 2, retain: false };

let dir: string;
const open: LmdbBackend[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dragoman-qos2-atomic-'));
});

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  await rm(dir, { recursive: true, force: true });
});

function reopen(): { backend: LmdbBackend; sessions: BackendSessionStore } {
  const backend = new LmdbBackend(dir);
  open.push(backend);
  return { backend, sessions: new BackendSessionStore(backend, resolveStoreOptions({})) };
}

/** Runs the child until it kills itself; resolves with the signal that ended it. */
async function runChild(when: 'in-transaction' | 'after-commit'): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, when], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code, signal] = (await once(child, 'exit', { signal: AbortSignal.timeout(20_000) })) as [
    number | null,
    NodeJS.Signals | null,
  ];
  if (signal === null) throw new Error(`child exited with ${code}: ${stderr}`);
  return signal;
}

/** Routes MESSAGE to `sub` and remembers ENTRY in one group, as the embedded backend does. */
function routeAndRemember(backend: LmdbBackend, sessions: BackendSessionStore) {
  let remembered = false;
  const queued = backend.atomically(
    () => sessions.enqueue('sub', MESSAGE),
    (results: readonly GroupedResult[]) => {
      if (!results.every((r) => r.ok)) return;
      backend.qos2.add(ENTRY);
      remembered = true;
    },
  );
  return { queued, remembered: () => remembered };
}

describe('LmdbBackend.atomically: routed and remembered together, or neither', () => {
  it('a process killed inside the transaction left neither: the re-send is routed once', async () => {
    expect(await runChild('in-transaction')).toBe('SIGKILL');
    const { backend, sessions } = reopen();
    expect(await sessions.get('sub')).toBeDefined();
    expect(await sessions.backlog('sub')).toEqual([]);
    expect(backend.qos2.load()).toEqual([]);

    const resend = routeAndRemember(backend, sessions);
    expect(await resend.queued).toMatchObject({ status: 'queued' });
    expect(resend.remembered()).toBe(true);
    expect((await sessions.backlog('sub')).map((q) => q.message.payload.toString())).toEqual(['seven']);
    expect(backend.qos2.load()).toEqual([ENTRY]);
  }, 30_000);

  it('a process killed after the commit left both: the re-send is known', async () => {
    expect(await runChild('after-commit')).toBe('SIGKILL');
    const { backend, sessions } = reopen();
    expect((await sessions.backlog('sub')).map((q) => q.message.payload.toString())).toEqual(['seven']);
    expect(backend.qos2.load()).toEqual([ENTRY]);
  }, 30_000);

  it('a remember that fails takes the backlog write with it', async () => {
    const { backend, sessions } = reopen();
    await sessions.open('sub', { clean: false });
    const failure = new Error('remember failed');
    const queued = backend.atomically(
      () => sessions.enqueue('sub', MESSAGE),
      () => {
        backend.qos2.add(ENTRY);
        throw failure;
      },
    );
    await expect(queued).rejects.toBe(failure);
    expect(await sessions.backlog('sub')).toEqual([]);
    expect(backend.qos2.load()).toEqual([]);
  });

  it('a backlog write that fails is reported to finish, which then does not remember', async () => {
    const { backend, sessions } = reopen();
    await sessions.open('sub', { clean: false });
    const failure = new Error('disk full');
    const put = backend.backlog.put.bind(backend.backlog);
    let failOnce = true;
    backend.backlog.put = (clientId, seq, record) => {
      if (failOnce) {
        failOnce = false;
        throw failure;
      }
      put(clientId, seq, record);
    };
    const first = routeAndRemember(backend, sessions);
    await expect(first.queued).rejects.toBe(failure);
    expect(first.remembered()).toBe(false);
    expect(backend.qos2.load()).toEqual([]);

    const resend = routeAndRemember(backend, sessions);
    expect(await resend.queued).toMatchObject({ status: 'queued' });
    expect((await sessions.backlog('sub')).map((q) => q.message.payload.toString())).toEqual(['seven']);
    expect(backend.qos2.load()).toEqual([ENTRY]);
  });

  it('transactions outside a group commit on their own, and a group may start none', async () => {
    const { backend, sessions } = reopen();
    await sessions.open('sub', { clean: false });
    let seen: readonly GroupedResult[] | undefined;
    const value = backend.atomically(
      () => 'no writes',
      (results) => {
        seen = results;
        backend.qos2.add(ENTRY);
      },
    );
    expect(value).toBe('no writes');
    expect(await sessions.enqueue('sub', MESSAGE)).toMatchObject({ status: 'queued', seq: 1 });
    expect(seen).toEqual([]);
    expect(backend.qos2.load()).toEqual([ENTRY]);
    expect(() =>
      backend.atomically(
        () =>
          backend.atomically(
            () => 1,
            () => {},
          ),
        () => {},
      ),
    ).toThrow(/does not nest/);
  });

  it('answers in the order started: a group before the lone transactions started after it', async () => {
    const { backend, sessions } = reopen();
    await sessions.open('sub', { clean: false });
    const answers: string[] = [];
    const track = (name: string, answer: Promise<unknown>) =>
      answer.then((result) => answers.push(`${name}:${(result as { seq: number }).seq}`));
    const before = track('before', sessions.enqueue('sub', MESSAGE));
    const grouped = backend.atomically(
      () => track('group', sessions.enqueue('sub', MESSAGE)),
      () => backend.qos2.add(ENTRY),
    );
    const after = [1, 2].map((i) => track(`after${i}`, sessions.enqueue('sub', MESSAGE)));
    const second = backend.atomically(
      () => track('group2', sessions.enqueue('sub', MESSAGE)),
      () => {},
    );
    await Promise.all([before, grouped, ...after, second]);
    expect(answers).toEqual(['before:1', 'group:2', 'after1:3', 'after2:4', 'group2:5']);
  });

  it('a lone transaction that fails while a group is under way rejects with its own error', async () => {
    const { backend, sessions } = reopen();
    await sessions.open('sub', { clean: false });
    const grouped = backend.atomically(
      () => sessions.enqueue('sub', MESSAGE),
      () => backend.qos2.add(ENTRY),
    );
    const failure = new Error('lone failure');
    const lone = backend.transaction(() => {
      throw failure;
    });
    await expect(lone).rejects.toBe(failure);
    expect(await grouped).toMatchObject({ status: 'queued', seq: 1 });
    expect(await sessions.enqueue('sub', MESSAGE)).toMatchObject({ status: 'queued', seq: 2 });
  });
});

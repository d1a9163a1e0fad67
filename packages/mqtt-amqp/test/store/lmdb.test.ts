import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLmdbStores } from '@dragoman/mqtt-amqp';
import { afterAll, describe, expect, it } from 'vitest';
import { describeStoreConformance, ManualClock, message } from './conformance';

const directories: string[] = [];
function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'dragoman-lmdb-'));
  directories.push(directory);
  return directory;
}

afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

describeStoreConformance('lmdb', (options) => openLmdbStores({ ...options, path: freshDirectory() }));

describe('lmdb stores across a restart', () => {
  it('reads back sessions, the ordered backlog, retained messages and wills after close and reopen', async () => {
    const path = freshDirectory();
    const clock = new ManualClock();
    const first = openLmdbStores({ path, now: clock.now });
    await first.sessions.open('c1', { clean: false });
    await first.sessions.subscribe('c1', [
      ['a/#', { qos: 2, noLocal: true, subscriptionIdentifier: 9 }],
      ['b', { qos: 0 }],
    ]);
    for (let i = 0; i < 20; i++) await first.sessions.enqueue('c1', message('a/x', `m${i}`));
    await first.sessions.disconnect('c1');
    await first.retained.set(
      message('a/b', 'kept', { qos: 1, properties: { userProperties: { k: ['1', '2'] } } }),
    );
    await first.retained.set(message('z', 'also'));
    await first.wills.set('c1', message('will/c1', 'gone', { qos: 2 }), { delayInterval: 5 });
    await first.close();

    const second = openLmdbStores({ path, now: clock.now });
    try {
      const resumed = await second.sessions.open('c1', { clean: false });
      expect(resumed.present).toBe(true);
      expect([...resumed.session.subscriptions]).toEqual([
        ['a/#', { qos: 2, noLocal: true, subscriptionIdentifier: 9 }],
        ['b', { qos: 0 }],
      ]);
      const backlog = await second.sessions.backlog('c1');
      expect(backlog.map((q) => q.message.payload.toString())).toEqual(
        Array.from({ length: 20 }, (_, i) => `m${i}`),
      );
      // Sequence numbers keep growing after the restart, so new entries stay behind the old ones.
      const next = await second.sessions.enqueue('c1', message('a/x', 'after'));
      expect(next.status === 'queued' && next.seq > backlog[backlog.length - 1]!.seq).toBe(true);
      expect((await second.sessions.backlog('c1')).at(-1)?.message.payload.toString()).toBe('after');

      expect((await second.retained.match('#')).map((m) => [m.topic, m.payload.toString()])).toEqual([
        ['a/b', 'kept'],
        ['z', 'also'],
      ]);
      expect((await second.retained.get('a/b'))?.properties).toEqual({ userProperties: { k: ['1', '2'] } });
      expect(await second.retained.size()).toBe(2);
      expect(await second.wills.get('c1')).toMatchObject({
        clientId: 'c1',
        delayInterval: 5,
        message: { topic: 'will/c1', qos: 2, retain: false },
      });
    } finally {
      await second.close();
    }
  });
});

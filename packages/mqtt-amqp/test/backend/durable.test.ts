import type { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLmdbStores, type Stores } from '../../src/index';
import { type Fixture, startBackend } from './support/fixture';
import { FrontEnd, next, publishMessage, send, text } from './support/peer';

let dir: string;
const opened: Stores[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dragoman-backend-'));
});

afterEach(async () => {
  for (const stores of opened.splice(0)) await stores.close();
  await rm(dir, { recursive: true, force: true });
});

/** A backend on the LMDB stores at `dir`; `stop` closes the backend, then the stores, as a restart would. */
async function durableBackend(
  options: { restartGraceMs?: number } = {},
): Promise<Fixture & { stop(): Promise<void> }> {
  const stores = openLmdbStores({ path: dir });
  opened.push(stores);
  const f = await startBackend({ store: stores, ...options });
  return {
    ...f,
    async stop() {
      await f.backend.close();
      await stores.close();
      opened.splice(opened.indexOf(stores), 1);
    },
  };
}

describe('durable store (LMDB): a new backend on the same path', () => {
  it('keeps sessions, their backlog and retained messages', async () => {
    const first = await durableBackend();
    const fe = new FrontEnd(await first.peer(), 'durable-1');
    await fe.list();
    await fe.subscribe({ 'd/#': 1 });
    await fe.peer.close();
    const publisher = await (await first.peer()).sender(undefined);
    await send(publisher, publishMessage('d/retained', 'kept', 1, true));
    await send(publisher, publishMessage('d/q', 'queued-1', 1));
    await send(publisher, publishMessage('d/q', 'queued-2', 2));
    await first.stop();

    const second = await durableBackend();
    const again = new FrontEnd(await second.peer(), 'durable-1');
    expect(await again.list()).toEqual({ 'd/#': 1 });
    const inbox = await again.attachPublish(10);
    const backlog = await inbox.take(3);
    expect(backlog.map((r) => text(r.message))).toEqual(['kept', 'queued-1', 'queued-2']);
    for (const r of backlog) r.delivery.accept();

    const newcomer = new FrontEnd(await second.peer(), 'durable-2');
    await newcomer.list();
    const newInbox = await newcomer.attachPublish(10);
    await newcomer.subscribe({ 'd/+': 0 });
    const [retained] = await newInbox.take(1);
    expect(text(retained!.message)).toBe('kept');
    expect(retained?.message.message_annotations?.['x-opt-retain-message']).toBe(true);
    retained?.delivery.accept();
    await second.stop();
  });

  it('loses nothing it accepted for a connected but slow client when it stops', async () => {
    const first = await durableBackend();
    const fe = new FrontEnd(await first.peer(), 'slow-durable');
    await fe.list();
    await fe.subscribe({ 'slow/#': 1 });
    const inbox = await fe.attachPublish(2);
    const publisher = await (await first.peer()).sender('slow/x');
    for (let i = 0; i < 10; i++) {
      expect((await send(publisher, publishMessage('slow/x', `m${i}`, 1))).state).toBe('accepted');
    }
    // Two reached the client, unacknowledged; the rest wait for credit.
    await inbox.take(2);
    await first.stop();

    const second = await durableBackend();
    const again = new FrontEnd(await second.peer(), 'slow-durable');
    await again.list();
    const inbox2 = await again.attachPublish(20);
    const all = await inbox2.take(10);
    expect(all.map((r) => text(r.message))).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    for (const r of all) r.delivery.accept();
    await second.stop();
  });

  it('publishes, after the grace time, the wills of clients that do not come back, and not of those that do', async () => {
    const first = await durableBackend();
    const watcherSession = new FrontEnd(await first.peer(), 'watcher');
    await watcherSession.list();
    await watcherSession.subscribe({ 'status/#': 1 });
    const gone = new FrontEnd(await first.peer(), 'gone');
    await gone.setWill('status/gone', 'offline');
    const back = new FrontEnd(await first.peer(), 'back');
    await back.setWill('status/back', 'offline');
    // The backend stops while both clients are connected: nothing is published, the wills stay stored.
    expect(first.backend.stats().wills.published).toBe(0);
    await first.stop();

    const second = await durableBackend({ restartGraceMs: 1_500 });
    expect(second.backend.stats().wills).toMatchObject({ wills: 2, pending: 2 });
    const returning = new FrontEnd(await second.peer(), 'back');
    await returning.attachWillLink();
    await returning.list();
    expect(second.backend.stats().wills.pending).toBe(1);

    const [clientId] = await next<[string]>(second.backend as unknown as EventEmitter, 'willPublished');
    expect(clientId).toBe('gone');
    expect(second.backend.stats().wills).toMatchObject({ published: 1, pending: 0 });

    // The subscriber, also back, finds the will in its backlog.
    const watcher = new FrontEnd(await second.peer(), 'watcher');
    await watcher.list();
    const inbox = await watcher.attachPublish(10);
    const [will] = await inbox.take(1);
    expect(will?.message.to).toBe('status/gone');
    expect(text(will!.message)).toBe('offline');
    will?.delivery.accept();
    await second.stop();
  });
});

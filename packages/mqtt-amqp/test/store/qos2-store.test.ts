import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf, UnreleasedQos2 } from '../../src/backend/unreleased-qos2';
import { createMemoryQos2Store, openLmdbQos2Store, type Qos2Store } from '../../src/store/qos2-store';

const entry = (clientId: string, packetId: number) => ({ clientId, packetId, fingerprint: `f${packetId}` });

describe('LMDB QoS 2 store', () => {
  let dir: string;
  const open: Qos2Store[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dragoman-qos2-store-'));
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const reopen = async (store?: Qos2Store): Promise<Qos2Store> => {
    if (store !== undefined) {
      open.splice(open.indexOf(store), 1);
      await store.close();
    }
    const next = openLmdbQos2Store({ path: join(dir, 'qos2') });
    open.push(next);
    return next;
  };

  it('gives back what was added and not removed, oldest first, after a reopen', async () => {
    const longId = 'c'.repeat(5_000);
    let store = await reopen();
    store.add(entry('b', 2));
    store.add(entry('a', 1));
    store.add(entry(longId, 3));
    store.add(entry('a', 4));
    store.add(entry('b', 5));
    store.remove('a', 1);
    store.add(entry('b', 2)); // moved to the newest end
    store = await reopen(store);
    expect(store.load()).toEqual([entry(longId, 3), entry('a', 4), entry('b', 5), entry('b', 2)]);
    store.clear('b');
    store.clear(longId);
    store = await reopen(store);
    expect(store.load()).toEqual([entry('a', 4)]);
  });
});

describe('UnreleasedQos2 (the backend memory over a store)', () => {
  it('is bounded in total: the oldest entry of any client goes first', () => {
    const unreleased = new UnreleasedQos2(createMemoryQos2Store(), { maxPerClient: 10, max: 3 });
    unreleased.add('a', 1, 'f');
    unreleased.add('b', 1, 'f');
    unreleased.add('a', 2, 'f');
    unreleased.add('c', 1, 'f');
    expect(unreleased.has('a', 1)).toBe(false);
    expect([unreleased.has('b', 1), unreleased.has('a', 2), unreleased.has('c', 1)]).toEqual([
      true,
      true,
      true,
    ]);
    expect(unreleased.size).toBe(3);
    expect(unreleased.evicted).toBe(1);
  });

  it('takes a publication for a re-send only with the same content under the same packet id', () => {
    const unreleased = new UnreleasedQos2(createMemoryQos2Store(), { maxPerClient: 10, max: 10 });
    const message = { topic: 't', payload: Buffer.from('p'), retain: false };
    const fingerprint = fingerprintOf(message);
    const entry = unreleased.add('a', 1, fingerprint);
    expect(unreleased.resent({ clientId: 'a', packetId: 1, fingerprint })).toBe(entry);
    expect(unreleased.resent({ clientId: 'a', packetId: 2, fingerprint })).toBeUndefined();
    expect(unreleased.resent({ clientId: 'b', packetId: 1, fingerprint })).toBeUndefined();
    for (const other of [
      { ...message, topic: 'u' },
      { ...message, payload: Buffer.from('q') },
      { ...message, retain: true },
      { ...message, topic: 'tp', payload: Buffer.alloc(0) },
    ]) {
      const different = fingerprintOf(other);
      expect(different).not.toBe(fingerprint);
      expect(unreleased.resent({ clientId: 'a', packetId: 1, fingerprint: different })).toBeUndefined();
    }
  });

  it('removes an entry only while it is the current one for its packet id', () => {
    const unreleased = new UnreleasedQos2(createMemoryQos2Store(), { maxPerClient: 10, max: 10 });
    const old = unreleased.add('a', 1, 'f');
    const current = unreleased.add('a', 1, 'f');
    unreleased.remove(old);
    expect(unreleased.get('a', 1)).toBe(current);
    unreleased.remove(current);
    expect(unreleased.size).toBe(0);
    expect(unreleased.release('a', 1)).toBe(false);
  });

  it('starts from what the store holds, within the limits', () => {
    const store = createMemoryQos2Store();
    const held = [entry('a', 1), entry('a', 2), entry('a', 3)];
    const removed: number[] = [];
    const unreleased = new UnreleasedQos2(
      { ...store, load: () => held, remove: (_c, id) => removed.push(id) },
      { maxPerClient: 2, max: 10 },
    );
    expect([unreleased.has('a', 1), unreleased.has('a', 2), unreleased.has('a', 3)]).toEqual([
      false,
      true,
      true,
    ]);
    expect(removed).toEqual([1]);
  });
});

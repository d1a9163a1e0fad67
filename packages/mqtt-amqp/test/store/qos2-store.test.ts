import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnreleasedQos2 } from '../../src/backend/unreleased-qos2';
import { createMemoryQos2Store, openLmdbQos2Store, type Qos2Store } from '../../src/store/qos2-store';

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
    store.add('b', 2);
    store.add('a', 1);
    store.add(longId, 3);
    store.add('a', 4);
    store.add('b', 5);
    store.remove('a', 1);
    store.add('b', 2); // moved to the newest end
    store = await reopen(store);
    expect(store.load()).toEqual([
      { clientId: longId, packetId: 3 },
      { clientId: 'a', packetId: 4 },
      { clientId: 'b', packetId: 5 },
      { clientId: 'b', packetId: 2 },
    ]);
    store.clear('b');
    store.clear(longId);
    store = await reopen(store);
    expect(store.load()).toEqual([{ clientId: 'a', packetId: 4 }]);
  });
});

describe('UnreleasedQos2 (the backend memory over a store)', () => {
  it('is bounded in total: the oldest entry of any client goes first', () => {
    const unreleased = new UnreleasedQos2(createMemoryQos2Store(), { maxPerClient: 10, max: 3 });
    unreleased.add('a', 1);
    unreleased.add('b', 1);
    unreleased.add('a', 2);
    unreleased.add('c', 1);
    expect(unreleased.has('a', 1)).toBe(false);
    expect([unreleased.has('b', 1), unreleased.has('a', 2), unreleased.has('c', 1)]).toEqual([
      true,
      true,
      true,
    ]);
    expect(unreleased.size).toBe(3);
    expect(unreleased.evicted).toBe(1);
  });

  it('removes an entry only while it is the current one for its packet id', () => {
    const unreleased = new UnreleasedQos2(createMemoryQos2Store(), { maxPerClient: 10, max: 10 });
    const old = unreleased.add('a', 1);
    const current = unreleased.add('a', 1);
    unreleased.remove(old);
    expect(unreleased.get('a', 1)).toBe(current);
    unreleased.remove(current);
    expect(unreleased.size).toBe(0);
    expect(unreleased.release('a', 1)).toBe(false);
  });

  it('starts from what the store holds, within the limits', () => {
    const store = createMemoryQos2Store();
    const held = [
      { clientId: 'a', packetId: 1 },
      { clientId: 'a', packetId: 2 },
      { clientId: 'a', packetId: 3 },
    ];
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

import { describe, expect, it } from 'vitest';
import { createMemoryStores, type MqttMessage, WillService } from '../../src/index';

const will = (topic: string, text = 'gone'): MqttMessage => ({
  topic,
  payload: Buffer.from(text),
  qos: 1,
  retain: false,
});

/** A will service over memory stores whose publications are recorded; `published` resolves per publication. */
async function harness(options: { restartGraceMs?: number; failPublish?: boolean } = {}) {
  const stores = createMemoryStores();
  const published: Array<[string, MqttMessage]> = [];
  let onPublished: (() => void) | undefined;
  let onError: ((error: unknown) => void) | undefined;
  const start = (restartGraceMs = options.restartGraceMs) =>
    WillService.start({
      store: stores.wills,
      publish: async (message, clientId) => {
        if (options.failPublish === true) throw new Error('network down');
        published.push([clientId, message]);
      },
      ...(restartGraceMs !== undefined ? { restartGraceMs } : {}),
      onPublished: () => onPublished?.(),
      onError: (error) => onError?.(error),
    });
  const nextPublication = () =>
    new Promise<void>((resolve) => {
      onPublished = resolve;
    });
  const nextError = () =>
    new Promise<unknown>((resolve) => {
      onError = resolve;
    });
  return { stores, published, start, nextPublication, nextError };
}

describe('WillService', () => {
  it('publishes on an abrupt detach and drops the will; a clean detach only drops it', async () => {
    const h = await harness();
    const service = await h.start();
    const a = {};
    const b = {};
    service.linkAttached('a', a);
    service.linkAttached('b', b);
    await service.setWill('a', a, will('w/a'), 0);
    await service.setWill('b', b, will('w/b'), 0);
    const publication = h.nextPublication();
    service.linkDetached('a', a, true);
    await publication;
    service.linkDetached('b', b, false);
    expect(h.published.map(([id]) => id)).toEqual(['a']);
    expect(await h.stores.wills.size()).toBe(0);
    service.close();
  });

  it('takeover: the older link decides about the will it set, even after the newer one set its own', async () => {
    const h = await harness();
    const service = await h.start();
    const old = {};
    const current = {};
    service.linkAttached('c', old);
    await service.setWill('c', old, will('w/c', 'old connection'), 0);
    service.linkAttached('c', current);
    await service.setWill('c', current, will('w/c', 'new connection'), 0);
    const publication = h.nextPublication();
    service.linkDetached('c', old, true);
    await publication;
    expect(h.published.map(([, m]) => m.payload.toString())).toEqual(['old connection']);
    expect((await h.stores.wills.get('c'))?.message.payload.toString()).toBe('new connection');
    // The newer link's clean detach drops its own will only.
    service.linkDetached('c', current, false);
    expect(service.stats()).toMatchObject({ wills: 0, published: 1 });
    service.close();
  });

  it("takeover: a newer link that set no will yet does not stop the older link's will", async () => {
    const h = await harness();
    const service = await h.start();
    const old = {};
    service.linkAttached('t', old);
    await service.setWill('t', old, will('w/t'), 0);
    service.linkAttached('t', {});
    const publication = h.nextPublication();
    service.linkDetached('t', old, true);
    await publication;
    expect(h.published.map(([id]) => id)).toEqual(['t']);
    service.close();
  });

  it('after a restart, publishes the wills of clients that do not come back within the grace time', async () => {
    const h = await harness();
    const first = await h.start();
    const link = {};
    first.linkAttached('stays-away', link);
    await first.setWill('stays-away', link, will('w/away'), 0);
    first.linkAttached('returns', link);
    await first.setWill('returns', {}, will('w/returns'), 0);
    first.close();
    // close() publishes nothing: the wills wait for the next start.
    first.linkDetached('stays-away', link, true);
    expect(h.published).toEqual([]);

    const second = await h.start(50);
    expect(second.stats()).toMatchObject({ wills: 2, pending: 2 });
    second.sessionResumed('returns');
    await h.nextPublication();
    expect(h.published.map(([id]) => id)).toEqual(['stays-away']);
    expect(await h.stores.wills.list()).toEqual([]);
    second.close();
  });

  it('keeps a will whose publication failed, for the next start', async () => {
    const h = await harness({ failPublish: true });
    const service = await h.start();
    const link = {};
    service.linkAttached('f', link);
    await service.setWill('f', link, will('w/f'), 0);
    const failed = h.nextError();
    service.linkDetached('f', link, true);
    expect(String(await failed)).toContain('network down');
    expect(await h.stores.wills.get('f')).toBeDefined();
    service.close();
  });

  it('a delayed will waits; a new will set meanwhile is not the one published on AMQP_CLOSE', async () => {
    const h = await harness();
    const service = await h.start();
    const first = {};
    service.linkAttached('d', first);
    await service.setWill('d', first, will('w/d', 'old'), 3600);
    service.linkDetached('d', first, true);
    expect(service.stats().pending).toBe(1);
    const second = {};
    service.linkAttached('d', second);
    await service.setWill('d', second, will('w/d', 'new'), 0);
    const publication = h.nextPublication();
    service.sessionEnded('d');
    await publication;
    expect(h.published.map(([, m]) => m.payload.toString())).toEqual(['old']);
    expect((await h.stores.wills.get('d'))?.message.payload.toString()).toBe('new');
    service.close();
  });
});

/** The bridge's bounded building blocks: LRU, outbound topic aliases, link names, client registry. */
import { describe, expect, it } from 'vitest';
import { ClientRegistry } from '../../src/bridge/client-registry';
import { LinkNames } from '../../src/bridge/link-names';
import { LruMap } from '../../src/bridge/lru';
import { resolveBridgeOptions } from '../../src/bridge/options';
import { OutboundTopicAliases } from '../../src/bridge/topic-aliases';
import { ConfigurationError } from '../../src/errors';

describe('LruMap', () => {
  it('evicts the least recently used entry beyond its capacity', () => {
    const evicted: string[] = [];
    const lru = new LruMap<string, number>(2, (key) => evicted.push(key));
    lru.set('a', 1);
    lru.set('b', 2);
    lru.get('a');
    lru.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect([...lru.values()]).toEqual([1, 3]);
    expect(lru.size).toBe(2);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
  });
});

describe('OutboundTopicAliases', () => {
  it('sends the topic with a new alias once, then the alias alone', () => {
    const aliases = new OutboundTopicAliases(2);
    expect(aliases.resolve('a')).toEqual({ topic: 'a', topicAlias: 1 });
    expect(aliases.resolve('a')).toEqual({ topic: '', topicAlias: 1 });
    expect(aliases.resolve('b')).toEqual({ topic: 'b', topicAlias: 2 });
  });

  it('re-binds the least recently used alias when all are taken, never exceeding the maximum', () => {
    const aliases = new OutboundTopicAliases(2);
    aliases.resolve('a');
    aliases.resolve('b');
    aliases.resolve('a');
    const c = aliases.resolve('c');
    expect(c).toEqual({ topic: 'c', topicAlias: 2 });
    expect(aliases.resolve('b')).toEqual({ topic: 'b', topicAlias: 1 });
  });

  it('is off when the client allows no aliases', () => {
    const aliases = new OutboundTopicAliases(0);
    expect(aliases.enabled).toBe(false);
    expect(aliases.resolve('a')).toEqual({ topic: 'a', topicAlias: undefined });
  });
});

describe('LinkNames', () => {
  it('keeps names unique on a connection, even when a client id looks like a derived name', () => {
    const names = new LinkNames();
    expect(names.claimDerived('a', 'publish')).toBe('a/publish');
    expect(names.claimExact('a/publish')).toBe(false);
    expect(names.claimExact('b')).toBe(true);
    expect(names.claimDerived('a', 'publish')).toBe('a/publish~2');
    names.release('a/publish');
    expect(names.claimExact('a/publish')).toBe(true);
  });
});

describe('ClientRegistry', () => {
  it('ends the previous owner and resolves only once every previous owner has released', async () => {
    const registry = new ClientRegistry<{ takeOver(): void; released: Promise<void>; name: string }>();
    const ended: string[] = [];
    const release: Record<string, () => void> = {};
    const gate = (name: string) =>
      new Promise<void>((resolve) => {
        release[name] = resolve;
      });
    const make = (name: string) => ({ name, takeOver: () => ended.push(name), released: gate(name) });
    const first = make('first');
    await registry.claim('id', first);
    const second = make('second');
    let secondReady = false;
    const secondClaim = registry.claim('id', second).then(() => {
      secondReady = true;
    });
    const third = make('third');
    let thirdReady = false;
    const thirdClaim = registry.claim('id', third).then(() => {
      thirdReady = true;
    });
    expect(ended).toEqual(['first', 'second']);
    release.second?.();
    await Promise.resolve();
    await Promise.resolve();
    expect(thirdReady).toBe(false);
    release.first?.();
    await secondClaim;
    await thirdClaim;
    expect(secondReady && thirdReady).toBe(true);
    expect(registry.current('id')).toBe(third);
    registry.release('id', second);
    expect(registry.current('id')).toBe(third);
    registry.release('id', third);
    expect(registry.size).toBe(0);
  });
});

describe('resolveBridgeOptions', () => {
  it('fills in the documented defaults', () => {
    expect(resolveBridgeOptions({ amqp: { url: 'amqp://localhost' } })).toMatchObject({
      connectionMode: 'pooled',
      poolSize: 2,
      credentials: 'gateway',
      connectTimeoutMs: 8_000,
      stepTimeoutMs: 10_000,
      maxPublishLinksPerClient: 32,
      maxKeepAliveSeconds: 3_600,
      subscribeFailureReasonCode: 0x80,
      sendWillClear: false,
      outboundTopicAliases: false,
    });
  });

  it.each([
    [{ poolSize: 0 }, 'poolSize'],
    [{ credentials: 'client' as const }, 'credentials'],
    [{ subscribeFailureReasonCode: 0x10 }, 'subscribeFailureReasonCode'],
    [{ maxPublishLinksPerClient: 1.5 }, 'maxPublishLinksPerClient'],
    [{ connectionMode: 'shared' as never }, 'connectionMode'],
  ])('refuses %o with a ConfigurationError naming %s', (bad, option) => {
    let error: unknown;
    try {
      resolveBridgeOptions({ amqp: { url: 'amqp://localhost' }, ...bad });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(option);
  });
});

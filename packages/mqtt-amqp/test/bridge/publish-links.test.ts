/** The per-client LRU of topic links: bounded, and never detaching a link with deliveries in flight. */
import type { Sender } from '@dragoman/amqp';
import { describe, expect, it } from 'vitest';
import { PublishLinks, type TopicLink, type TopicLinkKind } from '../../src/bridge/publish-links';

function fakeLink(address: string, kind: TopicLinkKind): TopicLink {
  const sender = { isClosed: false, credit: 1 } as unknown as Sender;
  return { sender, address, kind, name: `${kind}:${address}` };
}

describe('PublishLinks', () => {
  it('detaches the least recently used link beyond the bound, and re-attaches it on use', async () => {
    const opened: string[] = [];
    const closed: string[] = [];
    const links = new PublishLinks({
      max: 2,
      open: async (address, kind) => {
        opened.push(address);
        return fakeLink(address, kind);
      },
      close: (link) => closed.push(link.address),
    });
    await links.get('a', 'qos01');
    await links.get('b', 'qos01');
    await links.get('a', 'qos01');
    await links.get('c', 'qos01');
    await Promise.resolve();
    expect(closed).toEqual(['b']);
    expect(links.size).toBe(2);
    await links.get('b', 'qos01');
    expect(opened).toEqual(['a', 'b', 'c', 'b']);
  });

  it('keeps an evicted link attached until its deliveries have their outcome', async () => {
    const closed: string[] = [];
    const links = new PublishLinks({
      max: 1,
      open: async (address, kind) => fakeLink(address, kind),
      close: (link) => closed.push(link.address),
    });
    let settle!: () => void;
    const inFlight = links.use('slow', 'qos01', () => new Promise<void>((resolve) => (settle = resolve)));
    await links.get('other', 'qos01');
    await Promise.resolve();
    expect(closed).toEqual([]);
    expect(links.size).toBe(2);
    settle();
    await inFlight;
    await Promise.resolve();
    expect(closed).toEqual(['slow']);
    expect(links.size).toBe(1);
  });

  it('does not cache a failed attach', async () => {
    let attempts = 0;
    const links = new PublishLinks({
      max: 4,
      open: async (address, kind) => {
        attempts++;
        if (attempts === 1) throw new Error('refused');
        return fakeLink(address, kind);
      },
      close: () => {},
    });
    await expect(links.get('x', 'qos2')).rejects.toThrow('refused');
    await expect(links.get('x', 'qos2')).resolves.toMatchObject({ address: 'x', kind: 'qos2' });
    expect(attempts).toBe(2);
  });
});

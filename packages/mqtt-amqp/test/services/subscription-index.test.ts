import { describe, expect, it } from 'vitest';
import { SubscriptionIndex } from '../../src/services/subscription-index';

describe('SubscriptionIndex', () => {
  it('folds overlapping subscriptions of one client into one delivery at the highest QoS, every identifier', () => {
    const index = new SubscriptionIndex(() => true);
    index.add('c', 'a/#', { qos: 0, subscriptionIdentifier: 7 });
    index.add('c', 'a/+', { qos: 2, subscriptionIdentifier: 3 });
    index.add('c', 'a/b', { qos: 1 });
    index.add('d', 'a/b', { qos: 1, retainAsPublished: true });
    const deliveries = [...index.match('a/b', undefined)].sort((x, y) =>
      x.clientId.localeCompare(y.clientId),
    );
    expect(deliveries).toEqual([
      { clientId: 'c', qos: 2, subscriptionIdentifiers: [3, 7], retainAsPublished: false },
      { clientId: 'd', qos: 1, subscriptionIdentifiers: [], retainAsPublished: true },
    ]);
  });

  it('does not match $ topics with a leading wildcard', () => {
    const index = new SubscriptionIndex(() => true);
    index.add('c', '#', { qos: 0 });
    index.add('c', '+/x', { qos: 0 });
    expect(index.match('$SYS/x', undefined)).toEqual([]);
    index.add('c', '$SYS/#', { qos: 1 });
    expect(index.match('$SYS/x', undefined).map((d) => d.qos)).toEqual([1]);
  });

  it('leaves out the publisher where a subscription has no-local', () => {
    const index = new SubscriptionIndex(() => true);
    index.add('me', 'chat/#', { qos: 1, noLocal: true });
    index.add('you', 'chat/#', { qos: 1, noLocal: true });
    expect(index.match('chat/1', 'me').map((d) => d.clientId)).toEqual(['you']);
    expect(index.match('chat/1', undefined)).toHaveLength(2);
  });

  it('gives each shared group one copy, round-robin over connected members first', () => {
    const connected = new Set(['w1', 'w2']);
    const index = new SubscriptionIndex((id) => connected.has(id));
    for (const id of ['w1', 'w2', 'w3']) index.add(id, '$share/g/jobs/#', { qos: 1 });
    index.add('w1', '$share/h/jobs/#', { qos: 0 });
    index.add('w1', 'jobs/#', { qos: 0 });
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const deliveries = index.match('jobs/a', undefined);
      // w1's own subscription, group h (only w1), group g (one member).
      expect(deliveries).toHaveLength(3);
      picks.push((deliveries.find((d) => d.qos === 1) as { clientId: string }).clientId);
    }
    expect(picks).toEqual(['w1', 'w2', 'w1', 'w2']);
    connected.clear();
    const offline = new Set<string>();
    for (let i = 0; i < 3; i++) {
      offline.add(
        (index.match('jobs/a', undefined).find((d) => d.qos === 1) as { clientId: string }).clientId,
      );
    }
    expect([...offline].sort()).toEqual(['w1', 'w2', 'w3']);
  });

  it('looks without advancing the turns: the next match picks the member it showed', () => {
    const index = new SubscriptionIndex(() => true);
    index.add('m1', '$share/g/s/#', { qos: 1 });
    index.add('m2', '$share/g/s/#', { qos: 1 });
    const peeked = index.match('s/x', undefined, false).map((d) => d.clientId);
    expect(index.match('s/x', undefined, false).map((d) => d.clientId)).toEqual(peeked);
    expect(index.match('s/x', undefined).map((d) => d.clientId)).toEqual(peeked);
    expect(index.match('s/x', undefined).map((d) => d.clientId)).not.toEqual(peeked);
  });

  it('forgets removed subscriptions, shared ones included', () => {
    const index = new SubscriptionIndex(() => true);
    index.add('c', 'a/b', { qos: 1 });
    index.add('c', '$share/g/a/b', { qos: 1 });
    index.remove('c', 'a/b');
    expect(index.match('a/b', undefined)).toHaveLength(1);
    index.remove('c', '$share/g/a/b');
    expect(index.match('a/b', undefined)).toEqual([]);
    expect(index.size).toBe(0);
  });

  it('answers a repeated match from the subscriptions as they are now, for that publisher', () => {
    const index = new SubscriptionIndex(() => true);
    index.add('c', 'a/+', { qos: 1, noLocal: true });
    const ids = (publisher: string | undefined): string[] =>
      index.match('a/b', publisher).map((d) => d.clientId);
    expect(ids(undefined)).toEqual(['c']);
    expect(ids('c')).toEqual([]);
    expect(ids(undefined)).toEqual(['c']);
    index.add('d', 'a/b', { qos: 0 });
    expect(ids(undefined).sort()).toEqual(['c', 'd']);
    index.remove('c', 'a/+');
    expect(ids(undefined)).toEqual(['d']);
    index.add('d', 'a/b', { qos: 2 });
    expect(index.match('a/b', undefined)).toEqual([
      { clientId: 'd', qos: 2, subscriptionIdentifiers: [], retainAsPublished: false },
    ]);
  });

  it('answers publishers taking turns on one topic each for itself, where some subscription has no-local', () => {
    const index = new SubscriptionIndex(() => true);
    index.add('c', 'a/b', { qos: 1 });
    index.add('d', 'a/+', { qos: 1, noLocal: true });
    const ids = (publisher: string | undefined): string[] =>
      [...index.match('a/b', publisher)].map((d) => d.clientId).sort();
    for (let round = 0; round < 3; round++) {
      expect(ids('c')).toEqual(['c', 'd']);
      expect(ids('d')).toEqual(['c']);
      expect(ids('e')).toEqual(['c', 'd']);
    }
    // A single subscription with no-local, asked for by its own client and by another in turn.
    const alone = new SubscriptionIndex(() => true);
    alone.add('d', 'x', { qos: 1, noLocal: true });
    for (let round = 0; round < 3; round++) {
      expect(alone.match('x', 'd')).toEqual([]);
      expect(alone.match('x', 'e').map((d) => d.clientId)).toEqual(['d']);
    }
    // Without no-local, one answer serves every publisher; it still follows the subscriptions.
    const plain = new SubscriptionIndex(() => true);
    plain.add('c', 'x', { qos: 1 });
    expect(plain.match('x', 'p1').map((d) => d.clientId)).toEqual(['c']);
    expect(plain.match('x', 'p2').map((d) => d.clientId)).toEqual(['c']);
    plain.add('p2', 'x', { qos: 1, noLocal: true });
    expect(
      plain
        .match('x', 'p1')
        .map((d) => d.clientId)
        .sort(),
    ).toEqual(['c', 'p2']);
    expect(plain.match('x', 'p2').map((d) => d.clientId)).toEqual(['c']);
  });
});

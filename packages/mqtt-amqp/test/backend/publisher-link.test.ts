import type { Delivery, Receiver } from '@dragoman/amqp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Publication, type PublicationRouter, PublisherLink } from '../../src/backend/publisher-link';

/** The part of a Receiver a PublisherLink uses: credit granted by hand. */
class FakeReceiver {
  credit = 0;
  isOpen = true;
  addCredit(credit: number): void {
    this.credit += credit;
  }
}

/** A router whose subscribers have room for `room` more publications; records what it routes and refuses. */
class CountingRouter implements PublicationRouter {
  room = 0;
  readonly routed: number[] = [];
  readonly refused: number[] = [];
  hasRoom(): boolean {
    return this.room > 0;
  }
  route(publication: Publication, done: () => void): void {
    this.room -= 1;
    this.routed.push(indexOf(publication));
    queueMicrotask(done);
  }
  timedOut(publication: Publication): void {
    this.refused.push(indexOf(publication));
  }
  admit(): undefined {
    return undefined;
  }
}

function publication(index: number): Publication {
  return {
    delivery: { index } as unknown as Delivery,
    message: { topic: 't', payload: Buffer.alloc(0), qos: 1, retain: false },
    publisherId: undefined,
    exactlyOnce: undefined,
  };
}

function indexOf(publication: Publication): number {
  return (publication.delivery as unknown as { index: number }).index;
}

function linkWith(window: number): { link: PublisherLink; router: CountingRouter } {
  const router = new CountingRouter();
  const link = new PublisherLink(new FakeReceiver() as unknown as Receiver, window, router, true);
  return { link, router };
}

describe('PublisherLink: publications waiting for room', () => {
  it('routes them in the order they came, however offers, room and time-outs interleave', () => {
    // Long runs of waiting publications (beyond the queue's compaction point of 64) and many empty-and-refill
    // cycles: every publication is routed or refused exactly once, in order, and `waiting` counts the rest.
    const step = fc.oneof(
      fc.record({ offer: fc.integer({ min: 1, max: 150 }) }),
      fc.record({ room: fc.integer({ min: 0, max: 150 }), max: fc.integer({ min: 1, max: 200 }) }),
      fc.record({ expire: fc.constant(true) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const { link, router } = linkWith(400);
        let offered = 0;
        let now = 0;
        for (const s of steps) {
          now += 10;
          if ('offer' in s) {
            for (let i = 0; i < s.offer; i++) link.offer(publication(offered++), now);
          } else if ('room' in s) {
            router.room = s.room;
            link.resume(now, s.max);
          } else {
            router.room = 0;
            link.expire(now, 10);
          }
          const done = [...router.routed, ...router.refused].sort((a, b) => a - b);
          expect(done).toEqual(Array.from({ length: done.length }, (_, i) => i));
          expect(link.waiting).toBe(offered - done.length);
          expect(link.held).toBe(link.waiting > 0);
        }
        router.room = Number.POSITIVE_INFINITY;
        link.resume(now);
        expect(link.waiting).toBe(0);
        // Routed ones keep their order among themselves (a refused head is simply skipped).
        expect(router.routed).toEqual([...router.routed].sort((a, b) => a - b));
        expect(router.routed.length + router.refused.length).toBe(offered);
      }),
      { numRuns: 200 },
    );
  });

  it('lets go of what waits when closed, and queues anew afterwards', () => {
    const { link, router } = linkWith(100);
    for (let i = 0; i < 90; i++) link.offer(publication(i), 0);
    expect(link.waiting).toBe(90);
    link.close();
    expect(link.waiting).toBe(0);
    expect(link.held).toBe(false);
    router.room = 1;
    link.offer(publication(90), 0);
    expect(router.routed).toEqual([90]);
  });
});

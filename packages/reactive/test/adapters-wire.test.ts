import { type AmqpConnection, connect } from '@dragoman/amqp';
import { type ReceivedMessage, receiverPublisher, toAsyncIterable, toObservable } from '@dragoman/reactive';
import { concatMap, delay, lastValueFrom, map, mergeMap, of, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RheaPeer, startPeer, waitUntil } from './peer';

const MESSAGES = 2_000;
const PREFETCH = 8;

/** Processing that takes a little while: settle, then hand the message on. */
function slowly(received: ReceivedMessage) {
  return of(received).pipe(
    delay(0),
    map((m) => {
      m.accept();
      return (m.message.body as { value: number }).value;
    }),
  );
}

describe('adapters over a receiverPublisher: credit follows the real pace (rhea as the peer)', () => {
  let peer: RheaPeer;
  let connection: AmqpConnection;

  beforeEach(async () => {
    peer = await startPeer();
    connection = await connect({ url: peer.url, reconnect: false });
  });

  afterEach(async () => {
    await connection.close();
    await peer.close();
  });

  it('toObservable + async concatMap keeps the peer at or below `prefetch` unsettled deliveries', async () => {
    peer.script(
      'readings',
      Array.from({ length: MESSAGES }, (_, i) => i),
    );
    const publisher = receiverPublisher(connection, 'readings', { settlement: 'manual' });
    const values = await lastValueFrom(
      toObservable(publisher, { prefetch: PREFETCH }).pipe(concatMap(slowly), take(MESSAGES), toArray()),
    );
    expect(values).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    const link = await peer.senderFor('readings');
    expect(link.sent).toBeGreaterThanOrEqual(MESSAGES);
    expect(link.maxOutstanding).toBeLessThanOrEqual(PREFETCH); // measured at the peer, after every transfer
    expect(link.maxOutstanding).toBeGreaterThan(1); // and the prefetch was really used
  });

  it('toObservable + mergeMap(…, 4) keeps the peer at or below `prefetch` unsettled deliveries', async () => {
    peer.script(
      'readings',
      Array.from({ length: MESSAGES }, (_, i) => i),
    );
    const publisher = receiverPublisher(connection, 'readings', { settlement: 'manual' });
    const values = await lastValueFrom(
      toObservable(publisher, { prefetch: PREFETCH }).pipe(mergeMap(slowly, 4), take(MESSAGES), toArray()),
    );
    expect(values.sort((a, b) => a - b)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    const link = await peer.senderFor('readings');
    expect(link.maxOutstanding).toBeLessThanOrEqual(PREFETCH);
  });

  it('for await over toAsyncIterable accepts each message only after its loop body finished', async () => {
    peer.script(
      'readings',
      Array.from({ length: 500 }, (_, i) => i),
    );
    const processed: number[] = [];
    let earlyOutcomes = 0;
    const link = await (async () => {
      const publisher = receiverPublisher(connection, 'readings'); // automatic settlement
      const iterating = (async () => {
        for await (const received of toAsyncIterable(publisher, { prefetch: 4 })) {
          await new Promise<void>((resolve) => setImmediate(resolve)); // some asynchronous work
          processed.push((received.message.body as { value: number }).value);
          if (processed.length === 500) break;
        }
      })();
      const sender = await peer.senderFor('readings');
      peer.on('outcome', () => {
        if (sender.settled > processed.length) earlyOutcomes += 1;
      });
      await iterating;
      return sender;
    })();
    await waitUntil(peer, 'outcome', () => link.settled === 500);
    expect(earlyOutcomes).toBe(0);
    expect(processed).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(link.maxOutstanding).toBeLessThanOrEqual(4);
  });
});

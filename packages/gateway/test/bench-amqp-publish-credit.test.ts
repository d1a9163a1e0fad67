/**
 * The load generator's AMQP publisher against a rhea target that grants credit by hand: a message is stamped
 * with its send time only once the target has granted the credit it goes out on, so an unthrottled run's
 * latency measures the target's back-pressure, not a queue inside the generator.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import rhea, { type Connection, type EventContext, type Receiver } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { amqpPublish, connectAmqp } from '../bench/e2e/clients';
import { decodePayload } from '../bench/e2e/payload';

const BATCH = 10;
const BATCHES = 3;

let close: (() => void) | undefined;
afterEach(() => close?.());

describe("the generator's AMQP publisher", () => {
  it('stamps each message after the credit it is sent on was granted', async () => {
    const target = rhea.create_container({ id: 'credit-by-hand' });
    // No automatic credit on the links the target accepts (rhea's option, missing from its listen types).
    const options = { host: '127.0.0.1', port: 0, credit_window: 0 };
    const listener = target.listen(options);
    await once(listener, 'listening');
    const grantedAt: number[] = [];
    const sentAt: number[] = [];
    const allReceived = new Promise<void>((resolve) => {
      target.on('receiver_open', (context: EventContext) => {
        const receiver = context.receiver as Receiver;
        grantedAt.push(performance.now());
        receiver.add_credit(BATCH);
      });
      target.on('message', (context: EventContext) => {
        // The generator's body-only decoding (clients.ts) gives the data section's bytes.
        const payload = decodePayload(context.message?.body as Uint8Array);
        if (payload === undefined) throw new Error('a message without the benchmark header');
        sentAt.push(payload.sentAt);
        if (sentAt.length === BATCH * BATCHES) resolve();
        else if (sentAt.length % BATCH === 0) {
          // The next batch's credit, a turn later: what the publisher sends on it must be stamped after this.
          setImmediate(() => {
            grantedAt.push(performance.now());
            context.receiver?.add_credit(BATCH);
          });
        }
      });
    });
    let connection: Connection | undefined;
    close = () => {
      connection?.close();
      listener.close();
    };
    connection = await connectAmqp({ port: (listener.address() as AddressInfo).port }, 'publisher');
    const controller = new AbortController();
    const published = amqpPublish(connection, 'q', {
      publisher: 0,
      count: BATCH * BATCHES,
      size: 64,
      qos: 0,
      rate: undefined,
      signal: controller.signal,
    });
    await allReceived;
    expect(await published).toEqual({ sent: BATCH * BATCHES, failed: 0 });
    expect(grantedAt).toHaveLength(BATCHES);
    sentAt.forEach((at, index) => {
      expect(at, `message ${index}`).toBeGreaterThanOrEqual(grantedAt[Math.floor(index / BATCH)] as number);
    });
  });
});

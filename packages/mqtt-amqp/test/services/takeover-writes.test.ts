/**
 * A message routed to a session that a new connection of the same client replaces while the message is being
 * written to the store: the new session must deliver it, even when its first read of the store came before
 * the write landed (seen after a backend restart: the publisher's first re-sent message raced the
 * subscriber's AMQP_LIST and was never delivered).
 */
import type { AmqpMessage } from '@dragoman/amqp';
import { describe, expect, it } from 'vitest';
import {
  createMemoryStores,
  type MqttMessage,
  type SessionStore,
  SubscriptionService,
} from '../../src/index';
import { RecordingOutlet } from './support/recording-outlet';

const message = (payload: string): MqttMessage => ({
  topic: 't',
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
});

/** The session store with `enqueue` held until `open()` is called. */
function gatedStore(store: SessionStore): { store: SessionStore; open: () => void } {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const gated = new Proxy(store, {
    get(target, property) {
      if (property === 'enqueue') {
        return async (clientId: string, m: MqttMessage) => {
          await gate;
          return target.enqueue(clientId, m);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: gated, open: release };
}

function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      AbortSignal.timeout(ms).addEventListener('abort', () =>
        reject(new Error(`timed out waiting for ${what}`)),
      );
    }),
  ]);
}

describe('SubscriptionService: a session taken over while a message for it is being stored', () => {
  it('delivers that message on the new connection, before the ones routed after it', async () => {
    const stores = createMemoryStores();
    const { store, open } = gatedStore(stores.sessions);
    const ss = await SubscriptionService.start({
      sessions: store,
      retained: stores.retained,
      encode: (delivery) => ({ delivery }) as unknown as AmqpMessage,
      maxInMemoryPerClient: 10,
    });
    await ss.list('c');
    ss.ready('c');
    await ss.subscribe('c', [{ filter: 't', qos: 1 }]);
    await ss.disconnect('c');

    // Routed to the offline session; its write is under way when the client connects again.
    const first = ss.publish(message('first'), undefined);
    await ss.list('c');
    ss.ready('c');
    const outlet = new RecordingOutlet();
    outlet.credit = 10;
    ss.attach('c', outlet);
    await ss.idle(); // the new session has read the store: the first message is not in it yet
    open();
    expect(await first).toEqual({ sessions: 1, refused: 0 });
    await ss.publish(message('second'), undefined);

    await within(outlet.until(2), 'both messages to be sent');
    expect(outlet.sent.map((s) => s.delivery.message.payload.toString())).toEqual(['first', 'second']);
    ss.stop();
  });
});

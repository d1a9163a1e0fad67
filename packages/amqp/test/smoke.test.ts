import { afterEach, describe, expect, it } from 'vitest';
import {
  type AmqpConnection,
  type AmqpListener,
  binaryMessage,
  connect,
  listen,
  payloadOf,
  type Receiver,
} from '../src/index';
import { waitFor } from './helpers';

describe('client and listener', () => {
  let listener: AmqpListener | undefined;
  let client: AmqpConnection | undefined;
  afterEach(async () => {
    await client?.close();
    await listener?.close();
  });

  it('sends a message from a client sender to a listener-side receiver and gets accepted', async () => {
    listener = await listen();
    const received: Promise<Receiver> = new Promise((resolve) => {
      listener?.on('connection', (conn) => {
        conn.on('incomingLink', (link) => resolve(link.acceptReceiver()));
      });
    });
    client = await connect(listener.url, { reconnect: false });
    const sender = await client.openSender('queue-a');
    const receiver = await received;
    expect(receiver.address).toBe('queue-a');
    const sent = sender.send(binaryMessage('hello'));
    const [delivery] = await waitFor<[import('../src/index').Delivery]>(receiver, 'delivery');
    expect(payloadOf(delivery.message).toString()).toBe('hello');
    delivery.accept();
    await expect(sent).resolves.toEqual({ state: 'accepted' });
  });
});

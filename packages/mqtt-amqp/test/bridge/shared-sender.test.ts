/** The shared subscription-service link against a rhea peer that holds its credit back. */
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { type AmqpConnection, connect } from '@dragoman/amqp';
import rhea, { type EventContext, type Receiver } from 'rhea';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LinkNames } from '../../src/bridge/link-names';
import { SharedSender } from '../../src/bridge/shared-sender';

const ADDRESS = '$mqtt.subscriptionservice';

describe('SharedSender', () => {
  let server: Server;
  let connection: AmqpConnection;
  const received: string[] = [];
  const attached: Receiver[] = [];

  beforeEach(async () => {
    received.length = 0;
    attached.length = 0;
    const container = rhea.create_container({ id: 'stingy-peer' });
    container.on('receiver_open', (context: EventContext) => {
      // No credit until the test grants it.
      attached.push(context.receiver as Receiver);
    });
    container.on('message', (context: EventContext) => {
      received.push(String(context.message?.subject));
      context.delivery?.accept();
    });
    server = container.listen({ host: '127.0.0.1', port: 0, credit_window: 0, autoaccept: false } as never);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    connection = await connect({ url: `amqp://127.0.0.1:${port}`, reconnect: false });
  });

  afterEach(async () => {
    await connection.close().catch(() => {});
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('one link for every sender of the connection; a request whose signal aborts while it waits for credit is not sent', async () => {
    const shared = new SharedSender({
      connection,
      names: new LinkNames(),
      address: ADDRESS,
      purpose: 'subscriptions',
      attachTimeoutMs: 5_000,
    });
    await shared.get();
    const gone = new AbortController();
    const dropped = shared.send({ properties: { subject: 'close' } }, gone.signal);
    const kept = shared.send({ properties: { subject: 'list' } });
    gone.abort(new Error('client gone'));
    await expect(dropped).rejects.toThrow('client gone');
    expect(attached).toHaveLength(1);
    attached[0]?.add_credit(10);
    expect((await kept).state).toBe('accepted');
    expect(received).toEqual(['list']);
    expect(attached).toHaveLength(1);
    await shared.close();
  });
});

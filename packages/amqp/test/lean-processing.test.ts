// Our connections' processing rounds (internal/lean-processing.ts) against rhea as the peer: outcomes given in
// one tick reach the peer each as given (dispositions grouped into ranges only where rhea groups them), and a
// session the peer ends is dropped while a new one on the same connection carries on.
import type { Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AmqpConnection, binaryMessage, connect, type Delivery } from '../src/index';
import { bodyText, closeClientAndServer, rhea, rheaListen, until } from './helpers';

interface RheaContext {
  message?: { body?: unknown };
  delivery?: { id: number; accept(): void; remote_state?: unknown };
  sender?: { send(message: unknown): unknown; sendable(): boolean };
  session?: { close(error?: unknown): void };
}

describe('processing rounds against a rhea peer', () => {
  let server: Server | undefined;
  let client: AmqpConnection | undefined;
  afterEach(async () => {
    await closeClientAndServer(client, server);
    client = undefined;
    server = undefined;
  });

  it('outcomes given in one tick reach the peer each as given', async () => {
    const container = rhea.create_container({ id: 'outcome-counter' });
    container.on('disconnected', () => {});
    const bodies = ['a1', 'a2', 'r', 'a3', 'rel', 'a4', 'a5'];
    let sent = 0;
    container.on('sendable', (context: RheaContext) => {
      while (sent < bodies.length && context.sender?.sendable())
        context.sender.send({ body: bodies[sent++] });
    });
    const outcomes = new Map<number, string>();
    for (const name of ['accepted', 'rejected', 'released'] as const) {
      container.on(name, (context: RheaContext) => outcomes.set(context.delivery?.id ?? -1, name));
    }
    const listening = await rheaListen(container);
    server = listening.server;
    client = await connect({ host: '127.0.0.1', port: listening.port, reconnect: false });
    const receiver = await client.openReceiver({ source: 'q', creditWindow: 0 });
    receiver.addCredit(bodies.length);
    const deliveries: Delivery[] = [];
    while (deliveries.length < bodies.length) {
      deliveries.push((await receiver.receive({ signal: AbortSignal.timeout(10_000) })) as Delivery);
    }
    // All in one tick: rhea's round writes them together, as ranges of like outcomes.
    for (const delivery of deliveries) {
      const body = delivery.message.body;
      const text = body?.type === 'value' ? body.value : undefined;
      if (text === 'r') delivery.reject({ condition: 'amqp:invalid-field', description: 'no' });
      else if (text === 'rel') delivery.release();
      else delivery.accept();
    }
    await until(() => outcomes.size === bodies.length);
    expect([...outcomes.entries()].sort((x, y) => x[0] - y[0]).map(([, name]) => name)).toEqual([
      'accepted',
      'accepted',
      'rejected',
      'accepted',
      'released',
      'accepted',
      'accepted',
    ]);
  });

  it('a session the peer ends is dropped, and a new one on the same connection carries on', async () => {
    const container = rhea.create_container({ id: 'session-ender-once' });
    container.on('disconnected', () => {});
    container.on('message', (context: RheaContext) => {
      if (bodyText(context.message?.body) === 'end the session') {
        context.session?.close({ condition: 'amqp:session:window-violation', description: 'once' });
      } else {
        context.delivery?.accept();
      }
    });
    const listening = await rheaListen(container);
    server = listening.server;
    client = await connect({ host: '127.0.0.1', port: listening.port, reconnect: false });
    const first = await client.openSender('q');
    await expect(first.send(binaryMessage('end the session'))).rejects.toMatchObject({
      name: 'LinkClosedError',
    });
    const second = await client.openSender('q');
    expect(await second.send(binaryMessage('still here'))).toEqual({ state: 'accepted' });
    expect(await second.send(binaryMessage('and here'))).toEqual({ state: 'accepted' });
  });
});

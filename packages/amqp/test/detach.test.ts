import { afterEach, describe, expect, it } from 'vitest';
import {
  binaryMessage,
  type CloseInfo,
  ConnectionClosedError,
  LinkClosedError,
  LinkError,
  type Receiver,
} from '../src/index';
import { type Loopback, loopback } from './fixtures';
import { waitFor } from './helpers';

let env: Loopback | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('detach and close', () => {
  it('a receiver detaching with an error: the sender sees a LinkError with condition and description, pending sends fail', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const sender = await env.client.openSender('q');
    const receiver = (await incoming).acceptReceiver({ creditWindow: 0 });
    const pending = sender.send(binaryMessage('stuck'));
    const failure = pending.catch((e: unknown) => e);
    const closed = waitFor<[CloseInfo]>(sender, 'close');
    await receiver.close({ condition: 'amqp:link:detach-forced', description: 'client taken over' });
    const [info] = await closed;
    expect(info.remote).toBe(true);
    expect(info.error).toBeInstanceOf(LinkError);
    expect(info.error?.condition).toBe('amqp:link:detach-forced');
    expect(info.error?.description).toBe('client taken over');
    expect((info.error as LinkError).linkName).toBe(sender.name);
    const error = await failure;
    expect(error).toBeInstanceOf(LinkClosedError);
    expect(error).toMatchObject({ cause: { condition: 'amqp:link:detach-forced' } });
    expect(sender.isClosed).toBe(true);
    expect(receiver.isClosed).toBe(true);
    expect(receiver.closeInfo).toMatchObject({
      remote: false,
      error: { condition: 'amqp:link:detach-forced' },
    });
    await expect(sender.send(binaryMessage('after'))).rejects.toBeInstanceOf(LinkClosedError);
  });

  it('the listener side tells a clean detach from a detach with an error', async () => {
    env = await loopback();
    const incomingA = env.nextIncomingLink();
    const a = await env.client.openSender({ name: 'client-a', target: '$mqtt.willservice' });
    const linkA = await incomingA;
    expect(linkA.name).toBe('client-a');
    const serverA = linkA.acceptReceiver();
    const incomingB = env.nextIncomingLink();
    const b = await env.client.openSender({ name: 'client-b', target: '$mqtt.willservice' });
    const serverB = (await incomingB).acceptReceiver();

    const closedA = waitFor<[CloseInfo]>(serverA, 'close');
    const closedB = waitFor<[CloseInfo]>(serverB, 'close');
    await a.close();
    await b.close({ condition: 'amqp:link:detach-forced', description: 'network lost' });
    const [infoA] = await closedA;
    const [infoB] = await closedB;
    expect(infoA).toEqual({ remote: true, error: undefined });
    expect(infoB.remote).toBe(true);
    expect(infoB.error?.condition).toBe('amqp:link:detach-forced');
  });

  it('iteration throws the peer detach error', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const receiverPromise = env.client.openReceiver('events');
    const sender = (await incoming).acceptSender();
    const receiver: Receiver = await receiverPromise;
    const iterate = (async () => {
      for await (const d of receiver) d.accept();
    })().catch((e: unknown) => Promise.reject(e));
    const iterationFailed = expect(iterate).rejects.toMatchObject({
      condition: 'amqp:resource-deleted',
      description: 'queue deleted',
    });
    await sender.close({ condition: 'amqp:resource-deleted', description: 'queue deleted' });
    await iterationFailed;
  });

  it('our own close ends receive() quietly, even with an error condition; concurrent closes share one detach', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const receiver = await env.client.openReceiver('events');
    const sender = (await incoming).acceptSender();
    const waiting = receiver.receive();
    const peerSaw = waitFor<[CloseInfo]>(sender, 'close');
    const first = receiver.close({ condition: 'amqp:resource-limit-exceeded', description: 'enough' });
    const second = receiver.close();
    await Promise.all([first, second]);
    await expect(waiting).resolves.toBeUndefined();
    await expect(receiver.receive()).resolves.toBeUndefined();
    const [info] = await peerSaw;
    expect(info.error?.condition).toBe('amqp:resource-limit-exceeded');
  });

  it('a link refused inside the incomingLink handler rejects openSender/openReceiver with the LinkError', async () => {
    env = await loopback();
    env.server.prependListener('incomingLink', (link) => {
      link.refuse({ condition: 'amqp:unauthorized-access', description: 'not yours' });
    });
    const opening = env.client.openSender('forbidden');
    await expect(opening).rejects.toBeInstanceOf(LinkError);
    await expect(opening).rejects.toMatchObject({
      condition: 'amqp:unauthorized-access',
      description: 'not yours',
    });
    await expect(env.client.openReceiver('forbidden')).rejects.toMatchObject({
      condition: 'amqp:unauthorized-access',
    });
  });

  it('a link refused later (after the attach went out) closes with the error', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const sender = await env.client.openSender('later');
    const link = await incoming;
    const closed = waitFor<[CloseInfo]>(sender, 'close');
    link.refuse({ condition: 'amqp:not-found', description: 'no such node' });
    const [info] = await closed;
    expect(info.error?.condition).toBe('amqp:not-found');
    expect(() => link.acceptReceiver()).toThrow(LinkClosedError);
  });

  it('a deferred link refused after an asynchronous check rejects the open with the LinkError', async () => {
    env = await loopback();
    env.server.prependListener('incomingLink', (link) => {
      link.defer();
      setImmediate(() => link.refuse({ condition: 'amqp:unauthorized-access', description: 'checked: no' }));
    });
    const opening = env.client.openSender('guarded');
    await expect(opening).rejects.toBeInstanceOf(LinkError);
    await expect(opening).rejects.toMatchObject({
      condition: 'amqp:unauthorized-access',
      description: 'checked: no',
    });
  });

  it('a connection without incomingLink handlers refuses links with amqp:not-found', async () => {
    env = await loopback();
    env.server.removeAllListeners('incomingLink');
    await expect(env.client.openSender('nowhere')).rejects.toMatchObject({ condition: 'amqp:not-found' });
  });

  it('accepting with the wrong role is a typed error', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    void env.client.openSender('q').catch(() => undefined);
    const link = await incoming;
    expect(() => link.acceptSender()).toThrow(/receiver on our side/);
    link.refuse();
  });

  it('closing the connection fails pending sends with ConnectionClosedError and tells the listener side', async () => {
    env = await loopback();
    const incoming = env.nextIncomingLink();
    const sender = await env.client.openSender('q');
    const receiver = (await incoming).acceptReceiver({ creditWindow: 0 });
    const pending = sender.send(binaryMessage('x'));
    const pendingFailed = expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
    const serverClosed = waitFor<[CloseInfo]>(env.server, 'close');
    await env.client.close();
    await pendingFailed;
    await serverClosed;
    expect(receiver.isClosed).toBe(true);
    await expect(env.client.openSender('q')).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('the server can close a client connection with an error condition', async () => {
    env = await loopback();
    const closed = waitFor<[CloseInfo]>(env.client, 'close');
    await env.server.close({ condition: 'amqp:unauthorized-access', description: 'kicked' });
    const [info] = await closed;
    expect(info.remote).toBe(true);
    expect(info.error?.condition).toBe('amqp:unauthorized-access');
    expect(env.client.state).toBe('closed');
  });
});

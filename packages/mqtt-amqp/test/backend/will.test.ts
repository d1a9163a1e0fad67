import type { EventEmitter } from 'node:events';
import type { Message } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { type Backend, createBackend } from '../../src/index';
import { detach, FrontEnd, next, Peer, publishMessage, send, text } from './support/peer';

let backend: Backend | undefined;
const peers: Peer[] = [];

async function start(options: Parameters<typeof createBackend>[0] = {}): Promise<Backend> {
  backend = await createBackend(options);
  return backend;
}

async function peer(): Promise<Peer> {
  if (backend === undefined) throw new Error('no backend');
  const p = await Peer.connect(backend.port);
  peers.push(p);
  return p;
}

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await backend?.close();
  backend = undefined;
});

/**
 * Publishes a marker on `topic` and returns what `watcher` received up to and including it: the backend handles
 * one connection's frames in order, so anything the detach caused has been routed before the marker.
 */
async function upToMarker(watcher: Awaited<ReturnType<Peer['receiver']>>, topic: string): Promise<string[]> {
  const publisher = await (await peer()).sender(topic);
  expect((await send(publisher, publishMessage(topic, 'marker', 1))).state).toBe('accepted');
  const seen: string[] = [];
  for (;;) {
    const [item] = await watcher.take(1);
    if (item === undefined) break;
    item.delivery.accept();
    seen.push(text(item.message));
    if (text(item.message) === 'marker') return seen;
  }
  return seen;
}

describe('Will service', () => {
  it('publishes the will when the will link is detached with an error', async () => {
    const b = await start();
    const watcher = await (await peer()).receiver('wills/a', 10);
    const fe = new FrontEnd(await peer(), 'client-a');
    expect((await fe.setWill('wills/a', 'a went away', { qos: 1, retain: false })).state).toBe('accepted');
    const published = next<[string, unknown]>(b as unknown as EventEmitter, 'willPublished');
    await detach(fe.willLink!, 'amqp:link:detach-forced');
    const [clientId] = await published;
    expect(clientId).toBe('client-a');
    const [will] = await watcher.take(1);
    expect(text(will!.message)).toBe('a went away');
    expect(will!.message.to).toBe('wills/a');
    expect(will!.message.message_annotations?.['x-opt-mqtt-qos']).toBe(1);
    expect(b.stats().wills).toMatchObject({ wills: 0, published: 1 });
  });

  it('publishes the will when the connection is lost without a detach', async () => {
    const b = await start();
    const watcher = await (await peer()).receiver('wills/lost', 10);
    const fe = new FrontEnd(await peer(), 'client-lost');
    await fe.setWill('wills/lost', 'lost', { qos: 0 });
    const published = next(b as unknown as EventEmitter, 'willPublished');
    fe.peer.destroy();
    await published;
    const [will] = await watcher.take(1);
    expect(text(will!.message)).toBe('lost');
  });

  it('does not publish the will on a clean detach', async () => {
    const b = await start();
    const watcher = await (await peer()).receiver('wills/b', 10);
    const fe = new FrontEnd(await peer(), 'client-b');
    await fe.setWill('wills/b', 'b went away');
    expect(b.stats().wills.wills).toBe(1);
    await detach(fe.willLink!);
    expect(await upToMarker(watcher, 'wills/b')).toEqual(['marker']);
    expect(b.stats().wills).toMatchObject({ wills: 0, published: 0 });
  });

  it('does not publish the will after AMQP_WILL_CLEAR, even on an abrupt detach', async () => {
    const b = await start();
    const watcher = await (await peer()).receiver('wills/c', 10);
    const fe = new FrontEnd(await peer(), 'client-c');
    await fe.setWill('wills/c', 'c went away');
    expect((await fe.clearWill()).state).toBe('accepted');
    await detach(fe.willLink!, 'amqp:link:detach-forced');
    expect(await upToMarker(watcher, 'wills/c')).toEqual(['marker']);
    expect(b.stats().wills.published).toBe(0);
  });

  it('replaces the will when AMQP_WILL is sent again', async () => {
    const b = await start();
    const watcher = await (await peer()).receiver('wills/+', 10);
    const fe = new FrontEnd(await peer(), 'client-r');
    await fe.setWill('wills/old', 'old');
    await fe.setWill('wills/new', 'new');
    const published = next(b as unknown as EventEmitter, 'willPublished');
    await detach(fe.willLink!, 'amqp:link:detach-forced');
    await published;
    const [will] = await watcher.take(1);
    expect(will!.message.to).toBe('wills/new');
    expect(text(will!.message)).toBe('new');
  });

  it('waits out the will delay interval before publishing', async () => {
    const b = await start();
    const watcher = await (await peer()).receiver('wills/d', 10);
    const fe = new FrontEnd(await peer(), 'client-d');
    await fe.list();
    await fe.setWill('wills/d', 'delayed', { delay: 1 });
    const published = next(b as unknown as EventEmitter, 'willPublished');
    await detach(fe.willLink!, 'amqp:link:detach-forced');
    // Waiting, not published: a marker published now overtakes it.
    expect(b.stats().wills.pending).toBe(1);
    expect(await upToMarker(watcher, 'wills/d')).toEqual(['marker']);
    await published;
    const [will] = await watcher.take(1);
    expect(text(will!.message)).toBe('delayed');
  });

  it('cancels a delayed will when the client resumes its session in time', async () => {
    const b = await start();
    const watcher = await (await peer()).receiver('wills/e', 10);
    const first = new FrontEnd(await peer(), 'client-e');
    await first.list();
    await first.setWill('wills/e', 'never', { delay: 600 });
    await detach(first.willLink!, 'amqp:link:detach-forced');
    expect(b.stats().wills.pending).toBe(1);
    first.peer.destroy();

    const again = new FrontEnd(await peer(), 'client-e');
    await again.attachWillLink();
    await again.list();
    expect(b.stats().wills).toMatchObject({ pending: 0, published: 0 });
    expect(await upToMarker(watcher, 'wills/e')).toEqual(['marker']);
  });

  it('publishes a delayed will at once when the client comes back with a clean session', async () => {
    const b = await start();
    const watcher = await (await peer()).receiver('wills/f', 10);
    const first = new FrontEnd(await peer(), 'client-f');
    await first.list();
    await first.setWill('wills/f', 'old session ended', { delay: 600 });
    await detach(first.willLink!, 'amqp:link:detach-forced');
    const again = new FrontEnd(await peer(), 'client-f');
    const published = next(b as unknown as EventEmitter, 'willPublished');
    expect((await again.closeSession()).state).toBe('accepted');
    await published;
    const [will] = await watcher.take(1);
    expect(text(will!.message)).toBe('old session ended');
  });

  it('rejects a malformed will with amqp:decode-error', async () => {
    await start();
    const fe = new FrontEnd(await peer(), 'client-m');
    const link = await fe.attachWillLink();
    const outcome = await send(link, { subject: 'will' } as Message);
    expect(outcome.state).toBe('rejected');
    expect(outcome.error?.condition).toBe('amqp:decode-error');
  });
});

/**
 * The PUBREL step of QoS 2 towards the client survives a restart of the backend on LMDB (a new backend on the
 * same path), seen by a plain rhea peer acting as the front end: packet ids as message-ids, the AMQP_PUBREL
 * accepted before the restart becomes a PUBREL request after it, the other message comes with its packet id.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Stores } from '../../src/index';
import {
  type DurableFixture,
  startDurableBackend,
  temporaryDirectory,
  upToMarker,
} from '../backend/support/fixture';
import { FrontEnd, publishMessage, send, text } from '../backend/support/peer';

let dir: string;

beforeEach(async () => {
  dir = await temporaryDirectory('dragoman-qos2-');
});

function durableBackend(): Promise<DurableFixture> {
  return startDurableBackend(dir);
}

/** Waits (bounded) until the client's backlog is empty, re-reading it as the backend's writes land. */
async function emptied(stores: Stores, clientId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await stores.sessions.backlogSize(clientId)) > 0) {
    if (Date.now() > deadline) {
      throw new Error(`backlog still holds ${JSON.stringify(await stores.sessions.backlog(clientId))}`);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('QoS 2 towards the client, durable (LMDB): a new backend on the same path', () => {
  it('re-sends the PUBREL of a message whose AMQP_PUBREL it accepted, and the other message with its packet id', async () => {
    const first = await durableBackend();
    const fe = new FrontEnd(await first.peer(), 'q2-durable');
    await fe.list();
    await fe.subscribe({ 'q2/#': 2 });
    const inbox = await fe.attachPublish(10);
    const publisher = await (await first.peer()).sender('q2/x');
    for (const payload of ['one', 'two']) {
      expect((await send(publisher, publishMessage('q2/x', payload, 2))).state).toBe('accepted');
    }
    const [one, two] = await inbox.take(2);
    expect([one?.message.message_id, two?.message.message_id]).toEqual([1, 2]);
    // The client answered PUBREC for 'one': AMQP_PUBREL (message-id = the packet id) is accepted once durable.
    expect((await fe.sendPubrel(one?.message.message_id)).state).toBe('accepted');
    // Then the backend stops before the client's PUBCOMP (nothing settled).
    await first.stop();

    const second = await durableBackend();
    const again = new FrontEnd(await second.peer(), 'q2-durable');
    expect(await again.list()).toEqual({ 'q2/#': 2 });
    const inbox2 = await again.attachPublish(10);
    const [request, redelivered] = await inbox2.take(2);
    expect(request?.message.subject).toBe('pubrel');
    expect(request?.message.message_id).toBe(1);
    expect(request?.message.to).toBe('q2/x');
    expect(text(redelivered!.message)).toBe('two');
    expect(redelivered?.message.message_id).toBe(2);
    // PUBCOMP for 1 (the request is accepted); 'two' goes through PUBREC / AMQP_PUBREL / PUBCOMP.
    request?.delivery.accept();
    expect((await again.sendPubrel(2)).state).toBe('accepted');
    redelivered?.delivery.accept();
    expect(await upToMarker(second, inbox2, 'q2/x')).toEqual(['marker']);
    // Settled everywhere: the backlog empties (the marker's acknowledgement may still be on its way).
    await emptied(second.stores, 'q2-durable');
  });
});

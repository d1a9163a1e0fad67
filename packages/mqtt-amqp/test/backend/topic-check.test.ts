// A publication's topic is a valid MQTT topic name, whichever link it comes on: a message to its topic link's
// own address (found valid when the link attached) is not scanned again, and one naming another topic is.
import { describe, expect, it } from 'vitest';
import { startBackend, stopBackend } from './support/fixture';
import { FrontEnd, publishMessage, send, text } from './support/peer';

/** 130 levels: beyond the 128 a topic name may have (DEFAULT_MAX_TOPIC_LEVELS). */
const tooDeep = `${'a/'.repeat(129)}z`;

describe('topic names of publications', () => {
  it('on a topic link: its own topic goes, a topic too deep is rejected, and the link carries on', async () => {
    const f = await startBackend();
    const reader = new FrontEnd(await f.peer(), 'reader');
    await reader.list();
    await reader.subscribe({ '#': 0 });
    const inbox = await reader.attachPublish(10);

    const link = await (await f.peer()).sender('chat/room');
    expect((await send(link, publishMessage('chat/room', 'one', 0))).state).toBe('accepted');
    const refused = await send(link, publishMessage(tooDeep, 'deep', 0));
    expect(refused.state).toBe('rejected');
    expect(refused.error).toMatchObject({ condition: 'amqp:invalid-field' });
    expect((await send(link, publishMessage('chat/room', 'two', 0))).state).toBe('accepted');

    const received = await inbox.take(2);
    expect(received.map((r) => text(r.message))).toEqual(['one', 'two']);
    for (const r of received) r.delivery.accept();
    await stopBackend(f);
  });

  it('on a link without an address: a topic too deep is rejected', async () => {
    const f = await startBackend();
    const link = await (await f.peer()).sender(undefined);
    const refused = await send(link, publishMessage(tooDeep, 'deep', 1));
    expect(refused.state).toBe('rejected');
    expect(refused.error).toMatchObject({ condition: 'amqp:invalid-field' });
    expect((await send(link, publishMessage('chat/room', 'fine', 1))).state).toBe('accepted');
    await stopBackend(f);
  });
});

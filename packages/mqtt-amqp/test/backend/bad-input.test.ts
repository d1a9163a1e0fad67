import type { Message } from 'rhea';
import { describe, expect, it } from 'vitest';
import { startBackend, upToMarker } from './support/fixture';
import { FrontEnd, publishMessage, send, text } from './support/peer';

describe('bad input and takeover', () => {
  it('rejects a publication it cannot read, and keeps serving the link', async () => {
    const f = await startBackend();
    const producer = await (await f.peer()).sender('bad/topic');
    const mapBody = await send(producer, { body: { not: 'a payload' } } as Message);
    expect(mapBody.state).toBe('rejected');
    expect(mapBody.error?.condition).toBe('amqp:decode-error');
    const badQos = await send(
      producer,
      publishMessage('bad/topic', 'x', 1, false, { message_annotations: { 'x-opt-mqtt-qos': 7 } }),
    );
    expect(badQos.state).toBe('rejected');
    const anonymous = await (await f.peer()).sender(undefined);
    const wildcardTopic = await send(anonymous, publishMessage('bad/+', 'x', 0));
    expect(wildcardTopic.state).toBe('rejected');
    expect(wildcardTopic.error?.condition).toBe('amqp:decode-error');
    expect((await send(producer, publishMessage('bad/topic', 'fine', 1))).state).toBe('accepted');
    expect(f.backend.stats().malformed).toBe(3);
  });

  it('rejects control messages sent to the wrong service and unknown subjects', async () => {
    const f = await startBackend();
    const fe = new FrontEnd(await f.peer(), 'confused');
    const willLink = await fe.attachWillLink();
    const listOnWillLink = await send(willLink, {
      subject: 'list',
      correlation_id: fe.publishAddress,
      reply_to: '$mqtt.to.confused.control',
    } as Message);
    expect(listOnWillLink.state).toBe('rejected');
    const requests = await fe.peer.sender('$mqtt.subscriptionservice');
    const unknown = await send(requests, { subject: 'shrug', correlation_id: fe.publishAddress } as Message);
    expect(unknown.state).toBe('rejected');
    expect(unknown.error?.condition).toBe('amqp:decode-error');
    const noClient = await send(requests, { subject: 'close', correlation_id: 'not-an-address' } as Message);
    expect(noClient.state).toBe('rejected');
  });

  it('answers AMQP_LIST whose control link never attaches with amqp:precondition-failed', async () => {
    const f = await startBackend({ controlReplyTimeoutMs: 200 });
    const requests = await (await f.peer()).sender('$mqtt.subscriptionservice');
    const outcome = await send(requests, {
      subject: 'list',
      correlation_id: '$mqtt.to.nobody.publish',
      reply_to: '$mqtt.to.nobody.control',
    } as Message);
    expect(outcome.state).toBe('rejected');
    expect(outcome.error?.condition).toBe('amqp:precondition-failed');
  });

  it('takeover: a newer connection of the same client gets its messages, the older one none', async () => {
    const f = await startBackend();
    const older = new FrontEnd(await f.peer(), 'twin');
    await older.list();
    await older.subscribe({ 'tw/#': 1 });
    const olderInbox = await older.attachPublish(10);
    const newer = new FrontEnd(await f.peer(), 'twin');
    expect(await newer.list()).toEqual({ 'tw/#': 1 });
    const newerInbox = await newer.attachPublish(10);
    const publisher = await (await f.peer()).sender('tw/x');
    await send(publisher, publishMessage('tw/x', 'for the newer', 1));
    const [got] = await newerInbox.take(1);
    expect(text(got!.message)).toBe('for the newer');
    got?.delivery.accept();
    // The older link is still attached but no longer speaks for the session.
    expect(olderInbox.items).toEqual([]);
    expect(await upToMarker(f, newerInbox, 'tw/x')).toEqual(['marker']);
    expect(olderInbox.items).toEqual([]);
  });
});

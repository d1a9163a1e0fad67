/**
 * QoS 2 from MQTT clients across connections: the backend remembers the (client id, packet id) of each QoS 2
 * publication it routed until the publisher settles it (PUBREL) or releases it (AMQP_PUBLISH_RELEASED), so a
 * re-send after a reconnect is accepted and not routed twice; the memory survives a restart on LMDB.
 * rhea, used directly, plays the gateway front end (exactly-once link, client id in the link properties).
 */
import type { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Delivery, EventContext, Message, Sender } from 'rhea';
import rhea from 'rhea';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, createMemoryStores, openLmdbQos2Store } from '../../src/index';
import {
  closeAfterTest,
  closeStore,
  type Fixture,
  startBackend,
  temporaryDirectory,
} from './support/fixture';
import {
  type Inbox,
  next,
  type Outcome,
  exactlyOnceLink as openExactlyOnceLink,
  type Peer,
  publishMessage,
  send,
  text,
  until,
} from './support/peer';

const CONFIRMATION = 'dragoman:settlement-confirmation';
const TOPIC = 'eo/t';

/** The front end's exactly-once topic link for `clientId`: settled by hand, confirmation desired. */
function exactlyOnceLink(peer: Peer, clientId: string, topic = TOPIC): Promise<Sender> {
  return openExactlyOnceLink(peer, clientId, topic, [CONFIRMATION]);
}

interface HeldAtPeer {
  readonly outcome: Outcome;
  readonly delivery: Delivery & { update(settled: boolean, state?: unknown): void; remote_settled: boolean };
}

/** AMQP_PUBLISH at QoS 2 with `packetId` (delivery-count 1 = DUP when `dup`); resolves with the outcome, unsettled. */
async function publishQos2(
  sender: Sender,
  packetId: number,
  payload: string,
  options: { dup?: boolean; retain?: boolean; explicitRelease?: boolean } = {},
): Promise<HeldAtPeer> {
  if (!sender.sendable()) await next(sender as unknown as EventEmitter, 'sendable');
  const message = publishMessage(TOPIC, payload, 2, options.retain === true, {
    message_id: packetId,
    ...(options.dup === true ? { delivery_count: 1 } : {}),
  } as Partial<Message>);
  if (options.explicitRelease === true) {
    message.message_annotations = { ...message.message_annotations, 'x-opt-mqtt-release': 'explicit' };
  }
  const delivery = sender.send(message) as HeldAtPeer['delivery'];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no outcome for packet ${packetId}`)), 10_000);
    const onOutcome = (state: Outcome['state']) => (context: EventContext) => {
      if (context.delivery !== delivery) return;
      clearTimeout(timer);
      for (const [event, handler] of handlers) sender.removeListener(event, handler);
      const remote = (delivery as unknown as { remote_state?: { error?: Outcome['error'] } }).remote_state;
      resolve({ outcome: { state, error: remote?.error }, delivery });
    };
    const handlers = (['accepted', 'rejected'] as const).map((s) => [s, onOutcome(s)] as const);
    for (const [event, handler] of handlers) sender.on(event, handler);
  });
}

/** Settles at the front end (its client sent PUBREL) and waits for the backend's confirming settlement. */
async function settle(sender: Sender, held: HeldAtPeer): Promise<void> {
  // Settled echoing the outcome: a disposition without a state makes rhea log "unrecognised outcome".
  held.delivery.update(
    true,
    (rhea.message as unknown as { accepted(): { described(): unknown } }).accepted().described(),
  );
  await until(sender as unknown as EventEmitter, 'settled', () => held.delivery.remote_settled);
}

/** The next payloads a native receiver of TOPIC got, accepted. */
async function arrivals(inbox: Inbox, n: number): Promise<string[]> {
  const items = await inbox.take(n);
  for (const item of items) item.delivery.accept();
  return items.map((item) => text(item.message));
}

describe('QoS 2 publications remembered until released', () => {
  it('a re-send is accepted and not routed again; new content under the same packet id is routed', async () => {
    const f = await startBackend();
    const inbox = await (await f.peer()).receiver(TOPIC, 100);
    const first = await f.peer();
    const link = await exactlyOnceLink(first, 'eo-client');
    expect((await publishQos2(link, 7, 'one')).outcome.state).toBe('accepted');
    expect(await arrivals(inbox, 1)).toEqual(['one']);
    expect(f.backend.stats().unreleasedQos2).toBe(1);

    // The front end's connection goes before its client's PUBREL: the client re-sends on a new one, with DUP
    // as MQTT says, or without it as mqtt.js does.
    first.destroy();
    const again = await exactlyOnceLink(await f.peer(), 'eo-client');
    expect((await publishQos2(again, 7, 'one', { dup: true })).outcome.state).toBe('accepted');
    expect((await publishQos2(again, 7, 'one')).outcome.state).toBe('accepted');
    const marker = await publishQos2(again, 8, 'marker');
    expect(await arrivals(inbox, 1)).toEqual(['marker']);
    expect(f.backend.stats().duplicatesNotRouted).toBe(2);

    // Packet id 7 used again for a new message: routed, and it replaces the old entry.
    const reused = await publishQos2(again, 7, 'two');
    expect(reused.outcome.state).toBe('accepted');
    expect(await arrivals(inbox, 1)).toEqual(['two']);
    expect(f.backend.stats().unreleasedQos2).toBe(2);

    // PUBREL: the front end settles, the backend forgets (and confirms); the same message again is new.
    await settle(again, reused);
    await settle(again, marker);
    expect(f.backend.stats().unreleasedQos2).toBe(0);
    await publishQos2(again, 7, 'two', { dup: true });
    expect(await arrivals(inbox, 1)).toEqual(['two']);
  });

  it('AMQP_PUBLISH_RELEASED on the pubrel address forgets the entry', async () => {
    const f = await startBackend();
    const inbox = await (await f.peer()).receiver(TOPIC, 100);
    const peer = await f.peer();
    const link = await exactlyOnceLink(peer, 'eo-released');
    await publishQos2(link, 9, 'nine');
    expect(await arrivals(inbox, 1)).toEqual(['nine']);
    expect(f.backend.stats().unreleasedQos2).toBe(1);
    const pubrel = await peer.sender('$mqtt.eo-released.pubrel');
    const released = await send(pubrel, { subject: 'publish-released', message_id: 9 } as Message);
    expect(released.state).toBe('accepted');
    expect(f.backend.stats().unreleasedQos2).toBe(0);
    await publishQos2(link, 9, 'nine', { dup: true });
    expect(await arrivals(inbox, 1)).toEqual(['nine']);
    // Not a packet id: refused as malformed.
    const bad = await send(pubrel, { subject: 'publish-released', message_id: 'x' } as Message);
    expect(bad).toMatchObject({ state: 'rejected', error: { condition: 'amqp:decode-error' } });
  });

  it('x-opt-mqtt-release: explicit keeps the entry after settlement until AMQP_PUBLISH_RELEASED', async () => {
    const f = await startBackend();
    const inbox = await (await f.peer()).receiver(TOPIC, 100);
    const peer = await f.peer();
    const link = await exactlyOnceLink(peer, 'eo-explicit');
    // The front end settles as soon as the outcome arrives (its client has not sent PUBREL yet).
    const sent = await publishQos2(link, 11, 'eleven', { explicitRelease: true });
    expect(sent.outcome.state).toBe('accepted');
    await settle(link, sent);
    expect(await arrivals(inbox, 1)).toEqual(['eleven']);
    expect(f.backend.stats().unreleasedQos2).toBe(1);

    // A re-send meanwhile (the front end's connection went before PUBREC reached the client) is not routed,
    // and its settlement does not forget the entry either.
    const again = await exactlyOnceLink(await f.peer(), 'eo-explicit');
    const resent = await publishQos2(again, 11, 'eleven', { dup: true, explicitRelease: true });
    expect(resent.outcome.state).toBe('accepted');
    await settle(again, resent);
    const marker = await publishQos2(again, 12, 'marker');
    expect(await arrivals(inbox, 1)).toEqual(['marker']);
    await settle(again, marker);
    expect(f.backend.stats()).toMatchObject({ duplicatesNotRouted: 1, unreleasedQos2: 1 });

    // The client's PUBREL, passed on as AMQP_PUBLISH_RELEASED: forgotten; the same content is new again.
    const pubrel = await peer.sender('$mqtt.eo-explicit.pubrel');
    expect((await send(pubrel, { subject: 'publish-released', message_id: 11 } as Message)).state).toBe(
      'accepted',
    );
    expect(f.backend.stats().unreleasedQos2).toBe(0);
    await publishQos2(again, 11, 'eleven', { dup: true });
    expect(await arrivals(inbox, 1)).toEqual(['eleven']);
  });

  it('other clients and other packet ids are not taken for duplicates', async () => {
    const f = await startBackend();
    const inbox = await (await f.peer()).receiver(TOPIC, 100);
    const a = await exactlyOnceLink(await f.peer(), 'eo-a');
    const b = await exactlyOnceLink(await f.peer(), 'eo-b');
    await publishQos2(a, 1, 'same');
    expect(await arrivals(inbox, 1)).toEqual(['same']);
    await publishQos2(b, 1, 'same', { dup: true });
    expect(await arrivals(inbox, 1)).toEqual(['same']);
    await publishQos2(a, 2, 'same', { dup: true });
    expect(await arrivals(inbox, 1)).toEqual(['same']);
    expect(f.backend.stats().duplicatesNotRouted).toBe(0);
  });

  it('a clean session (AMQP_CLOSE) forgets what the client had not released', async () => {
    const f = await startBackend();
    const inbox = await (await f.peer()).receiver(TOPIC, 100);
    const peer = await f.peer();
    const link = await exactlyOnceLink(peer, 'eo-clean');
    await publishQos2(link, 3, 'x');
    expect(await arrivals(inbox, 1)).toEqual(['x']);
    const requests = await peer.sender('$mqtt.subscriptionservice');
    const closed = await send(requests, {
      subject: 'close',
      correlation_id: '$mqtt.to.eo-clean.publish',
    } as Message);
    expect(closed.state).toBe('accepted');
    expect(f.backend.stats().unreleasedQos2).toBe(0);
  });

  it('is bounded per client: the oldest entry goes first', async () => {
    const f = await startBackend({ maxUnreleasedQos2PerClient: 2 });
    const inbox = await (await f.peer()).receiver(TOPIC, 100);
    const link = await exactlyOnceLink(await f.peer(), 'eo-bounded');
    for (const id of [1, 2, 3]) await publishQos2(link, id, `p${id}`);
    expect(await arrivals(inbox, 3)).toEqual(['p1', 'p2', 'p3']);
    expect(f.backend.stats()).toMatchObject({ unreleasedQos2: 2, unreleasedQos2Evicted: 1 });
    // Packet 1 was forgotten: its re-send is routed (a duplicate at worst, never a loss); packet 3's is not.
    await publishQos2(link, 3, 'p3', { dup: true });
    await publishQos2(link, 1, 'p1', { dup: true });
    expect(await arrivals(inbox, 1)).toEqual(['p1']);
  });

  it('a re-send needs no subscriber room: it is accepted while a full subscriber holds new publications', async () => {
    const f = await startBackend({ maxQueuedPerNativeReceiver: 1 });
    const inbox = await (await f.peer()).receiver(TOPIC, 0); // no credit: one message fills its queue
    const first = await f.peer();
    const link = await exactlyOnceLink(first, 'eo-full');
    expect((await publishQos2(link, 1, 'a')).outcome.state).toBe('accepted');
    first.destroy();
    const again = await exactlyOnceLink(await f.peer(), 'eo-full');
    expect((await publishQos2(again, 1, 'a')).outcome.state).toBe('accepted');
    expect(f.backend.stats()).toMatchObject({ duplicatesNotRouted: 1, heldPublisherLinks: 0 });
    inbox.addCredit(1);
    expect(await arrivals(inbox, 1)).toEqual(['a']);
  });

  it('refuses bad limits', async () => {
    await expect(startBackend({ maxUnreleasedQos2: 0 })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(startBackend({ maxUnreleasedQos2PerClient: 1.5 })).rejects.toBeInstanceOf(
      ConfigurationError,
    );
  });
});

describe('QoS 2 memory on the durable store (LMDB)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await temporaryDirectory('dragoman-qos2-');
  });

  async function durable(): Promise<Fixture & { stop(): Promise<void> }> {
    const store = closeAfterTest(openLmdbQos2Store({ path: join(dir, 'qos2') }));
    const f = await startBackend({ qos2Store: store });
    return {
      ...f,
      async stop() {
        await f.backend.close();
        await closeStore(store);
      },
    };
  }

  it('a new backend on the same path still knows what was not released', async () => {
    const first = await durable();
    const inbox = await (await first.peer()).receiver(TOPIC, 100);
    const link = await exactlyOnceLink(await first.peer(), 'eo-durable');
    await publishQos2(link, 5, 'five');
    const settled = await publishQos2(link, 6, 'six');
    expect(await arrivals(inbox, 2)).toEqual(['five', 'six']);
    await settle(link, settled);
    await first.stop();

    const second = await durable();
    expect(second.backend.stats().unreleasedQos2).toBe(1);
    const inbox2 = await (await second.peer()).receiver(TOPIC, 100);
    const again = await exactlyOnceLink(await second.peer(), 'eo-durable');
    await publishQos2(again, 5, 'five', { dup: true });
    await publishQos2(again, 6, 'six', { dup: true });
    expect(await arrivals(inbox2, 1)).toEqual(['six']);
    expect(second.backend.stats().duplicatesNotRouted).toBe(1);
    await second.stop();
  });
});

describe('retained store full', () => {
  it('refuses a retained publication with amqp:resource-limit-exceeded and routes it to nobody', async () => {
    const f = await startBackend({ store: createMemoryStores({ maxRetained: 1 }) });
    const errors: Error[] = [];
    f.backend.on('error', (error) => errors.push(error));
    const inbox = await (await f.peer()).receiver('rl/#', 100);
    const publisher = await (await f.peer()).sender(undefined);
    expect((await send(publisher, publishMessage('rl/a', 'kept', 1, true))).state).toBe('accepted');
    const refused = await send(publisher, publishMessage('rl/b', 'not kept', 1, true));
    expect(refused).toMatchObject({
      state: 'rejected',
      error: { condition: 'amqp:resource-limit-exceeded', info: { limit: 'retained' } },
    });
    // Replacing the one kept, deleting it, and non-retained messages go on.
    expect((await send(publisher, publishMessage('rl/a', 'replaced', 1, true))).state).toBe('accepted');
    expect((await send(publisher, publishMessage('rl/b', 'plain', 1))).state).toBe('accepted');
    expect(await arrivals(inbox, 3)).toEqual(['kept', 'replaced', 'plain']);
    expect(f.backend.stats().rejectedRetained).toBe(1);
    expect(errors.map((e) => e.name)).toEqual(['StoreLimitError']);
  });
});

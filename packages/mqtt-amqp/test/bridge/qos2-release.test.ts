/**
 * How ClientPublishes releases QoS 2 exchanges as they pile up before the client's PUBRELs: the spec's held
 * settlement up to its bound, then settled at the outcome and released explicitly (AMQP_PUBLISH_RELEASED),
 * then released at PUBREC — and the client is never paused for want of a PUBREL. The AMQP link and the MQTT
 * PUBLISHes are stand-ins here (the e2e tests run the same paths against mqtt.js and the embedded backend).
 */
import type { AmqpMessage, HeldDelivery, Sender } from '@dragoman/amqp';
import type { InboundPublish } from '@dragoman/mqtt';
import { describe, expect, it } from 'vitest';
import { ClientPublishes } from '../../src/bridge/client-publishes';
import type { PublishLinks, TopicLink } from '../../src/bridge/publish-links';
import { releasesExplicitly } from '../../src/mapping/publish';
import { pollUntil } from '../support/poll';

interface FakePublish {
  readonly publish: InboundPublish;
  readonly answers: string[];
  release(): void;
}

function fakePublish(messageId: number): FakePublish {
  const answers: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let completeRequested = false;
  let isReleased = false;
  released.then(() => {
    isReleased = true;
    if (completeRequested) answers.push('pubcomp');
  });
  const publish = {
    topic: 't',
    payload: Buffer.from(String(messageId)),
    qos: 2,
    retain: false,
    dup: false,
    messageId,
    received: () => answers.push('pubrec'),
    released: () => released,
    complete: () => {
      completeRequested = true;
      if (isReleased) answers.push('pubcomp');
    },
  } as unknown as InboundPublish;
  return { publish, answers, release };
}

interface Sent {
  readonly message: AmqpMessage;
  settled: boolean;
}

function harness(limits: { maxHeld: number; maxExplicit: number }) {
  const sent: Sent[] = [];
  const releasedIds: number[] = [];
  let pauses = 0;
  const sender = {
    credit: 1000,
    sendHeld: async (message: AmqpMessage): Promise<HeldDelivery> => {
      const entry: Sent = { message, settled: false };
      sent.push(entry);
      return {
        outcome: { state: 'accepted' },
        settle: () => {
          entry.settled = true;
        },
        whenSettled: () => Promise.resolve(),
      } as unknown as HeldDelivery;
    },
  } as unknown as Sender;
  const link: TopicLink = { sender, address: 't', kind: 'qos2', name: 'l' };
  const links = {
    peek: () => link,
    get: async () => link,
    use: <T>(_address: string, _kind: string, send: (l: TopicLink) => Promise<T>) => send(link),
  } as unknown as PublishLinks;
  const publishes = new ClientPublishes({
    links,
    encode: (publish) => ({
      message: { properties: { messageId: publish.messageId, to: 't' } },
      address: 't',
      presettled: false,
    }),
    resourceLimit: () => {},
    topicLimit: () => undefined,
    negativeAcks: false,
    pause: () => {
      pauses++;
    },
    resume: () => {},
    fail: (reason) => {
      throw new Error(reason);
    },
    signal: new AbortController().signal,
    publishReleased: async (packetId) => {
      releasedIds.push(packetId);
    },
    qos2Limits: limits,
  });
  return { publishes, sent, releasedIds, pauses: () => pauses };
}

describe('QoS 2 exchanges awaiting PUBREL', () => {
  it('held up to the bound, then released explicitly, then at PUBREC; never paused', async () => {
    const { publishes, sent, releasedIds, pauses } = harness({ maxHeld: 2, maxExplicit: 2 });
    const flows = [1, 2, 3, 4, 5, 6].map(fakePublish);
    for (const flow of flows) publishes.push(flow.publish);
    await pollUntil(() => flows.every((f) => f.answers.includes('pubrec')), 'every PUBREC', 5_000);
    expect(pauses()).toBe(0);
    // 1-2 held unsettled; 3-4 settled and marked for explicit release; 5-6 settled and not marked.
    expect(sent.map((s) => s.settled)).toEqual([false, false, true, true, true, true]);
    expect(sent.map((s) => releasesExplicitly(s.message))).toEqual([false, false, true, true, false, false]);
    expect(publishes.qos2InProgress).toEqual({ held: 2, explicit: 2 });
    expect(publishes.releasedAtPubrec).toBe(2);
    expect(flows.some((f) => f.answers.includes('pubcomp'))).toBe(false);

    for (const flow of flows) flow.release();
    await pollUntil(() => flows.every((f) => f.answers.includes('pubcomp')), 'every PUBCOMP', 5_000);
    expect(sent.every((s) => s.settled)).toBe(true);
    // Only the explicitly released ones are passed on; each flow answered once.
    expect(releasedIds).toEqual([3, 4]);
    expect(flows.map((f) => f.answers)).toEqual(flows.map(() => ['pubrec', 'pubcomp']));
    await pollUntil(() => publishes.qos2InProgress.explicit === 0, 'the explicit releases to end', 5_000);
    expect(publishes.qos2InProgress).toEqual({ held: 0, explicit: 0 });
  });

  it('a slot freed by a PUBREL is held again', async () => {
    const { publishes, sent } = harness({ maxHeld: 1, maxExplicit: 0 });
    const first = fakePublish(1);
    publishes.push(first.publish);
    await pollUntil(() => first.answers.includes('pubrec'), 'PUBREC 1', 5_000);
    first.release();
    await pollUntil(() => publishes.qos2InProgress.held === 0, 'the held exchange to end', 5_000);
    const second = fakePublish(2);
    publishes.push(second.publish);
    await pollUntil(() => second.answers.includes('pubrec'), 'PUBREC 2', 5_000);
    expect(sent.map((s) => s.settled)).toEqual([true, false]);
    expect(publishes.releasedAtPubrec).toBe(0);
  });
});

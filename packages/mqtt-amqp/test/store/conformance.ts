/**
 * The store conformance suite: every `Stores` implementation must pass it unchanged. Call
 * `describeStoreConformance(name, factory)` from an implementation's test file.
 */
import {
  type MqttMessage,
  StoreClosedError,
  StoreLimitError,
  type StoreOptions,
  type Stores,
} from '@dragoman/mqtt-amqp';
import { afterEach, describe, expect, it } from 'vitest';

export type StoresFactory = (options: StoreOptions) => Stores | Promise<Stores>;

/** A clock the tests move by hand. */
export class ManualClock {
  time = 1_700_000_000_000;
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

export function message(topic: string, payload: string, fields: Partial<MqttMessage> = {}): MqttMessage {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false, ...fields };
}

function payloads(messages: ReadonlyArray<{ message: MqttMessage } | MqttMessage>): string[] {
  return messages.map((m) => ('message' in m ? m.message : m).payload.toString());
}

export function describeStoreConformance(name: string, factory: StoresFactory): void {
  describe(`store conformance: ${name}`, () => {
    const opened: Stores[] = [];
    let clock: ManualClock;

    async function open(options: StoreOptions = {}): Promise<Stores> {
      clock = new ManualClock();
      const stores = await factory({ now: clock.now, ...options });
      opened.push(stores);
      return stores;
    }

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    describe('sessions', () => {
      it('starts absent, resumes with clean=false, discards with clean=true', async () => {
        const { sessions } = await open();
        const first = await sessions.open('c1', { clean: false });
        expect(first.present).toBe(false);
        expect(first.session.expiryInterval).toBe(0xffff_ffff);
        await sessions.subscribe('c1', [['a/+', { qos: 1 }]]);
        await sessions.enqueue('c1', message('a/b', 'one'));
        await sessions.disconnect('c1');

        const resumed = await sessions.open('c1', { clean: false });
        expect(resumed.present).toBe(true);
        expect([...resumed.session.subscriptions]).toEqual([['a/+', { qos: 1 }]]);
        expect(resumed.session.disconnectedAt).toBeUndefined();
        expect(await sessions.backlogSize('c1')).toBe(1);

        const clean = await sessions.open('c1', { clean: true });
        expect(clean.present).toBe(false);
        expect(clean.session.subscriptions.size).toBe(0);
        expect(clean.session.expiryInterval).toBe(0);
        expect(await sessions.backlogSize('c1')).toBe(0);
        expect(await sessions.backlog('c1')).toEqual([]);
      });

      it('keeps MQTT 5 subscription options, in subscription order, replacing in place', async () => {
        const { sessions } = await open();
        await sessions.open('c1', { clean: false });
        await sessions.subscribe('c1', [
          ['x/#', { qos: 0 }],
          [
            'y',
            { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionIdentifier: 7 },
          ],
        ]);
        await sessions.subscribe('c1', [
          ['x/#', { qos: 1, retainHandling: 1 }],
          ['z', { qos: 0 }],
        ]);
        const session = await sessions.get('c1');
        expect([...(session?.subscriptions ?? [])]).toEqual([
          ['x/#', { qos: 1, retainHandling: 1 }],
          [
            'y',
            { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionIdentifier: 7 },
          ],
          ['z', { qos: 0 }],
        ]);
        expect(await sessions.unsubscribe('c1', ['y', 'nope'])).toEqual([true, false]);
        expect([...((await sessions.get('c1'))?.subscriptions.keys() ?? [])]).toEqual(['x/#', 'z']);
        expect(await sessions.subscribe('ghost', [['a', { qos: 0 }]])).toBe(false);
        expect(await sessions.unsubscribe('ghost', ['a'])).toEqual([false]);
      });

      it('refuses subscriptions beyond maxSubscriptionsPerSession and changes nothing', async () => {
        const { sessions } = await open({ maxSubscriptionsPerSession: 2 });
        await sessions.open('c1', { clean: false });
        await sessions.subscribe('c1', [
          ['a', { qos: 0 }],
          ['b', { qos: 0 }],
        ]);
        const error = await sessions.subscribe('c1', [['c', { qos: 0 }]]).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreLimitError);
        expect(error).toMatchObject({ limit: 'subscriptions', max: 2 });
        // Replacing an existing filter is not a new subscription.
        expect(await sessions.subscribe('c1', [['a', { qos: 2 }]])).toBe(true);
        expect([...((await sessions.get('c1'))?.subscriptions ?? [])]).toEqual([
          ['a', { qos: 2 }],
          ['b', { qos: 0 }],
        ]);
      });

      it('refuses a new session beyond maxSessions, after purging expired ones', async () => {
        const { sessions } = await open({ maxSessions: 2 });
        await sessions.open('a', { clean: false });
        await sessions.open('b', { clean: false, expiryInterval: 5 });
        const error = await sessions.open('c', { clean: false }).catch((e: unknown) => e);
        expect(error).toMatchObject({ name: 'StoreLimitError', limit: 'sessions', max: 2 });
        // An existing client may always reconnect.
        expect((await sessions.open('a', { clean: false })).present).toBe(true);
        await sessions.disconnect('b');
        clock.advance(5_000);
        expect((await sessions.open('c', { clean: false })).present).toBe(false);
        expect((await sessions.list()).map((s) => s.clientId).sort()).toEqual(['a', 'c']);
      });

      it('expires disconnected sessions after their expiry interval; 0 ends with the connection', async () => {
        const { sessions } = await open();
        await sessions.open('short', { clean: false, expiryInterval: 10 });
        await sessions.open('never', { clean: false });
        await sessions.open('gone', { clean: true });
        await sessions.disconnect('short');
        await sessions.disconnect('never');
        await sessions.disconnect('gone');
        expect(await sessions.get('gone')).toBeUndefined();
        expect((await sessions.get('short'))?.disconnectedAt).toBe(clock.time);
        clock.advance(9_999);
        expect(await sessions.expire()).toEqual([]);
        clock.advance(1);
        expect(await sessions.get('short')).toBeUndefined();
        expect(await sessions.expire()).toEqual(['short']);
        expect((await sessions.list()).map((s) => s.clientId)).toEqual(['never']);
        // MQTT 5 DISCONNECT may change the interval.
        await sessions.open('never', { clean: false });
        await sessions.disconnect('never', { expiryInterval: 0 });
        expect(await sessions.get('never')).toBeUndefined();
      });

      it('does not resume an expired session: its subscriptions and backlog are gone', async () => {
        const { sessions } = await open();
        await sessions.open('c1', { clean: false, expiryInterval: 5 });
        await sessions.subscribe('c1', [['a', { qos: 1 }]]);
        await sessions.enqueue('c1', message('a', 'old'));
        await sessions.disconnect('c1');
        clock.advance(5_000);
        const reopened = await sessions.open('c1', { clean: false });
        expect(reopened.present).toBe(false);
        expect(reopened.session.subscriptions.size).toBe(0);
        expect(await sessions.backlogSize('c1')).toBe(0);
        const next = await sessions.enqueue('c1', message('a', 'new'));
        expect(next).toMatchObject({ status: 'queued', seq: 1 });
        expect(payloads(await sessions.backlog('c1'))).toEqual(['new']);
      });

      it('queues the backlog in order and removes acknowledged entries', async () => {
        const { sessions } = await open();
        await sessions.open('c1', { clean: false });
        const seqs: number[] = [];
        for (let i = 0; i < 5; i++) {
          const result = await sessions.enqueue('c1', message('t', `m${i}`, { qos: i % 2 === 0 ? 1 : 2 }));
          expect(result.status).toBe('queued');
          if (result.status === 'queued') seqs.push(result.seq);
        }
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        const backlog = await sessions.backlog('c1');
        expect(payloads(backlog)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
        expect(backlog.map((q) => q.message.qos)).toEqual([1, 2, 1, 2, 1]);
        expect(payloads(await sessions.backlog('c1', { limit: 2 }))).toEqual(['m0', 'm1']);
        expect(await sessions.ack('c1', seqs[0]!)).toBe(true);
        expect(await sessions.ack('c1', seqs[0]!)).toBe(false);
        expect(await sessions.ack('c1', seqs[2]!)).toBe(true);
        expect(payloads(await sessions.backlog('c1'))).toEqual(['m1', 'm3', 'm4']);
        expect(await sessions.backlogSize('c1')).toBe(3);
      });

      it('stores every message field and a copy of the payload', async () => {
        const { sessions } = await open();
        await sessions.open('c1', { clean: false });
        const payload = Buffer.from([0, 1, 2, 255]);
        const original: MqttMessage = {
          topic: 'a/b',
          payload,
          qos: 2,
          retain: true,
          properties: {
            payloadFormatIndicator: false,
            contentType: 'application/octet-stream',
            responseTopic: 'reply/here',
            correlationData: Buffer.from('corr'),
            userProperties: { k: 'v', multi: ['1', '2'] },
            subscriptionIdentifier: [3, 4],
          },
        };
        await sessions.enqueue('c1', original);
        payload[0] = 42;
        const [queued] = await sessions.backlog('c1');
        expect(queued?.message).toEqual({ ...original, payload: Buffer.from([0, 1, 2, 255]) });
        expect(Buffer.isBuffer(queued?.message.payload)).toBe(true);
        expect(Buffer.isBuffer(queued?.message.properties?.correlationData)).toBe(true);
      });

      it('drops QoS 0 unless queueQos0; refuses unknown sessions, big payloads and expired messages', async () => {
        const { sessions } = await open({ maxPayloadBytes: 4 });
        await sessions.open('c1', { clean: false });
        expect(await sessions.enqueue('c1', message('t', 'q0', { qos: 0 }))).toEqual({
          status: 'dropped',
          reason: 'qos0-not-queued',
        });
        expect(await sessions.enqueue('ghost', message('t', 'x'))).toEqual({
          status: 'refused',
          reason: 'no-session',
        });
        expect(await sessions.enqueue('c1', message('t', '12345'))).toEqual({
          status: 'refused',
          reason: 'payload-too-large',
        });
        expect(
          await sessions.enqueue('c1', message('t', 'x', { properties: { messageExpiryInterval: 0 } })),
        ).toEqual({ status: 'refused', reason: 'expired' });
        expect(await sessions.backlogSize('c1')).toBe(0);

        const withQos0 = (await open({ queueQos0: true })).sessions;
        await withQos0.open('c1', { clean: false });
        expect((await withQos0.enqueue('c1', message('t', 'q0', { qos: 0 }))).status).toBe('queued');
      });

      it('when full drops the oldest QoS 0 entry first, then the oldest entry (drop-oldest)', async () => {
        const { sessions } = await open({ maxBacklogPerSession: 3, queueQos0: true });
        await sessions.open('c1', { clean: false });
        await sessions.enqueue('c1', message('t', 'a', { qos: 1 }));
        await sessions.enqueue('c1', message('t', 'b', { qos: 0 }));
        await sessions.enqueue('c1', message('t', 'c', { qos: 1 }));
        expect(await sessions.enqueue('c1', message('t', 'd', { qos: 2 }))).toMatchObject({
          status: 'queued',
          evicted: 1,
        });
        expect(payloads(await sessions.backlog('c1'))).toEqual(['a', 'c', 'd']);
        // No QoS 0 left: a new QoS 0 message is the one dropped.
        expect(await sessions.enqueue('c1', message('t', 'e', { qos: 0 }))).toEqual({
          status: 'dropped',
          reason: 'backlog-full',
        });
        // A new QoS 1 message evicts the oldest.
        expect(await sessions.enqueue('c1', message('t', 'f', { qos: 1 }))).toMatchObject({
          status: 'queued',
          evicted: 1,
        });
        expect(payloads(await sessions.backlog('c1'))).toEqual(['c', 'd', 'f']);
        expect(await sessions.backlogSize('c1')).toBe(3);
      });

      it('when full refuses new QoS 1/2 messages with backlogPolicy refuse', async () => {
        const { sessions } = await open({ maxBacklogPerSession: 2, backlogPolicy: 'refuse' });
        await sessions.open('c1', { clean: false });
        await sessions.enqueue('c1', message('t', 'a'));
        await sessions.enqueue('c1', message('t', 'b'));
        expect(await sessions.enqueue('c1', message('t', 'c', { qos: 2 }))).toEqual({
          status: 'refused',
          reason: 'backlog-full',
        });
        expect(payloads(await sessions.backlog('c1'))).toEqual(['a', 'b']);
      });

      it('respects message expiry: remaining interval shrinks, expired entries vanish and free room', async () => {
        const { sessions } = await open({ maxBacklogPerSession: 2 });
        await sessions.open('c1', { clean: false });
        await sessions.enqueue('c1', message('t', 'short', { properties: { messageExpiryInterval: 10 } }));
        await sessions.enqueue('c1', message('t', 'long', { properties: { messageExpiryInterval: 100 } }));
        clock.advance(4_500);
        const backlog = await sessions.backlog('c1');
        expect(backlog.map((q) => q.message.properties?.messageExpiryInterval)).toEqual([6, 96]);
        clock.advance(5_500);
        // Full, but the expired entry makes room: nothing live is evicted.
        expect(await sessions.enqueue('c1', message('t', 'new'))).toMatchObject({
          status: 'queued',
          evicted: 0,
        });
        expect(payloads(await sessions.backlog('c1'))).toEqual(['long', 'new']);
        clock.advance(90_000);
        expect(payloads(await sessions.backlog('c1'))).toEqual(['new']);
        expect(await sessions.backlogSize('c1')).toBe(1);
      });

      it('rejects every call once closed', async () => {
        const stores = await open();
        await stores.sessions.close();
        await expect(stores.sessions.get('c1')).rejects.toBeInstanceOf(StoreClosedError);
        await expect(stores.sessions.enqueue('c1', message('t', 'x'))).rejects.toBeInstanceOf(
          StoreClosedError,
        );
      });
    });

    describe('retained', () => {
      it('sets, replaces, and deletes with an empty payload', async () => {
        const { retained } = await open();
        expect(await retained.set(message('a/b', 'one', { retain: true }))).toBe('stored');
        expect(await retained.set(message('a/b', 'two', { retain: true, qos: 2 }))).toBe('replaced');
        expect(await retained.get('a/b')).toEqual(message('a/b', 'two', { retain: true, qos: 2 }));
        expect(await retained.size()).toBe(1);
        expect(await retained.set(message('a/b', '', { retain: true }))).toBe('deleted');
        expect(await retained.set(message('a/b', '', { retain: true }))).toBe('absent');
        expect(await retained.get('a/b')).toBeUndefined();
        expect(await retained.size()).toBe(0);
        await retained.set(message('x', 'x'));
        expect((await retained.get('x'))?.retain).toBe(true);
        expect(await retained.delete('x')).toBe(true);
        expect(await retained.delete('x')).toBe(false);
      });

      it('finds every retained message matching a filter, in topic order', async () => {
        const { retained } = await open();
        const topics = ['a', 'a/b', 'a/c', 'a/b/c', 'b/b', '/lead', 'a//x', '$SYS/x', '$SYS/y/z'];
        for (const topic of topics) await retained.set(message(topic, topic));
        const match = async (filter: string) => (await retained.match(filter)).map((m) => m.topic);
        expect(await match('#')).toEqual(['/lead', 'a', 'a//x', 'a/b', 'a/b/c', 'a/c', 'b/b']);
        expect(await match('a/#')).toEqual(['a', 'a//x', 'a/b', 'a/b/c', 'a/c']);
        expect(await match('a/+')).toEqual(['a/b', 'a/c']);
        expect(await match('+/b')).toEqual(['a/b', 'b/b']);
        expect(await match('+/+/x')).toEqual(['a//x']);
        expect(await match('+')).toEqual(['a']);
        expect(await match('+/lead')).toEqual(['/lead']);
        expect(await match('a/b')).toEqual(['a/b']);
        expect(await match('a/b/c/d')).toEqual([]);
        expect(await match('$SYS/#')).toEqual(['$SYS/x', '$SYS/y/z']);
        expect(await match('$SYS/+')).toEqual(['$SYS/x']);
        expect(await match('+/x')).toEqual([]);
      });

      it('handles topics of many levels without overflowing the stack', async () => {
        const { retained } = await open();
        const deep = '/'.repeat(20_000);
        await retained.set(message(deep, 'deep'));
        expect((await retained.match('#')).map((m) => m.payload.toString())).toEqual(['deep']);
      });

      it('keeps topics and client ids of up to 65 535 bytes (longer than a database key)', async () => {
        const { retained, sessions, wills } = await open();
        const longTopic = `a/${'é'.repeat(30_000)}`;
        const otherTopic = `a/${'é'.repeat(29_999)}x`;
        await retained.set(message(longTopic, 'long'));
        await retained.set(message(otherTopic, 'other'));
        expect((await retained.get(longTopic))?.payload.toString()).toBe('long');
        expect((await retained.match('a/+')).map((m) => m.payload.toString())).toEqual(['other', 'long']);
        const longId = 'c'.repeat(65_535);
        await sessions.open(longId, { clean: false });
        await sessions.enqueue(longId, message('t', 'queued'));
        await wills.set(longId, message('w', 'will'));
        expect((await sessions.backlog(longId)).map((q) => q.message.payload.toString())).toEqual(['queued']);
        expect((await sessions.list()).map((s) => s.clientId)).toEqual([longId]);
        expect((await wills.get(longId))?.clientId).toBe(longId);
        expect(await retained.delete(longTopic)).toBe(true);
        expect(await retained.size()).toBe(1);
      });

      it('refuses a new topic beyond maxRetained (replacement and deletion still work)', async () => {
        const { retained } = await open({ maxRetained: 2 });
        await retained.set(message('a', '1'));
        await retained.set(message('b', '1', { properties: { messageExpiryInterval: 1 } }));
        const error = await retained.set(message('c', '1')).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreLimitError);
        expect(error).toMatchObject({ limit: 'retained', max: 2 });
        expect(await retained.get('c')).toBeUndefined();
        expect(await retained.set(message('a', '2'))).toBe('replaced');
        // An expired retained message makes room.
        clock.advance(1_000);
        expect(await retained.set(message('c', '1'))).toBe('stored');
        expect((await retained.match('#')).map((m) => m.topic)).toEqual(['a', 'c']);
      });

      it('refuses payloads beyond maxPayloadBytes', async () => {
        const { retained } = await open({ maxPayloadBytes: 3 });
        await expect(retained.set(message('a', '1234'))).rejects.toMatchObject({
          name: 'StoreLimitError',
          limit: 'payload',
          max: 3,
        });
        expect(await retained.set(message('a', '123'))).toBe('stored');
      });

      it('respects message expiry', async () => {
        const { retained } = await open();
        await retained.set(
          message('a', '1', { properties: { messageExpiryInterval: 30, contentType: 'text/plain' } }),
        );
        clock.advance(10_000);
        expect((await retained.get('a'))?.properties).toEqual({
          messageExpiryInterval: 20,
          contentType: 'text/plain',
        });
        expect((await retained.match('a'))[0]?.properties?.messageExpiryInterval).toBe(20);
        clock.advance(20_000);
        expect(await retained.get('a')).toBeUndefined();
        expect(await retained.match('#')).toEqual([]);
      });
    });

    describe('wills', () => {
      it('sets, replaces, lists and deletes wills', async () => {
        const { wills } = await open();
        await wills.set('c1', message('will/c1', 'bye', { qos: 2, retain: true }), { delayInterval: 30 });
        await wills.set('c2', message('will/c2', 'bye2'));
        expect(await wills.get('c1')).toEqual({
          clientId: 'c1',
          message: message('will/c1', 'bye', { qos: 2, retain: true }),
          delayInterval: 30,
          storedAt: clock.time,
        });
        await wills.set('c1', message('will/c1', 'again'));
        expect((await wills.get('c1'))?.message.payload.toString()).toBe('again');
        expect((await wills.get('c1'))?.delayInterval).toBe(0);
        expect((await wills.list()).map((w) => w.clientId).sort()).toEqual(['c1', 'c2']);
        expect(await wills.size()).toBe(2);
        expect(await wills.delete('c1')).toBe(true);
        expect(await wills.delete('c1')).toBe(false);
        expect(await wills.get('c1')).toBeUndefined();
      });

      it('keeps the will message expiry interval unchanged (it counts from publication)', async () => {
        const { wills } = await open();
        await wills.set('c1', message('w', 'x', { properties: { messageExpiryInterval: 5 } }));
        clock.advance(60_000);
        expect((await wills.get('c1'))?.message.properties?.messageExpiryInterval).toBe(5);
      });

      it('refuses wills beyond maxWills and payloads beyond maxPayloadBytes', async () => {
        const { wills } = await open({ maxWills: 1, maxPayloadBytes: 3 });
        await wills.set('c1', message('w', 'abc'));
        await expect(wills.set('c2', message('w', 'x'))).rejects.toMatchObject({ limit: 'wills', max: 1 });
        await expect(wills.set('c1', message('w', 'abcd'))).rejects.toMatchObject({
          limit: 'payload',
          max: 3,
        });
        await wills.set('c1', message('w', 'new'));
        expect((await wills.get('c1'))?.message.payload.toString()).toBe('new');
      });
    });

    it('rejects invalid limits with a ConfigurationError', async () => {
      await expect(Promise.resolve().then(() => factory({ maxRetained: 0 }))).rejects.toMatchObject({
        name: 'ConfigurationError',
        option: 'maxRetained',
      });
    });
  });
}

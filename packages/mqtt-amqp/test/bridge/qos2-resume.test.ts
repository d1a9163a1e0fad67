/**
 * QoS 2 towards the client across a reconnect, through the whole stack (mqtt.js / a raw client → MqttServer →
 * bridge → AMQP → embedded backend): the PUBLISH carries the session's packet id (the same, with DUP, when
 * redelivered); a PUBREL the connection lost is re-sent on the next connection, with the same packet id, and
 * the message reaches the application exactly once — whether the PUBREL or the PUBCOMP was lost.
 */
import type { MqttClient } from 'mqtt';
import type mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../e2e/harness';
import { pollUntil } from '../support/poll';
import { RawMqttClient } from './support/raw-client';

const WAIT_MS = 20_000;

/** The payloads a client's application got, in order. */
function collect(client: MqttClient): string[] {
  const received: string[] = [];
  client.on('message', (_topic, payload) => received.push(payload.toString()));
  return received;
}

/** Resolves once `received` holds `count` payloads. */
function receivedCount(received: string[], count: number): Promise<void> {
  return pollUntil(
    () => received.length >= count,
    `${count} messages (got ${JSON.stringify(received)})`,
    WAIT_MS,
  ).then(() => undefined);
}

type Internals = {
  stream: { destroy(): void };
  incomingStore: { get(packet: unknown, cb: (error: Error | undefined, packet?: unknown) => void): unknown };
};

/**
 * The first PUBREL this mqtt.js client reads is lost with its connection: 'before' the client handled it (the
 * message never reached the application) or 'after' (handled, but the PUBCOMP never left).
 */
function loseFirstPubrel(client: MqttClient, when: 'before' | 'after'): { lost: boolean } {
  const internals = client as unknown as Internals;
  const state = { lost: false };
  if (when === 'after') {
    client.on('packetreceive', (packet) => {
      if (packet.cmd !== 'pubrel' || state.lost) return;
      state.lost = true;
      // Handled right after this event; its PUBCOMP goes to a destroyed socket.
      internals.stream.destroy();
    });
    return state;
  }
  const store = internals.incomingStore;
  const get = store.get.bind(store);
  store.get = (packet, cb) => {
    if (state.lost) return get(packet, cb);
    state.lost = true;
    internals.stream.destroy(); // the PUBREL never gets handled
    return undefined;
  };
  return state;
}

describe.each([4, 5] as const)(
  'QoS 2 to the client across a reconnect (MQTT protocol version %i)',
  (protocolVersion) => {
    let stack: Stack;
    afterEach(async () => {
      await stack.close();
    });

    it.each(['before', 'after'] as const)(
      'a PUBREL lost with the connection (%s the client handled it) is re-sent; the message arrives once',
      async (when) => {
        stack = await startStack();
        const subscriber = await stack.connect({
          clientId: `q2-resume-${when}`,
          protocolVersion,
          clean: false,
          reconnectPeriod: 50,
          ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
        });
        const received = collect(subscriber);
        await subscriber.subscribeAsync('resume/#', { qos: 2 });
        const lost = loseFirstPubrel(subscriber, when);
        let reconnects = 0;
        subscriber.on('connect', () => {
          reconnects += 1;
        });
        const publisher = await stack.connect({ clientId: `q2-pub-${when}`, protocolVersion });
        await publisher.publishAsync('resume/1', 'exactly once', { qos: 2 });
        await pollUntil(
          () => lost.lost && reconnects > 0,
          'the PUBREL to be lost and the client back',
          WAIT_MS,
        );
        await publisher.publishAsync('resume/1', 'after', { qos: 2 });
        await receivedCount(received, 2);
        // One more round: anything re-sent twice would have arrived by now.
        await publisher.publishAsync('resume/1', 'last', { qos: 2 });
        await receivedCount(received, 3);
        expect(received).toEqual(['exactly once', 'after', 'last']);
      },
      60_000,
    );

    it('the PUBLISH carries the session packet id, the same with DUP on the next connection; after PUBREC only PUBREL is re-sent', async () => {
      stack = await startStack();
      const connect = () =>
        RawMqttClient.connect(stack.port, {
          clientId: 'q2-raw',
          protocolVersion,
          clean: false,
          keepalive: 0,
          ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
        });
      const first = await connect();
      first.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'raw/#', qos: 2 }] });
      await first.client.next((p) => p.cmd === 'suback');
      const publisher = await stack.connect({ clientId: 'q2-raw-pub', protocolVersion });
      await publisher.publishAsync('raw/1', 'one', { qos: 2 });
      await publisher.publishAsync('raw/1', 'two', { qos: 2 });
      const publishes = async (client: RawMqttClient, n: number) => {
        await pollUntil(() => client.publishes().length >= n, `${n} PUBLISHes`, WAIT_MS);
        return client.publishes() as mqttPacket.IPublishPacket[];
      };
      const [one, two] = await publishes(first.client, 2);
      expect([one?.messageId, one?.dup, two?.messageId, two?.dup]).toEqual([1, false, 2, false]);
      // PUBREC for 'one' only; wait for its PUBREL, then leave without PUBCOMP.
      first.client.send({ cmd: 'pubrec', messageId: 1 });
      await first.client.next((p) => p.cmd === 'pubrel' && p.messageId === 1);
      first.client.destroy();
      await pollUntil(() => stack.gateway.bridge('q2-raw') === undefined, 'the bridge to be gone', WAIT_MS);

      const second = await connect();
      expect((second.connack as mqttPacket.IConnackPacket).sessionPresent).toBe(true);
      const pubrel = await second.client.next((p) => p.cmd === 'pubrel');
      expect(pubrel.messageId).toBe(1);
      const [again] = await publishes(second.client, 1);
      expect([again?.payload.toString(), again?.messageId, again?.dup]).toEqual(['two', 2, true]);
      // 'one' is never PUBLISHed again.
      second.client.send({ cmd: 'pubcomp', messageId: 1 });
      second.client.send({ cmd: 'pubrec', messageId: 2 });
      await second.client.next((p) => p.cmd === 'pubrel' && p.messageId === 2);
      second.client.send({ cmd: 'pubcomp', messageId: 2 });
      await publisher.publishAsync('raw/1', 'three', { qos: 2 });
      const all = await publishes(second.client, 2);
      expect(all.map((p) => [p.payload.toString(), p.messageId, p.dup])).toEqual([
        ['two', 2, true],
        ['three', 3, false],
      ]);
      second.client.send({ cmd: 'pubrec', messageId: 3 });
      await second.client.next((p) => p.cmd === 'pubrel' && p.messageId === 3);
      second.client.send({ cmd: 'pubcomp', messageId: 3 });
      await second.client.roundTrip();
      await pollUntil(
        () => stack.backend.stats().subscriptions.buffered === 0,
        'the session to be done',
        WAIT_MS,
      );
      second.client.destroy();
    });
  },
);

/**
 * Multi-tenancy end to end (`tenantFrom: 'username-prefix'`): tenants A and B use the same topic names and the
 * same client ids through one bridge and one embedded backend; nothing crosses — messages, retained messages,
 * wills, sessions, takeovers — and clients never see the tenant prefix. mqtt.js 3.1.1 and 5.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_TIMEOUT_MS, next } from '../bridge/support/harness';
import { publishMarker, type Stack, startStack } from './harness';

interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

function collect(client: MqttClient): Received[] {
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) =>
    received.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  return received;
}

/**
 * Publishes a QoS 1 marker and waits for `subscriber` to receive it: whatever was published to it before (by
 * any client of the same tenant) has arrived by then. Returns what arrived, without the marker.
 */
async function throughMarker(
  publisher: MqttClient,
  subscriber: MqttClient,
  received: Received[],
  marker: string,
): Promise<Received[]> {
  await publishMarker(publisher, subscriber, marker, EVENT_TIMEOUT_MS);
  return received.filter((m) => m.topic !== marker);
}

describe.each([4, 5] as const)('tenants (MQTT protocol version %i)', (protocolVersion) => {
  let stack: Stack;

  beforeEach(async () => {
    stack = await startStack({ bridge: { tenantFrom: 'username-prefix' } });
  });

  afterEach(async () => {
    await stack.close();
  });

  const as = (tenant: string, clientId: string, options: IClientOptions = {}) =>
    stack.connect({ clientId, username: `${tenant}/user`, protocolVersion, ...options });

  it('keeps messages inside the tenant, with the same topics and the same client ids; no prefix is seen', async () => {
    const subA = await as('A', 'sub');
    const subB = await as('B', 'sub');
    const gotA = collect(subA);
    const gotB = collect(subB);
    await subA.subscribeAsync('#', { qos: 1 });
    await subB.subscribeAsync('#', { qos: 1 });
    const pubA = await as('A', 'pub');
    const pubB = await as('B', 'pub');
    await pubA.publishAsync('t/x', 'from A', { qos: 1 });
    await pubB.publishAsync('t/x', 'from B', { qos: 1 });
    // A client of A cannot reach B by spelling B's prefix: it is scoped again.
    await pubA.publishAsync('B/t/x', 'A spelling B', { qos: 1 });

    expect(await throughMarker(pubA, subA, gotA, 'zz')).toEqual([
      { topic: 't/x', payload: 'from A', retain: false },
      { topic: 'B/t/x', payload: 'A spelling B', retain: false },
    ]);
    expect(await throughMarker(pubB, subB, gotB, 'zz')).toEqual([
      { topic: 't/x', payload: 'from B', retain: false },
    ]);
    // Same client id in both tenants: neither took the other over.
    expect(subA.connected && subB.connected && pubA.connected && pubB.connected).toBe(true);
    expect(stack.gateway.stats().clients).toBe(4);
  });

  it('keeps retained messages per tenant', async () => {
    const pubA = await as('A', 'retainer');
    const pubB = await as('B', 'retainer');
    await pubA.publishAsync('r/x', 'A value', { qos: 1, retain: true });
    await pubB.publishAsync('r/y', 'B value', { qos: 1, retain: true });

    const lateA = await as('A', 'late');
    const gotA = collect(lateA);
    await lateA.subscribeAsync('r/#', { qos: 1 });
    expect(await throughMarker(pubA, lateA, gotA, 'r/zz')).toEqual([
      { topic: 'r/x', payload: 'A value', retain: true },
    ]);
    const lateB = await as('B', 'late');
    const gotB = collect(lateB);
    await lateB.subscribeAsync('#', { qos: 1 });
    expect(await throughMarker(pubB, lateB, gotB, 'r/zz')).toEqual([
      { topic: 'r/y', payload: 'B value', retain: true },
    ]);
  });

  it('publishes a will only inside its tenant, under the topic the client named', async () => {
    const watchA = await as('A', 'watcher');
    const watchB = await as('B', 'watcher');
    const gotA = collect(watchA);
    const gotB = collect(watchB);
    await watchA.subscribeAsync('wills/#', { qos: 1 });
    await watchB.subscribeAsync('wills/#', { qos: 1 });
    const rude = await as('A', 'device', {
      will: { topic: 'wills/device', payload: Buffer.from('A device gone'), qos: 1, retain: false },
    });
    rude.stream.destroy();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no will')), EVENT_TIMEOUT_MS);
      watchA.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(gotA).toEqual([{ topic: 'wills/device', payload: 'A device gone', retain: false }]);
    const pubB = await as('B', 'pub');
    expect(await throughMarker(pubB, watchB, gotB, 'wills/zz')).toEqual([]);
  });

  it('keeps sessions per tenant: same client id, separate subscriptions, queues and takeovers', async () => {
    const first = await stack.connectAck({
      clientId: 'dev',
      username: 'A/user',
      protocolVersion,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
    });
    expect(first.connack.sessionPresent).toBe(false);
    await first.client.subscribeAsync('q/#', { qos: 1 });
    await first.client.endAsync();

    // B's 'dev' has no session, and B's publications do not reach A's offline queue.
    const inB = await stack.connectAck({
      clientId: 'dev',
      username: 'B/user',
      protocolVersion,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
    });
    expect(inB.connack.sessionPresent).toBe(false);
    await inB.client.publishAsync('q/1', 'from B', { qos: 1 });
    const pubA = await as('A', 'pub');
    await pubA.publishAsync('q/1', 'from A', { qos: 1 });

    const again = stack.connectAck({
      clientId: 'dev',
      username: 'A/user',
      protocolVersion,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
    });
    const back = await again;
    const got = collect(back.client);
    expect(back.connack.sessionPresent).toBe(true);
    expect(await throughMarker(pubA, back.client, got, 'q/zz')).toEqual([
      { topic: 'q/1', payload: 'from A', retain: false },
    ]);
    // A's 'dev' reconnecting did not take B's 'dev' over.
    expect(inB.client.connected).toBe(true);
  });

  it('refuses a client whose tenant cannot be derived (CONNACK not authorized)', async () => {
    const refused = await stack.connectExpectingFailure({
      clientId: 'x',
      username: 'nobody',
      protocolVersion,
    });
    expect(refused.code).toBe(protocolVersion === 5 ? 0x87 : 5);
    const anonymous = await stack.connectExpectingFailure({ clientId: 'y', protocolVersion });
    expect(anonymous.code).toBe(protocolVersion === 5 ? 0x87 : 5);
  });
});

describe('tenants with an authorization hook', () => {
  it('passes the tenant to the hook; shared subscriptions stay inside the tenant', async () => {
    const seen: (string | undefined)[] = [];
    const stack = await startStack({
      bridge: {
        tenantFrom: (identity) => (identity.clientId.startsWith('a-') ? 'A' : 'B'),
        authorize: ({ identity }) => {
          seen.push(identity.tenant);
          return true;
        },
      },
    });
    try {
      const subA = await stack.connect({ clientId: 'a-sub', protocolVersion: 5 });
      const subB = await stack.connect({ clientId: 'b-sub', protocolVersion: 5 });
      const gotA = collect(subA);
      const gotB = collect(subB);
      await subA.subscribeAsync('$share/g/s/#', { qos: 1 });
      await subB.subscribeAsync('$share/g/s/#', { qos: 1 });
      const pubA = await stack.connect({ clientId: 'a-pub', protocolVersion: 5 });
      const pubB = await stack.connect({ clientId: 'b-pub', protocolVersion: 5 });
      await pubA.publishAsync('s/1', 'A', { qos: 1 });
      await pubB.publishAsync('s/1', 'B', { qos: 1 });
      expect((await throughMarker(pubA, subA, gotA, 's/zz')).map((m) => m.payload)).toEqual(['A']);
      expect((await throughMarker(pubB, subB, gotB, 's/zz')).map((m) => m.payload)).toEqual(['B']);
      expect(new Set(seen)).toEqual(new Set(['A', 'B']));
      void next;
    } finally {
      await stack.close();
    }
  });
});

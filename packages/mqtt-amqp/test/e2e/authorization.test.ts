/**
 * Authorization end to end: mqtt.js clients (3.1.1 and 5) → bridge with an `authorize` hook (the shipped ACL
 * authorizer, or hooks that throw / never answer) → embedded backend. The exact PUBACK / PUBREC / SUBACK
 * codes are read off the packets mqtt.js receives.
 */
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { aclAuthorizer, parseAcl } from '../../src/authz/acl';
import type { AuthorizationDenial, Authorizer } from '../../src/authz/types';
import { EVENT_TIMEOUT_MS, next } from '../bridge/support/harness';
import { publishMarker, type Stack, startStack } from './harness';

const ACL = `
# anonymous clients may only read public/#
topic read public/#

user alice
topic readwrite alice/#
topic write public/#

user admin
topic readwrite #

pattern readwrite devices/%u/%c/#
pattern write inbox/%c
`;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function start(authorize: Authorizer, denials: AuthorizationDenial[] = [], timeoutMs?: number) {
  stack = await startStack({
    bridge: {
      authorize,
      onDenied: (denial) => denials.push(denial),
      ...(timeoutMs !== undefined ? { authorizeTimeoutMs: timeoutMs } : {}),
    },
  });
  return stack;
}

/** Publishes at QoS 1 or 2 and resolves with the reason code of the PUBACK / PUBREC (0 when none). */
function publishCode(client: MqttClient, topic: string, qos: 1 | 2, retain = false): Promise<number> {
  const ack = qos === 1 ? 'puback' : 'pubrec';
  const answered = new Promise<number>((resolve) => {
    const onPacket = (packet: Packet): void => {
      if (packet.cmd !== ack) return;
      client.off('packetreceive', onPacket);
      resolve((packet as { reasonCode?: number }).reasonCode ?? 0);
    };
    client.on('packetreceive', onPacket);
  });
  client.publish(topic, 'x', { qos, retain }, () => {});
  return answered;
}

/** Subscribes and resolves with the SUBACK codes (mqtt.js rejects MQTT 5 failures: read them off the packet). */
async function subackCodes(client: MqttClient, filters: string[]): Promise<number[]> {
  const answered = new Promise<number[]>((resolve) => {
    const onPacket = (packet: Packet): void => {
      if (packet.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve((packet as { granted: number[] }).granted);
    };
    client.on('packetreceive', onPacket);
  });
  client.subscribe(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])), () => {});
  return answered;
}

/** Collects the topics a client receives from now on. */
function collect(client: MqttClient): string[] {
  const topics: string[] = [];
  client.on('message', (topic) => topics.push(topic));
  return topics;
}

/**
 * Publishes a QoS 1 marker from `publisher` and waits until `subscriber` receives it: everything published
 * before it has arrived by then. Returns `topics` without the marker.
 */
async function throughMarker(
  publisher: MqttClient,
  subscriber: MqttClient,
  topics: string[],
  marker: string,
): Promise<string[]> {
  await publishMarker(publisher, subscriber, marker, EVENT_TIMEOUT_MS);
  return topics.filter((t) => t !== marker);
}

describe.each([4, 5] as const)(
  'authorization with an ACL file (MQTT protocol version %i)',
  (protocolVersion) => {
    const denied = protocolVersion === 5 ? 0x87 : 0;
    const subDenied = protocolVersion === 5 ? 0x87 : 0x80;

    it('answers denied publishes with the documented codes and drops them; allowed ones pass', async () => {
      const denials: AuthorizationDenial[] = [];
      const s = await start(aclAuthorizer(parseAcl(ACL)), denials);
      const admin = await s.connect({
        clientId: `admin-${protocolVersion}`,
        username: 'admin',
        protocolVersion,
      });
      const topics = collect(admin);
      await admin.subscribeAsync('#', { qos: 1 });
      const alice = await s.connect({ clientId: 'a1', username: 'alice', protocolVersion });

      expect(await publishCode(alice, 'bob/x', 1)).toBe(denied);
      expect(await publishCode(alice, 'bob/y', 2)).toBe(denied);
      expect(await publishCode(alice, 'alice/ok', 1)).toBe(0);
      // The denied messages never reached anyone; the allowed one did.
      const seen = await throughMarker(alice, admin, topics, 'alice/marker');
      expect(seen).toEqual(['alice/ok']);
      expect(denials.map((d) => [d.request.action, d.request.topic, d.cause])).toEqual([
        ['publish', 'bob/x', 'denied'],
        ['publish', 'bob/y', 'denied'],
      ]);
      expect(denials[0]?.request.identity).toMatchObject({ clientId: 'a1', username: 'alice' });
    });

    it('answers denied subscriptions with SUBACK 0x87 (MQTT 5) / 0x80 (3.1.1), filter by filter', async () => {
      const s = await start(aclAuthorizer(parseAcl(ACL)));
      const alice = await s.connect({ clientId: 'a2', username: 'alice', protocolVersion });
      // alice may only write public/#; alice/+/x is covered by alice/#; # is not covered by anything of hers.
      expect(await subackCodes(alice, ['public/#', 'alice/+/x', '#'])).toEqual([subDenied, 1, subDenied]);
      const anonymous = await s.connect({ clientId: 'anon', protocolVersion });
      expect(await subackCodes(anonymous, ['public/a/b', 'alice/x'])).toEqual([1, subDenied]);
    });

    it('substitutes %u and %c: a client reaches only its own device topics', async () => {
      const s = await start(aclAuthorizer(parseAcl(ACL)));
      const admin = await s.connect({
        clientId: `adm-${protocolVersion}`,
        username: 'admin',
        protocolVersion,
      });
      const topics = collect(admin);
      await admin.subscribeAsync('#', { qos: 1 });
      const carol = await s.connect({ clientId: 'c1', username: 'carol', protocolVersion });
      expect(await publishCode(carol, 'devices/carol/c1/temp', 1)).toBe(0);
      expect(await publishCode(carol, 'devices/carol/c2/temp', 1)).toBe(denied);
      expect(await publishCode(carol, 'devices/dave/c1/temp', 1)).toBe(denied);
      expect(await publishCode(carol, 'inbox/c1', 1)).toBe(0);
      expect(await subackCodes(carol, ['devices/carol/c1/#', 'devices/carol/#', 'inbox/c1'])).toEqual([
        1,
        subDenied,
        subDenied,
      ]);
      const seen = await throughMarker(admin, admin, topics, 'zz/marker');
      expect(seen.sort()).toEqual(['devices/carol/c1/temp', 'inbox/c1']);
    });
  },
);

describe.each([4, 5] as const)(
  'authorization hook failures and reserved addresses (MQTT %i)',
  (protocolVersion) => {
    const denied = protocolVersion === 5 ? 0x87 : 0;
    const subDenied = protocolVersion === 5 ? 0x87 : 0x80;

    it('denies (and reports) when the hook throws, rejects or does not answer in time', async () => {
      const denials: AuthorizationDenial[] = [];
      const hook: Authorizer = ({ topic }) => {
        if (topic.startsWith('throw')) throw new Error('hook bug');
        if (topic.startsWith('reject')) return Promise.reject(new Error('directory down'));
        if (topic.startsWith('slow')) return new Promise<boolean>(() => {});
        return true;
      };
      const s = await start(hook, denials, 200);
      const client = await s.connect({ clientId: 'h1', protocolVersion });
      expect(await publishCode(client, 'throw/x', 1)).toBe(denied);
      expect(await publishCode(client, 'reject/x', 1)).toBe(denied);
      expect(await publishCode(client, 'slow/x', 1)).toBe(denied);
      expect(await subackCodes(client, ['slow/#', 'ok/#'])).toEqual([subDenied, 1]);
      expect(await publishCode(client, 'ok/x', 1)).toBe(0);
      expect(denials.map((d) => d.cause)).toEqual(['error', 'error', 'timeout', 'timeout']);
    });

    it('does not read the client while a hook decides (bounded), and goes on once it answers', async () => {
      let release!: (allowed: boolean) => void;
      let called!: () => void;
      const asked = new Promise<void>((resolve) => {
        called = resolve;
      });
      const s = await start(() => {
        called();
        return new Promise<boolean>((resolve) => {
          release = resolve;
        });
      });
      const client = await s.connect({ clientId: 'slow-hook', protocolVersion });
      const code = publishCode(client, 'held/x', 1);
      await asked;
      expect(s.gateway.bridge('slow-hook')?.stats()).toMatchObject({ paused: true, queuedPublishes: 1 });
      release(true);
      expect(await code).toBe(0);
      expect(s.gateway.bridge('slow-hook')?.stats().paused).toBe(false);
    });

    it('a hook reason code is passed on to MQTT 5 clients', async () => {
      const s = await start(({ topic }) => (topic === 'full' ? 0x97 : true));
      const client = await s.connect({ clientId: 'h2', protocolVersion });
      expect(await publishCode(client, 'full', 1)).toBe(protocolVersion === 5 ? 0x97 : 0);
      expect(await subackCodes(client, ['full'])).toEqual([protocolVersion === 5 ? 0x97 : 0x80]);
    });

    it('never lets a client subscribe to $mqtt addresses, even when the hook allows everything', async () => {
      const s = await start(() => true);
      const client = await s.connect({ clientId: 'h3', protocolVersion });
      expect(
        await subackCodes(client, ['$mqtt.to.victim.publish', '$mqtt.subscriptionservice', '$mqtt/#', 'ok']),
      ).toEqual([subDenied, subDenied, subDenied, 1]);
    });

    it('refuses publishing to a $mqtt service address (MQTT 5: PUBACK 0x87; 3.1.1: connection closed)', async () => {
      const s = await start(() => true);
      const client = await s.connect({ clientId: 'h4', protocolVersion });
      if (protocolVersion === 5) {
        expect(await publishCode(client, '$mqtt.subscriptionservice', 1)).toBe(0x87);
        expect(await publishCode(client, '$mqtt.to.h4.publish', 1)).toBe(0x87);
      } else {
        const closed = next(client, 'close');
        client.publish('$mqtt.willservice', 'x', { qos: 1 });
        await closed;
      }
    });
  },
);

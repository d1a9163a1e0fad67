/**
 * MQTT 5 session expiry end to end: mqtt.js 5 and 3.1.1 clients → bridge → embedded backend. The session
 * expiry interval travels as `x-opt-mqtt-session-expiry` on AMQP_LIST / AMQP_CLOSE (and AMQP_SESSION_EXPIRY for
 * a DISCONNECT that changes it); the Subscription service ends a session once its client has been gone longer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { openLmdbStores } from '../../src/store/index';
import type { Stores } from '../../src/types';
import { pollUntil } from '../support/poll';
import { receivedCount, type Stack, startStack } from './harness';

const WAIT_MS = 15_000;

interface Received {
  topic: string;
  payload: string;
}

function collect(client: MqttClient): Received[] {
  const received: Received[] = [];
  client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
  return received;
}

describe('MQTT 5 session expiry through the bridge', () => {
  let stack: Stack | undefined;
  let stores: Stores | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await stack?.close();
    stack = undefined;
    await stores?.close();
    stores = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const stats = () => (stack as Stack).backend.stats().subscriptions;

  /** Waits until the backend holds `sessions` sessions of which `connected` are connected. */
  const sessionsAre = (sessions: number, connected: number) =>
    pollUntil(
      () => stats().sessions === sessions && stats().connected === connected,
      `${sessions} sessions, ${connected} connected (now ${JSON.stringify(stats())})`,
      WAIT_MS,
    );

  it('v5 clean start false without an expiry interval: the session ends with the connection', async () => {
    stack = await startStack();
    const first = await stack.connectAck({ clientId: 'brief', protocolVersion: 5, clean: false });
    expect(first.connack.sessionPresent).toBe(false);
    await first.client.subscribeAsync('brief/#', { qos: 1 });
    await first.client.endAsync();
    await sessionsAre(0, 0);

    const pub = await stack.connect({ clientId: 'brief-pub', protocolVersion: 5 });
    await pub.publishAsync('brief/1', 'while away', { qos: 1 });

    const again = await stack.connectAck({ clientId: 'brief', protocolVersion: 5, clean: false });
    expect(again.connack.sessionPresent).toBe(false);
    const received = collect(again.client);
    // The old subscription is gone: a new publication on its topic does not arrive, a probe after it does.
    await again.client.subscribeAsync('probe', { qos: 1 });
    await pub.publishAsync('brief/2', 'after', { qos: 1 });
    await pub.publishAsync('probe', 'probe', { qos: 1 });
    await receivedCount(again.client, received, 1, WAIT_MS);
    expect(received).toEqual([{ topic: 'probe', payload: 'probe' }]);
  });

  it('v5 session expiry 60 s: session present, the QoS 1 backlog arrives in order', async () => {
    stack = await startStack();
    const properties = { sessionExpiryInterval: 60 };
    const first = await stack.connectAck({ clientId: 'kept', protocolVersion: 5, clean: false, properties });
    await first.client.subscribeAsync('kept/#', { qos: 1 });
    await first.client.endAsync();
    await sessionsAre(1, 0);

    const pub = await stack.connect({ clientId: 'kept-pub', protocolVersion: 5 });
    for (let i = 1; i <= 5; i++) await pub.publishAsync('kept/x', `m${i}`, { qos: 1 });

    const again = await stack.connectAck({ clientId: 'kept', protocolVersion: 5, clean: false, properties });
    expect(again.connack.sessionPresent).toBe(true);
    const received = collect(again.client);
    await receivedCount(again.client, received, 5, WAIT_MS);
    expect(received.map((m) => m.payload)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('v5 clean start true with an expiry interval: a fresh session that outlives the connection', async () => {
    stack = await startStack();
    const properties = { sessionExpiryInterval: 60 };
    const first = await stack.connectAck({ clientId: 'fresh', protocolVersion: 5, clean: true, properties });
    expect(first.connack.sessionPresent).toBe(false);
    await first.client.subscribeAsync('fresh/#', { qos: 1 });
    await first.client.endAsync();
    await sessionsAre(1, 0);
    const pub = await stack.connect({ clientId: 'fresh-pub', protocolVersion: 5 });
    await pub.publishAsync('fresh/1', 'kept for you', { qos: 1 });
    const again = await stack.connectAck({ clientId: 'fresh', protocolVersion: 5, clean: false, properties });
    expect(again.connack.sessionPresent).toBe(true);
    const received = collect(again.client);
    await receivedCount(again.client, received, 1, WAIT_MS);
    expect(received[0]?.payload).toBe('kept for you');
  });

  it('v5 short expiry: the session ends after it, and a longer-delayed will is published then', async () => {
    stack = await startStack();
    const watcher = await stack.connect({ clientId: 'watcher', protocolVersion: 5 });
    const wills = collect(watcher);
    await watcher.subscribeAsync('wills/#', { qos: 1 });
    const client = await stack.connect({
      clientId: 'short',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 1 },
      will: {
        topic: 'wills/short',
        payload: Buffer.from('short gone'),
        qos: 1,
        retain: false,
        // An hour: only the session's end (after 1 s) can publish it within this test's time.
        properties: { willDelayInterval: 3_600 },
      },
    });
    await client.subscribeAsync('short/#', { qos: 1 });
    await sessionsAre(2, 2);
    client.stream.destroy(); // gone without DISCONNECT: the will is due, after its delay or the session's end

    await receivedCount(watcher, wills, 1, WAIT_MS);
    expect(wills).toEqual([{ topic: 'wills/short', payload: 'short gone' }]);
    await sessionsAre(1, 1);
    expect(stack.backend.stats().wills).toMatchObject({ wills: 0, pending: 0, published: 1 });

    const again = await stack.connectAck({
      clientId: 'short',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 1 },
    });
    expect(again.connack.sessionPresent).toBe(false);
  });

  it('v5 expiry 0 and a delayed will: the will goes when the connection is lost (the session ends then)', async () => {
    stack = await startStack();
    const watcher = await stack.connect({ clientId: 'watcher0', protocolVersion: 5 });
    const wills = collect(watcher);
    await watcher.subscribeAsync('wills0/#', { qos: 1 });
    const client = await stack.connect({
      clientId: 'zero',
      protocolVersion: 5,
      will: {
        topic: 'wills0/zero',
        payload: Buffer.from('zero gone'),
        qos: 1,
        retain: false,
        properties: { willDelayInterval: 3_600 },
      },
    });
    client.stream.destroy();
    await receivedCount(watcher, wills, 1, WAIT_MS);
    expect(wills).toEqual([{ topic: 'wills0/zero', payload: 'zero gone' }]);
  });

  it('a DISCONNECT with a new session expiry interval changes it', async () => {
    stack = await startStack();
    const properties = { sessionExpiryInterval: 3_600 };
    // 3 600 → 0: the session ends with this connection after all.
    const ending = await stack.connect({ clientId: 'ending', protocolVersion: 5, clean: false, properties });
    await ending.subscribeAsync('ending/#', { qos: 1 });
    // 0 → kept? Not allowed by MQTT; 3 600 → 1: the session ends a second after the connection.
    const shorter = await stack.connect({
      clientId: 'shorter',
      protocolVersion: 5,
      clean: false,
      properties,
    });
    await shorter.subscribeAsync('shorter/#', { qos: 1 });
    await sessionsAre(2, 2);

    await ending.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    await sessionsAre(1, 1);
    await shorter.endAsync(false, { properties: { sessionExpiryInterval: 1 } });
    await sessionsAre(0, 0);

    for (const clientId of ['ending', 'shorter']) {
      const again = await stack.connectAck({ clientId, protocolVersion: 5, clean: false, properties });
      expect(again.connack.sessionPresent).toBe(false);
      await again.client.endAsync();
    }
  });

  it('caps the session expiry interval at maxSessionExpirySeconds and says so in CONNACK', async () => {
    stack = await startStack({ bridge: { maxSessionExpirySeconds: 1 } });
    const { client, connack } = await stack.connectAck({
      clientId: 'capped',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 3_600 },
    });
    expect(connack.properties?.sessionExpiryInterval).toBe(1);
    await client.subscribeAsync('capped/#', { qos: 1 });
    await client.endAsync();
    await sessionsAre(0, 0);
  });

  it('3.1.1 clean session false still keeps the session', async () => {
    stack = await startStack();
    const first = await stack.connectAck({ clientId: 'classic', protocolVersion: 4, clean: false });
    await first.client.subscribeAsync('classic/#', { qos: 1 });
    await first.client.endAsync();
    await sessionsAre(1, 0);
    const pub = await stack.connect({ clientId: 'classic-pub', protocolVersion: 4 });
    await pub.publishAsync('classic/1', 'kept', { qos: 1 });
    const again = await stack.connectAck({ clientId: 'classic', protocolVersion: 4, clean: false });
    expect(again.connack.sessionPresent).toBe(true);
    const received = collect(again.client);
    await receivedCount(again.client, received, 1, WAIT_MS);
    expect(received[0]?.payload).toBe('kept');
  });

  it('LMDB: a session whose expiry passed while the backend was down is gone, one within it is kept', async () => {
    dir = mkdtempSync(join(tmpdir(), 'dragoman-expiry-'));
    // A clock of our own, so that "the backend was down for 10 s" needs no waiting.
    let clock = Date.now();
    const now = () => clock;
    stores = openLmdbStores({ path: dir, now });
    stack = await startStack({ backend: { store: stores, now } });
    for (const [clientId, sessionExpiryInterval] of [
      ['lapsed', 5],
      ['lasting', 3_600],
    ] as const) {
      const client = await stack.connect({
        clientId,
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval },
      });
      await client.subscribeAsync(`${clientId}/#`, { qos: 1 });
      await client.endAsync();
    }
    await sessionsAre(2, 0);
    const pub = await stack.connect({ clientId: 'lmdb-pub', protocolVersion: 5 });
    await pub.publishAsync('lasting/1', 'across the restart', { qos: 1 });
    await pub.endAsync();
    await stack.close();
    stack = undefined;
    await stores.close();

    clock += 10_000;
    stores = openLmdbStores({ path: dir, now });
    stack = await startStack({ backend: { store: stores, now } });
    expect(stats().sessions).toBe(1);
    const properties = { sessionExpiryInterval: 3_600 };
    const lapsed = await stack.connectAck({
      clientId: 'lapsed',
      protocolVersion: 5,
      clean: false,
      properties,
    });
    expect(lapsed.connack.sessionPresent).toBe(false);
    const lasting = await stack.connectAck({
      clientId: 'lasting',
      protocolVersion: 5,
      clean: false,
      properties,
    });
    expect(lasting.connack.sessionPresent).toBe(true);
    const received = collect(lasting.client);
    await receivedCount(lasting.client, received, 1, WAIT_MS);
    expect(received[0]?.payload).toBe('across the restart');
  });
});

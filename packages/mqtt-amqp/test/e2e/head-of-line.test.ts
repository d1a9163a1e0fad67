/**
 * Clients that share a pooled AMQP connection must not hold each other up: a client that never answers one
 * QoS 1 delivery (its PUBACK never comes) or one QoS 2 exchange (its PUBREL never comes) keeps that AMQP
 * delivery unsettled, and the session it travels on frees its window slots only in delivery order.
 */
import { EventEmitter, once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { RawMqttClient } from '../bridge/support/raw-client';
import { publishInBatches, type Stack, startStack } from './harness';

const TIMEOUT_MS = 60_000;
/** More deliveries than a rhea session's window (2048) after the one left unsettled. */
const MESSAGES = 3_000;

describe('head of line: one stuck client on a pooled AMQP connection', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('a subscriber that never PUBACKs one QoS 1 message does not stop deliveries to another client', async () => {
    stack = await startStack({ bridge: { poolSize: 1 } });
    const running = stack;
    const stuck = await running.connect({ clientId: 'hol-stuck' });
    const stuckGot = new EventEmitter();
    stuck.handleMessage = () => {
      // Never acknowledged.
      stuckGot.emit('message');
    };
    await stuck.subscribeAsync('hol/stuck', { qos: 1 });
    const healthy = await running.connect({ clientId: 'hol-healthy' });
    const received = new Set<string>();
    const arrivals = new EventEmitter();
    healthy.on('message', (_topic, payload) => {
      received.add(payload.toString());
      if (received.size === MESSAGES) arrivals.emit('all');
    });
    await healthy.subscribeAsync('hol/healthy', { qos: 1 });
    const publisher = await running.connect({ clientId: 'hol-pub' });
    const delivered = once(stuckGot, 'message', { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await publisher.publishAsync('hol/stuck', 'never acknowledged', { qos: 1 });
    await delivered;

    const everything = once(arrivals, 'all', { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await publishInBatches(publisher, 'hol/healthy', MESSAGES, { qos: 1 });
    await everything;
    expect(received.size).toBe(MESSAGES);
  });

  it('a publisher that never sends PUBREL for one QoS 2 PUBLISH does not stop another client publishing', async () => {
    stack = await startStack({ bridge: { poolSize: 1 } });
    const running = stack;
    const subscriber = await running.connect({ clientId: 'hol2-sub' });
    const received = new Set<string>();
    const arrivals = new EventEmitter();
    subscriber.on('message', (_topic, payload) => {
      received.add(payload.toString());
      if (received.size === MESSAGES) arrivals.emit('all');
    });
    await subscriber.subscribeAsync('hol2/t', { qos: 1 });

    // A raw QoS 2 PUBLISH answered with PUBREC, never followed by PUBREL (mqtt.js would always send it).
    const { client: stuck } = await RawMqttClient.connect(running.port, {
      protocolVersion: 4,
      clientId: 'hol2-stuck',
      clean: true,
      keepalive: 0,
    });
    const pubrec = stuck.next((p) => p.cmd === 'pubrec');
    stuck.send({
      cmd: 'publish',
      topic: 'hol2/other',
      payload: Buffer.from('x'),
      qos: 2,
      messageId: 1,
      dup: false,
      retain: false,
    });
    await pubrec;

    const publisher = await running.connect({ clientId: 'hol2-pub' });
    const everything = once(arrivals, 'all', { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await publishInBatches(publisher, 'hol2/t', MESSAGES, { qos: 1 });
    await everything;
    expect(received.size).toBe(MESSAGES);
  });
});

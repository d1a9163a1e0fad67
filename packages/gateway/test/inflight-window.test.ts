/**
 * `--max-inflight` on the embedded backend: a client that acknowledges nothing gets that many QoS 1 PUBLISHes,
 * also beyond the backend's own default window (100 per session), and a few PUBACKs (fewer than the bridge's
 * credit batch) let as many more through, with nothing else happening.
 */
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from '../src/index';
import { mqttConnect } from './support/peers';
import { RawMqttClient } from './support/raw-mqtt-client';

const silent = pino({ level: 'silent' });
const TOPIC = 'window/in-flight';
/** Acknowledged at once: fewer than a quarter of the window, the bridge's credit batch. */
const QUEUED = 20;

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function publisher(port: number): Promise<MqttClient> {
  const client = await mqttConnect(`mqtt://127.0.0.1:${port}`, {
    clientId: 'window-pub',
    protocolVersion: 4,
  });
  cleanups.push(() => {
    client.end(true);
  });
  return client;
}

describe('--max-inflight on the embedded backend', () => {
  // 150: above the embedded backend's default in-memory window; 100: at it.
  it.each([
    [4, 150],
    [5, 150],
    [4, 100],
  ] as const)(
    'MQTT version %i, --max-inflight %i: the whole window is in flight to a client that has not acknowledged',
    async (version, maxInflight) => {
      const gateway = await startGateway(
        { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', maxInflight },
        { logger: silent },
      );
      cleanups.push(() => gateway.close(2_000));
      const port = gateway.addresses.mqtt?.port;
      if (port === undefined) throw new Error('the gateway has no MQTT listener');

      const { client: device } = await RawMqttClient.connect(port, `window-${version}`, { version });
      cleanups.push(() => device.destroy());
      await device.subscribe(TOPIC, 1);
      const source = await publisher(port);
      const payloads = Array.from({ length: maxInflight + QUEUED }, (_, i) => `m${i}`);
      // The window's messages are taken at once; those beyond it wait for room (the backend holds the
      // publisher back, so their PUBACKs wait too).
      const published = payloads.map((payload) => source.publishAsync(TOPIC, payload, { qos: 1 }));
      await Promise.all(published.slice(0, maxInflight));

      const window = await device.publishesUpTo(maxInflight);
      expect(window.map((p) => p.payload.toString())).toEqual(payloads.slice(0, maxInflight));
      expect(new Set(window.map((p) => p.messageId)).size).toBe(maxInflight);

      // Acknowledged, they make room for the ones behind them, in order.
      for (const { messageId } of window.slice(0, QUEUED)) device.send({ cmd: 'puback', messageId });
      await Promise.all(published);
      const all = await device.publishesUpTo(maxInflight + QUEUED);
      expect(all.map((p) => p.payload.toString())).toEqual(payloads);
    },
  );
});

/**
 * MQTT DUP on a redelivery after a gateway restart on a durable store (`store`): a persistent-session client
 * gets QoS 1 PUBLISHes and acknowledges none, goes away, more messages queue for it, the gateway stops (closed
 * in order, or the `dragoman` process killed with SIGKILL) and starts again on the same store. Back, the client
 * gets the PUBLISHes it had with the same packet ids and DUP = 1 ([MQTT-3.3.1-1]), then those it never had
 * with DUP = 0. A raw-socket client (it sends no PUBACK) sees the flags as the gateway wrote them.
 *
 * With `--max-inflight 100` the embedded backend holds 100 messages per session in memory (its window) and the
 * gateway lets 100 be in flight towards a client, so the client has every message of the window before the
 * restart: the 100 that may have been sent are exactly the 100 that were.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from '../src/index';
import { mqttConnect } from './support/peers';
import { assertBuilt, Dragoman } from './support/process';
import { type RawConnectOptions, RawMqttClient } from './support/raw-mqtt-client';

const silent = pino({ level: 'silent' });
/** The embedded backend's messages in memory per session: `--max-inflight` (at least 100) on the gateway. */
const WINDOW = 100;
const LATE = 5;
const TOPIC = 'dup/restart';

/** A running gateway on the store, and how it stops. */
interface Running {
  readonly mqttPort: number;
  stop(): Promise<void>;
}

type Stop = 'close' | 'kill';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** In this process, closed in order. */
async function startInProcess(store: string): Promise<Running> {
  const gateway = await startGateway(
    { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', store, maxInflight: WINDOW },
    { logger: silent },
  );
  cleanups.push(() => gateway.close(2_000).then(() => undefined));
  const mqttPort = gateway.addresses.mqtt?.port;
  if (mqttPort === undefined) throw new Error('the gateway has no MQTT listener');
  return { mqttPort, stop: () => gateway.close(5_000).then(() => undefined) };
}

/** The built `dragoman` command in its own process, killed with SIGKILL. */
async function startProcess(store: string): Promise<Running> {
  assertBuilt();
  const dragoman = new Dragoman([
    '--mqtt',
    '127.0.0.1:0',
    '--ws',
    'off',
    '--amqp-listen',
    '127.0.0.1:0',
    '--store',
    store,
    '--max-inflight',
    String(WINDOW),
    '--log-format',
    'json',
  ]);
  cleanups.push(() => dragoman.kill());
  const started = await dragoman.record((r) => r.msg === 'dragoman gateway started', 'the gateway to start');
  const url = (started.addresses as { mqtt?: string } | undefined)?.mqtt;
  if (url === undefined) throw new Error('the gateway has no MQTT listener');
  return { mqttPort: Number(new URL(url).port), stop: () => dragoman.kill() };
}

async function connectRaw(port: number, clientId: string, options: RawConnectOptions) {
  const connected = await RawMqttClient.connect(port, clientId, options);
  cleanups.push(() => connected.client.destroy());
  return connected;
}

async function publisher(port: number, clientId: string): Promise<MqttClient> {
  const client = await mqttConnect(`mqtt://127.0.0.1:${port}`, { clientId, protocolVersion: 4 });
  cleanups.push(() => {
    client.end(true);
  });
  return client;
}

/** Payload, packet id and DUP of each PUBLISH. */
function seen(publishes: readonly IPublishPacket[]): Array<[string, number | undefined, boolean]> {
  return publishes.map((p) => [p.payload.toString(), p.messageId, p.dup]);
}

const early = Array.from({ length: WINDOW }, (_, i) => `m${i}`);
const late = Array.from({ length: LATE }, (_, i) => `late${i}`);

describe.each([
  ['closed in order', 'close'],
  ['killed (SIGKILL)', 'kill'],
] as const)('gateway on a durable store %s and started again', (_title, stop: Stop) => {
  const versions: Array<[string, RawConnectOptions]> = [
    ['3.1.1', { version: 4 }],
    ['5', { version: 5, sessionExpiryInterval: 3_600 }],
  ];
  it.each(versions)(
    'MQTT %s: unacknowledged PUBLISHes come again with their packet ids and DUP, the others without',
    async (_version, options) => {
      const store = mkdtempSync(join(tmpdir(), 'dragoman-dup-restart-'));
      cleanups.push(() => rmSync(store, { recursive: true, force: true }));
      const start = stop === 'close' ? startInProcess : startProcess;
      const clientId = `dup-${stop}-${options.version}`;

      const first = await start(store);
      const { client: device } = await connectRaw(first.mqttPort, clientId, options);
      await device.subscribe(TOPIC, 1);
      const source = await publisher(first.mqttPort, `${clientId}-pub`);
      for (const payload of early) await source.publishAsync(TOPIC, payload, { qos: 1 });
      const before = seen(await device.publishesUpTo(WINDOW));
      expect(before).toEqual(early.map((payload, i) => [payload, i + 1, false]));
      // The device goes without acknowledging anything; what comes now waits in its session (the publisher's
      // PUBACK says it is stored).
      device.destroy();
      for (const payload of late) await source.publishAsync(TOPIC, payload, { qos: 1 });
      source.end(true);
      await first.stop();

      const second = await start(store);
      const { client: again, connack } = await connectRaw(second.mqttPort, clientId, options);
      expect(connack.sessionPresent).toBe(true);
      const redelivered = seen(await again.publishesUpTo(WINDOW));
      expect(redelivered).toEqual(early.map((payload, i) => [payload, i + 1, true]));
      // Acknowledged now, they make room for the ones queued behind them.
      for (const [, messageId] of redelivered) again.send({ cmd: 'puback', messageId });
      const after = seen(await again.publishesUpTo(WINDOW + LATE));
      expect(after.slice(WINDOW)).toEqual(late.map((payload, i) => [payload, WINDOW + i + 1, false]));
    },
  );
});

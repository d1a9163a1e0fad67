/**
 * Fault injection: the backend (the embedded AMQP backend on its durable LMDB store) restarts in the middle of
 * a stream to a persistent-session MQTT subscriber. The backend listens on a fixed port; it is stopped either
 * in order (`close()`, in this process) or abruptly (SIGKILL of the process it runs in), and a new one starts
 * on the same port and LMDB path. The MQTT side is the gateway (`startGateway`) using the backend as its
 * external AMQP network: it notices the lost AMQP connections and ends its MQTT clients, which mqtt.js
 * reconnects (clean: false).
 *
 * - MQTT → MQTT: an mqtt.js publisher (clean: false; it re-sends what was not acknowledged) → gateway →
 *   backend → gateway → mqtt.js subscriber.
 * - AMQP → MQTT: rhea used directly as a native publisher on the backend (it connects again and finishes
 *   its unfinished exchanges, support/resending-amqp-sender.ts) → backend → gateway → mqtt.js subscriber.
 *
 * QoS 1: everything the publisher got acknowledged reaches the subscriber (duplicates allowed, counted).
 * QoS 2: everything reaches the subscriber exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningGateway, startGateway } from '@dragoman/gateway';
import mqtt, { type MqttClient } from 'mqtt';
import type { Connection } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port';
import { rheaClose, rheaConnect } from '../support/rhea-client';
import { withTimeout } from '../support/wait';
import { sendWithQos } from './support/amqp-qos-sender';
import { ArrivalTally } from './support/arrival-tally';
import { publishAll } from './support/publish-all';
import { ResendingAmqpSender } from './support/resending-amqp-sender';
import {
  type BackendStop,
  type RestartableBackend,
  startRestartableBackend,
} from './support/restartable-backend';

const MESSAGES = 400;
/** The restart comes once this many messages have arrived and this many have been acknowledged. */
const RESTART_AFTER = 100;
const ACKNOWLEDGED_BEFORE_RESTART = 50;
const WAIT_MS = 90_000;

type QoS = 1 | 2;

const END = 'end-of-stream';
const ids = Array.from({ length: MESSAGES }, (_, i) => `msg-${String(i).padStart(4, '0')}`);

const stops = [
  ['closed in order', 'close'],
  ['killed (SIGKILL)', 'kill'],
] as const;

/** mqtt.js speaks MQTT 3.1.1 (4) or 5. */
type MqttVersion = 4 | 5;

function connectMqtt(url: string, clientId: string, version: MqttVersion): Promise<MqttClient> {
  // mqtt.js's own reconnect brings the client back once the gateway has an AMQP network again. While the
  // backend is down the gateway answers CONNECT with "server unavailable", after which mqtt.js stops
  // reconnecting unless told otherwise (reconnectOnConnackError), as a device should keep trying.
  const client = mqtt.connect(url, {
    clientId,
    clean: false,
    reconnectPeriod: 250,
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    protocolVersion: version,
    // MQTT 5: without a session expiry interval the session ends with the connection, clean start or not.
    ...(version === 5 ? { properties: { sessionExpiryInterval: 3_600 } } : {}),
  });
  client.on('error', () => {});
  return withTimeout(
    new Promise<MqttClient>((resolve) => client.once('connect', () => resolve(client))),
    20_000,
    `${clientId} to connect`,
  );
}

function report(what: string, tally: ArrivalTally, before: { acked: number; received: number }): string[] {
  const duplicates = tally.duplicates();
  console.log(
    `${what}: ${before.acked} acknowledged and ${before.received} received before the restart; in the end ` +
      `${tally.distinct - (tally.counts.has(END) ? 1 : 0)}/${MESSAGES} delivered, lost ${tally.missing().length}, ` +
      `duplicated ${duplicates.length}${duplicates.length > 0 ? ` (${duplicates.slice(0, 3).join(', ')}…)` : ''}`,
  );
  return duplicates;
}

describe('the backend restarts on its durable store during a stream to a persistent-session subscriber', () => {
  let backend: RestartableBackend | undefined;
  let gateway: RunningGateway | undefined;
  let dir: string | undefined;
  const clients: MqttClient[] = [];
  const senders: ResendingAmqpSender[] = [];
  const connections: Connection[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.end(true);
    for (const sender of senders.splice(0)) await sender.close();
    for (const connection of connections.splice(0)) await rheaClose(connection).catch(() => {});
    await gateway?.close(5_000);
    gateway = undefined;
    await backend?.dispose();
    backend = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Backend on a fixed port and a fresh LMDB dir, the gateway on it, a subscriber counting arrivals. */
  async function startStack(stop: BackendStop, qos: QoS, name: string, version: MqttVersion = 4) {
    dir = mkdtempSync(join(tmpdir(), 'dragoman-backend-restart-'));
    const port = await freePort();
    backend = await startRestartableBackend({ port, dir, stop });
    gateway = await startGateway({ mqtt: '127.0.0.1:0', ws: 'off', amqp: backend.url, logLevel: 'silent' });
    const url = gateway.addresses.mqtt?.url;
    if (url === undefined) throw new Error('the gateway has no MQTT listener');
    const topic = `faults/backend-restart/${name}`;
    const tally = new ArrivalTally(ids);
    const subscriber = await connectMqtt(url, `${name}-sub`, version);
    clients.push(subscriber);
    subscriber.on('message', (_topic, payload) => tally.add(payload.toString()));
    await subscriber.subscribeAsync(topic, { qos });
    return { backend, port, url, topic, tally };
  }

  describe.each(stops)('backend %s, MQTT → MQTT', (_title, stop: BackendStop) => {
    for (const [version, qos] of [
      [4, 1],
      [4, 2],
      [5, 1],
      [5, 2],
    ] as const) {
      const name = `mqtt${version}-${stop}-${qos}`;
      it(`MQTT ${version === 4 ? '3.1.1' : '5'}, QoS ${qos}: every acknowledged PUBLISH reaches the subscriber`, async () => {
        const { backend, url, topic, tally } = await startStack(stop, qos, name, version);
        const publisher = await connectMqtt(url, `${name}-pub`, version);
        clients.push(publisher);
        const {
          acked,
          failures,
          allAnswered: allAcked,
        } = publishAll(publisher, topic, ids, qos, () => tally.progress());

        // Mid-stream, and the stream flows: messages arrive and the publisher gets its acknowledgements.
        await tally.until(
          () => tally.distinct >= RESTART_AFTER && acked.size >= ACKNOWLEDGED_BEFORE_RESTART,
          () =>
            `${RESTART_AFTER} messages and ${ACKNOWLEDGED_BEFORE_RESTART} acknowledgements before the restart ` +
            `(${acked.size} acknowledged)`,
          WAIT_MS,
        );
        await backend.stop();
        const ackedBeforeRestart = [...acked];
        const receivedBeforeRestart = tally.distinct;
        await backend.start();

        await tally.until(
          () => tally.missing(ackedBeforeRestart).length === 0,
          'every message acknowledged before the restart',
          WAIT_MS,
        );
        await withTimeout(allAcked, WAIT_MS, 'the publisher to get every acknowledgement after the restart');
        await tally.until(() => tally.missing().length === 0, `all ${MESSAGES} messages`, WAIT_MS);
        // A last message after everything: re-sends still on their way arrive before it, so they are counted.
        await publisher.publishAsync(topic, END, { qos });
        await tally.until(() => tally.counts.has(END), 'the end-of-stream message', WAIT_MS);
        const duplicates = report(`MQTT ${version} → MQTT, backend ${stop}, QoS ${qos}`, tally, {
          acked: ackedBeforeRestart.length,
          received: receivedBeforeRestart,
        });
        expect(failures).toEqual([]);
        // The restart fell in the middle of the stream.
        expect(receivedBeforeRestart).toBeLessThan(MESSAGES);
        if (qos === 1) expect(ackedBeforeRestart.length).toBeGreaterThan(0);
        expect(tally.missing()).toEqual([]);
        expect(tally.unexpected([END])).toEqual([]);
        if (qos === 2) expect(duplicates).toEqual([]);
      }, 240_000);
    }
  });

  describe.each(stops)('backend %s, AMQP (rhea) → MQTT', (_title, stop: BackendStop) => {
    for (const qos of [1, 2] as const) {
      it(`QoS ${qos}: every accepted message reaches the subscriber`, async () => {
        const { backend, port, topic, tally } = await startStack(stop, qos, `amqp-${stop}-${qos}`);
        const sender = new ResendingAmqpSender({
          port,
          address: topic,
          publisherId: `amqp-${stop}-${qos}-pub`,
          bodies: ids,
          qos,
          reconnectTimeoutMs: WAIT_MS,
        });
        senders.push(sender);
        const gaveUp = new Promise<never>((_, reject) => sender.once('error', reject));
        gaveUp.catch(() => {});
        sender.on('progress', () => tally.progress());
        await sender.start();

        // Mid-stream, and the stream flows: messages arrive and the sender finishes exchanges.
        await tally.until(
          () => tally.distinct >= RESTART_AFTER && sender.finished >= ACKNOWLEDGED_BEFORE_RESTART,
          () =>
            `${RESTART_AFTER} messages and ${ACKNOWLEDGED_BEFORE_RESTART} finished exchanges before the ` +
            `restart (${sender.finished} finished)`,
          WAIT_MS,
        );
        await backend.stop();
        const acceptedBeforeRestart = sender.accepted;
        const receivedBeforeRestart = tally.distinct;
        await backend.start();

        const allFinished = new Promise<void>((resolve) => {
          const check = (): void => {
            if (sender.finished < MESSAGES) return;
            sender.off('progress', check);
            resolve();
          };
          sender.on('progress', check);
          check();
        });
        await withTimeout(
          Promise.race([allFinished, gaveUp]),
          WAIT_MS,
          `the sender to finish all ${MESSAGES} exchanges (finished ${sender.finished})`,
        );
        await tally.until(() => tally.missing().length === 0, `all ${MESSAGES} messages`, WAIT_MS);
        const connection = await rheaConnect({ port });
        connections.push(connection);
        const end = await sendWithQos(connection, topic, [Buffer.from(END)], qos, WAIT_MS);
        expect(end.accepted).toBe(1);
        await tally.until(() => tally.counts.has(END), 'the end-of-stream message', WAIT_MS);
        const duplicates = report(`AMQP → MQTT, backend ${stop}, QoS ${qos}`, tally, {
          acked: acceptedBeforeRestart,
          received: receivedBeforeRestart,
        });
        console.log(
          `  sender: ${sender.connections} connections, ${sender.resent} re-sent (DUP), ${sender.released} released after reconnect`,
        );
        expect(sender.failures).toEqual([]);
        expect(sender.connections).toBeGreaterThan(1);
        expect(receivedBeforeRestart).toBeLessThan(MESSAGES);
        expect(tally.missing()).toEqual([]);
        expect(tally.unexpected([END])).toEqual([]);
        if (qos === 2) expect(duplicates).toEqual([]);
      }, 240_000);
    }
  });
});

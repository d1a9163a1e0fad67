/**
 * Fault injection: the gateway's AMQP network disappears (every connection through the proxy is dropped and
 * new ones are refused) in the middle of QoS 1 and QoS 2 streams, in each direction, then comes back. The
 * receiving side counts every message id: none may be missing, and at QoS 2 none may arrive twice.
 *
 * - up: mqtt.js publisher (clean: false) → gateway → [proxy] → backend → rhea receiver attached to the backend
 * - down: rhea sender (QoS in the `x-opt-mqtt-qos` annotation) → backend → [proxy] → gateway → mqtt.js subscriber (clean: false, persistent session)
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Connection } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { rheaClose, rheaConnect, rheaReceive } from '../support/rhea-client';
import { withTimeout } from '../support/wait';
import { sendWithQos } from './support/amqp-qos-sender';
import { ArrivalTally } from './support/arrival-tally';
import { type FaultStack, startFaultStack } from './support/fault-stack';
import { publishAll } from './support/publish-all';

const MESSAGES = 300;
const OUTAGE_AFTER = 60;
const WAIT_MS = 60_000;

type QoS = 1 | 2;

const ids = Array.from({ length: MESSAGES }, (_, i) => `msg-${String(i).padStart(4, '0')}`);

function idOf(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString();
  if (typeof body === 'object' && body !== null && 'content' in body) {
    const content = (body as { content: unknown }).content;
    if (Buffer.isBuffer(content)) return content.toString();
  }
  return String(body);
}

function connectMqtt(url: string, clientId: string): Promise<MqttClient> {
  // mqtt.js's own reconnect brings the client back once the gateway serves again.
  const client = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 250, connectTimeout: 10_000 });
  client.on('error', () => {});
  return withTimeout(
    new Promise<MqttClient>((resolve) => client.once('connect', () => resolve(client))),
    20_000,
    `${clientId} to connect`,
  );
}

/** Cuts the gateway's AMQP network until it has visibly noticed (it tried to reconnect), then restores it. */
async function outage(stack: FaultStack): Promise<void> {
  const refused = new Promise<void>((resolve) => stack.proxy.events.once('refused', () => resolve()));
  stack.proxy.cut();
  await withTimeout(refused, 30_000, 'the gateway to try its AMQP network again while it is cut');
  stack.proxy.restore();
}

describe('the AMQP network disappears and comes back', () => {
  let stack: FaultStack | undefined;
  const clients: MqttClient[] = [];
  const amqp: Connection[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.end(true);
    for (const connection of amqp.splice(0)) await rheaClose(connection);
    await stack?.close();
    stack = undefined;
  });

  describe.each([1, 2] as const)('QoS %i', (qos: QoS) => {
    // QoS 2: the backend remembers the (client id, packet id) of every QoS 2 publication it routed until the
    // client's PUBREL settles it, so the PUBLISHes mqtt.js re-sends after reconnecting (same packet id and
    // content; mqtt.js does not set DUP) are accepted and not routed twice (docs/mqtt-over-amqp-mapping.md,
    // "QoS 2 from MQTT clients, across connections").
    it('MQTT → AMQP: every PUBLISH arrives at the AMQP receiver, none twice at QoS 2', async () => {
      stack = await startFaultStack();
      const topic = `faults/up/${qos}`;
      const connection = await rheaConnect({ port: stack.backendPort });
      amqp.push(connection);
      const tally = new ArrivalTally(ids);
      const receiver = rheaReceive(connection, topic, (body) => tally.add(idOf(body)));
      await receiver.attached;

      const publisher = await connectMqtt(stack.mqttUrl, `faults-up-${qos}`);
      clients.push(publisher);
      const { failures, allAnswered: allAcked } = publishAll(publisher, topic, ids, qos);
      await tally.until(
        () => tally.distinct >= OUTAGE_AFTER,
        `${OUTAGE_AFTER} messages before the outage`,
        WAIT_MS,
      );
      await outage(stack);
      await withTimeout(allAcked, WAIT_MS, 'every PUBLISH to be acknowledged');
      await tally.until(
        () => tally.distinct >= MESSAGES,
        `all ${MESSAGES} messages at the receiver`,
        WAIT_MS,
      );
      expect(failures).toEqual([]);
      expect(tally.missing(ids)).toEqual([]);
      if (qos === 2) expect(tally.duplicates()).toEqual([]);
      expect(stack.proxy.dropped).toBeGreaterThan(0);
    }, 120_000);

    // QoS 2: the session numbers its messages with packet ids and keeps the PUBREL step, so a PUBREL the
    // outage cut off is re-sent on the next connection (docs/mqtt-over-amqp-mapping.md, "QoS 2 to MQTT
    // clients, across connections").
    it('AMQP → MQTT: every message reaches the persistent-session subscriber, none twice at QoS 2', async () => {
      stack = await startFaultStack();
      const topic = `faults/down/${qos}`;
      const tally = new ArrivalTally(ids);
      const subscriber = await connectMqtt(stack.mqttUrl, `faults-down-${qos}`);
      clients.push(subscriber);
      subscriber.on('message', (_topic, payload) => tally.add(payload.toString()));
      await subscriber.subscribeAsync(topic, { qos });

      const connection = await rheaConnect({ port: stack.backendPort });
      amqp.push(connection);
      const sent = sendWithQos(
        connection,
        topic,
        ids.map((id) => Buffer.from(id)),
        qos,
        WAIT_MS,
      );
      await tally.until(
        () => tally.distinct >= OUTAGE_AFTER,
        `${OUTAGE_AFTER} messages before the outage`,
        WAIT_MS,
      );
      await outage(stack);
      const result = await sent;
      expect(result.other).toEqual([]);
      expect(result.accepted).toBe(MESSAGES);
      await tally.until(
        () => tally.distinct >= MESSAGES,
        `all ${MESSAGES} messages at the subscriber`,
        WAIT_MS,
      );
      expect(tally.missing(ids)).toEqual([]);
      if (qos === 2) expect(tally.duplicates()).toEqual([]);
    }, 120_000);
  });
});

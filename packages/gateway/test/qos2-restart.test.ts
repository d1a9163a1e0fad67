/**
 * QoS 2 exactly-once across a gateway restart on a durable store (`store`): a client whose PUBREC was lost
 * with the connection re-sends the PUBLISH (same packet id, DUP) to the restarted gateway, and the message,
 * already routed before the restart, is not routed again. The QoS 2 memory is on disk next to the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Packet } from 'mqtt-packet';
import { pino } from 'pino';
import type { Connection, Receiver } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningGateway, startGateway } from '../src/index';
import { bodyText, nextMessage, rheaConnect, rheaReceiver } from './support/peers';
import { RawMqttClient } from './support/raw-mqtt-client';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(store: string): Promise<RunningGateway> {
  const gateway = await startGateway(
    { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0', store },
    { logger: silent },
  );
  cleanups.push(() => gateway.close(2_000).then(() => undefined));
  return gateway;
}

function publish(messageId: number, payload: string, dup: boolean): Packet {
  return {
    cmd: 'publish',
    topic: 'qos2/restart',
    payload: Buffer.from(payload),
    qos: 2,
    retain: false,
    dup,
    messageId,
  };
}

async function receiverOn(gateway: RunningGateway): Promise<Receiver> {
  const connection: Connection = await rheaConnect(gateway.addresses.amqp.port);
  cleanups.push(() => {
    connection.close();
  });
  return rheaReceiver(connection, 'qos2/restart');
}

describe('QoS 2 across a gateway restart on a durable store', () => {
  it('does not route again a PUBLISH re-sent after the restart (its PUBREC was lost)', async () => {
    const store = mkdtempSync(join(tmpdir(), 'dragoman-qos2-'));
    cleanups.push(() => rmSync(store, { recursive: true, force: true }));

    const first = await start(store);
    const before = await receiverOn(first);
    const { client: device } = await RawMqttClient.connect(first.addresses.mqtt?.port ?? 0, 'qos2-device', {
      version: 4,
    });
    device.send(publish(7, 'once', false));
    expect(bodyText(await nextMessage(before))).toBe('once');
    device.destroy(); // before it reads (or answers) the PUBREC
    await first.close(5_000);

    const second = await start(store);
    const after = await receiverOn(second);
    const received: string[] = [];
    after.on('message', (context) => {
      if (context.message !== undefined) received.push(bodyText(context.message));
    });
    const { client: again } = await RawMqttClient.connect(second.addresses.mqtt?.port ?? 0, 'qos2-device', {
      version: 4,
    });
    cleanups.push(() => again.destroy());
    again.send(publish(7, 'once', true));
    await again.next((p) => p.cmd === 'pubrec' && p.messageId === 7, 'PUBREC 7');
    again.send({ cmd: 'pubrel', messageId: 7 });
    await again.next((p) => p.cmd === 'pubcomp' && p.messageId === 7, 'PUBCOMP 7');
    // A new message behind it: once it has arrived, a second copy of the first would have too.
    again.send(publish(8, 'marker', false));
    await again.next((p) => p.cmd === 'pubrec' && p.messageId === 8, 'PUBREC 8');
    while (!received.includes('marker')) await nextMessage(after);
    expect(received).toEqual(['marker']);
  });
});

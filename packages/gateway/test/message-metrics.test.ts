/**
 * `dragoman_mqtt_messages_total`: every PUBLISH mqtt.js clients send (`in`) and every one the gateway completes
 * with a client (`out`), by QoS, exactly once each, whichever scrape reads them.
 */
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningGateway, startGateway } from '../src/index';
import { mqttConnect, next, sample, WAIT_MS } from './support/peers';

const silent = pino({ level: 'silent' });
const gateways: RunningGateway[] = [];
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await Promise.all(gateways.splice(0).map((g) => g.close(2_000)));
});

function counts(text: string, direction: 'in' | 'out'): number[] {
  return ['0', '1', '2'].map((qos) => sample(text, 'dragoman_mqtt_messages_total', { direction, qos }));
}

/** Resolves once `client` has sent `count` packets of type `cmd` (counted from the call). */
function sent(client: MqttClient, cmd: Packet['cmd'], count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      client.off('packetsend', onPacket);
      reject(new Error(`${seen} of ${count} ${cmd} sent`));
    }, WAIT_MS);
    const onPacket = (packet: Packet): void => {
      if (packet.cmd !== cmd || ++seen < count) return;
      clearTimeout(timer);
      client.off('packetsend', onPacket);
      resolve();
    };
    client.on('packetsend', onPacket);
  });
}

describe('dragoman_mqtt_messages_total', () => {
  it('counts each client PUBLISH (in) and each one completed with a client (out) once, by QoS', async () => {
    const gateway = await startGateway(
      { mqtt: '127.0.0.1:0', ws: 'off', amqpListen: '127.0.0.1:0' },
      { logger: silent },
    );
    gateways.push(gateway);
    const url = gateway.addresses.mqtt?.url ?? '';
    const scrape = (): Promise<string> => gateway.metrics.metrics();
    expect(counts(await scrape(), 'in')).toEqual([0, 0, 0]);
    expect(counts(await scrape(), 'out')).toEqual([0, 0, 0]);

    const subscriber = await mqttConnect(url, { clientId: 'counted-sub', protocolVersion: 5 });
    const publisher = await mqttConnect(url, { clientId: 'counted-pub', protocolVersion: 4 });
    clients.push(subscriber, publisher);
    await subscriber.subscribeAsync('count/#', { qos: 2 });
    let received = 0;
    subscriber.on('message', () => {
      received += 1;
    });
    const allReceived = new Promise<void>((resolve) => {
      subscriber.on('message', () => {
        if (received === 6) resolve();
      });
    });
    // The subscriber's PUBACKs (3) and its PUBCOMP (1): the gateway completes each 'out' message on them.
    const acked = Promise.all([sent(subscriber, 'puback', 3), sent(subscriber, 'pubcomp', 1)]);

    await publisher.publishAsync('count/a', 'q0-1', { qos: 0 });
    await publisher.publishAsync('count/a', 'q0-2', { qos: 0 });
    for (const n of [1, 2, 3]) await publisher.publishAsync('count/b', `q1-${n}`, { qos: 1 });
    await publisher.publishAsync('count/c', 'q2-1', { qos: 2 });
    await Promise.race([allReceived, next(subscriber, 'close')]);
    expect(received).toBe(6);
    await acked;
    // A QoS 1 round trip on the subscriber's connection: the gateway has read its acknowledgements before it.
    await subscriber.publishAsync('elsewhere', 'marker', { qos: 1 });

    const text = await scrape();
    expect(counts(text, 'in')).toEqual([2, 4, 1]);
    expect(counts(text, 'out')).toEqual([2, 3, 1]);
    // Read again: nothing counted twice.
    const again = await scrape();
    expect(counts(again, 'in')).toEqual([2, 4, 1]);
    expect(counts(again, 'out')).toEqual([2, 3, 1]);
  });
});

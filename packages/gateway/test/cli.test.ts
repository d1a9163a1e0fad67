/**
 * The built `dragoman` command, run as a user runs it, with real peers: mqtt.js over TCP and WebSocket, rhea as
 * an AMQP client of the embedded backend, Prometheus scrapes over HTTP, and SIGTERM.
 */
import type { MqttClient } from 'mqtt';
import type { Connection } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bodyText,
  dataSection,
  mqttConnect,
  next,
  nextMessage,
  nextMqttMessage,
  rheaConnect,
  rheaReceiver,
  rheaSender,
  sample,
} from './support/peers';
import { assertBuilt, Dragoman, freePort } from './support/process';

function withoutNodeWarnings(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !/^\(node:\d+\) \w+Warning:|^\(Use `node --trace-warnings/.test(line))
    .join('\n')
    .trim();
}

describe('dragoman (built command) end to end', () => {
  let dragoman: Dragoman;
  let ports: { mqtt: number; ws: number; amqp: number; metrics: number };
  const clients: MqttClient[] = [];
  let amqp: Connection | undefined;

  beforeAll(async () => {
    assertBuilt();
    ports = {
      mqtt: await freePort(),
      ws: await freePort(),
      amqp: await freePort(),
      metrics: await freePort(),
    };
    dragoman = new Dragoman([
      '--mqtt',
      `127.0.0.1:${ports.mqtt}`,
      '--ws',
      `127.0.0.1:${ports.ws}`,
      '--amqp-listen',
      `127.0.0.1:${ports.amqp}`,
      '--metrics',
      `127.0.0.1:${ports.metrics}`,
      '--log-format',
      'json',
      '--shutdown-timeout',
      '8000',
    ]);
    await dragoman.record((r) => r.msg === 'dragoman gateway started', 'the gateway to start');
  });

  afterAll(async () => {
    for (const client of clients) client.end(true);
    amqp?.close();
    await dragoman?.kill();
  });

  it('prints where it listens', async () => {
    const started = await dragoman.record((r) => r.msg === 'dragoman gateway started', 'start');
    expect(started.addresses).toEqual({
      mqtt: `mqtt://127.0.0.1:${ports.mqtt}`,
      ws: `ws://127.0.0.1:${ports.ws}/mqtt`,
      amqp: `amqp://127.0.0.1:${ports.amqp}`,
      metrics: `http://127.0.0.1:${ports.metrics}/metrics`,
    });
    await dragoman.record(
      (r) => r.msg === `MQTT listening on mqtt://127.0.0.1:${ports.mqtt}`,
      'the MQTT line',
    );
    await dragoman.record(
      (r) => r.msg === `MQTT over WebSocket listening on ws://127.0.0.1:${ports.ws}/mqtt`,
      'the WS line',
    );
    const health = await fetch(`http://127.0.0.1:${ports.metrics}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', mqtt: 'up', ws: 'up', amqp: 'up' });
  });

  it('carries messages MQTT → AMQP, AMQP → MQTT and MQTT/TCP → MQTT/WebSocket, and counts them', async () => {
    amqp = await rheaConnect(ports.amqp);
    const tcp = await mqttConnect(`mqtt://127.0.0.1:${ports.mqtt}`, {
      clientId: 'tcp-client',
      protocolVersion: 4,
    });
    const ws = await mqttConnect(`ws://127.0.0.1:${ports.ws}/mqtt`, {
      clientId: 'ws-client',
      protocolVersion: 5,
    });
    clients.push(tcp, ws);

    // MQTT (TCP) → an AMQP receiver on the topic's address.
    const receiver = await rheaReceiver(amqp, 'plant/line-1/temp');
    const arriving = nextMessage(receiver);
    await tcp.publishAsync('plant/line-1/temp', '21.5', { qos: 1 });
    expect(bodyText(await arriving)).toBe('21.5');

    // An AMQP sender on a topic → an MQTT (WebSocket) subscriber.
    await ws.subscribeAsync('commands/#', { qos: 1 });
    const sender = await rheaSender(amqp, 'commands/valve-7');
    const command = nextMqttMessage(ws);
    sender.send({ body: dataSection('open'), durable: true });
    expect(await command).toEqual({ topic: 'commands/valve-7', payload: 'open' });

    // MQTT over TCP → MQTT over WebSocket.
    await ws.subscribeAsync('chat/+', { qos: 0 });
    const chat = nextMqttMessage(ws);
    await tcp.publishAsync('chat/room', 'hello over ws', { qos: 0 });
    expect(await chat).toEqual({ topic: 'chat/room', payload: 'hello over ws' });

    const text = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    expect(sample(text, 'dragoman_mqtt_connections', { transport: 'tcp' })).toBe(1);
    expect(sample(text, 'dragoman_mqtt_connections', { transport: 'ws' })).toBe(1);
    expect(
      sample(text, 'dragoman_mqtt_messages_total', { direction: 'in', qos: '1' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'dragoman_mqtt_messages_total', { direction: 'in', qos: '0' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'dragoman_mqtt_messages_total', { direction: 'out', qos: '1' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'dragoman_mqtt_messages_total', { direction: 'out', qos: '0' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'dragoman_mqtt_bytes_total', { direction: 'in', transport: 'tcp' })).toBeGreaterThan(
      0,
    );
    expect(sample(text, 'dragoman_mqtt_bytes_total', { direction: 'out', transport: 'ws' })).toBeGreaterThan(
      0,
    );
    expect(sample(text, 'dragoman_mqtt_clients')).toBe(2);
    expect(sample(text, 'dragoman_amqp_up')).toBe(1);
    expect(sample(text, 'dragoman_backend_published_total')).toBeGreaterThanOrEqual(3);
  });

  it('on SIGTERM tells MQTT 5 clients the server is shutting down (0x8B) and exits 0 within the deadline', async () => {
    const v5 = await mqttConnect(`mqtt://127.0.0.1:${ports.mqtt}`, {
      clientId: 'v5-client',
      protocolVersion: 5,
    });
    clients.push(v5);
    const disconnect = next<[{ reasonCode?: number }]>(v5, 'disconnect');
    dragoman.child.kill('SIGTERM');
    const [packet] = await disconnect;
    expect(packet.reasonCode).toBe(0x8b);
    const exit = await dragoman.exit(15_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(dragoman.records.some((r) => r.msg === 'dragoman gateway stopped' && r.clean === true)).toBe(true);
    // Nothing of ours on stderr. Node process warnings are left out: @dragoman/amqp's IncomingLink currently
    // adds listeners to rhea's re-used link objects on every re-attach (MaxListenersExceededWarning), reported.
    expect(withoutNodeWarnings(dragoman.stderr)).toBe('');
  });
});

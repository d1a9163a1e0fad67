/**
 * Real peers for the tests: rhea used directly as the AMQP client, mqtt.js as the MQTT client, and a wait
 * helper over events with a time-out.
 */

import type { EventEmitter } from 'node:events';
import { once } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import rhea, { type Connection, type EventContext, type Message, type Receiver, type Sender } from 'rhea';

export const WAIT_MS = 10_000;

/** The arguments of the next `event`, or a rejection after `ms`. */
export function next<T extends unknown[] = unknown[]>(
  emitter: object,
  event: string,
  ms = WAIT_MS,
): Promise<T> {
  return once(emitter as EventEmitter, event, { signal: AbortSignal.timeout(ms) }) as Promise<T>;
}

export async function rheaConnect(
  port: number,
  options: { username?: string; password?: string } = {},
): Promise<Connection> {
  const container = rhea.create_container({ id: `gateway-test-${process.pid}` });
  container.on('error', () => {});
  const connection = container.connect({ host: '127.0.0.1', port, reconnect: false, ...options });
  connection.on('error', () => {});
  await next(connection, 'connection_open');
  return connection;
}

export async function rheaReceiver(connection: Connection, address: string): Promise<Receiver> {
  const receiver = connection.open_receiver({ source: address, autoaccept: true, credit_window: 10 });
  await next(receiver, 'receiver_open');
  return receiver;
}

export async function rheaSender(connection: Connection, address: string): Promise<Sender> {
  const sender = connection.open_sender({ target: address });
  await next(sender, 'sendable');
  return sender;
}

/** The next message on `receiver`. */
export async function nextMessage(receiver: Receiver): Promise<Message> {
  const [context] = await next<[EventContext]>(receiver, 'message');
  if (context.message === undefined) throw new Error('message event without a message');
  return context.message;
}

/** A message body as text, whether rhea gives a Buffer, a data section or a string. */
export function bodyText(message: Message): string {
  const body: unknown = message.body;
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  const content = (body as { content?: unknown } | null)?.content;
  if (Buffer.isBuffer(content)) return content.toString('utf8');
  return JSON.stringify(body);
}

export function dataSection(text: string): unknown {
  return rhea.message.data_section(Buffer.from(text, 'utf8'));
}

export function mqttConnect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: WAIT_MS, ...options });
}

export interface MqttMessage {
  readonly topic: string;
  readonly payload: string;
}

/** The next message the client receives. */
export async function nextMqttMessage(client: MqttClient): Promise<MqttMessage> {
  const [topic, payload] = await next<[string, Buffer]>(client, 'message');
  return { topic, payload: payload.toString('utf8') };
}

/** The value of one sample in a Prometheus text exposition, 0 when absent. */
export function sample(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map(
      (match[3] ?? '')
        .split(',')
        .filter(Boolean)
        .map((pair) => {
          const [key = '', value = ''] = pair.split('=');
          return [key, value.replace(/^"|"$/g, '')] as const;
        }),
    );
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) return Number(match[4]);
  }
  return 0;
}

/** Subscribes to `filters` (QoS 1) and resolves to the SUBACK's codes, failures included. */
export function subackCodes(client: MqttClient, filters: readonly string[]): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (packet: Packet): void => {
      if (packet.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve(packet.granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos)));
    };
    client.on('packetreceive', onPacket);
    client.subscribe(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])), () => {});
  });
}

/**
 * The whole MQTT-over-AMQP stack for end-to-end tests: the embedded AMQP backend (Will and Subscription
 * services), a BridgeGateway on it, an MqttServer and a TCP listener, all on free ports of 127.0.0.1.
 */
import { createInProcessTransport } from '@dragoman/amqp';
import type { MqttServerOptions } from '@dragoman/mqtt';
import type { MqttClient } from 'mqtt';
import { type Backend, createBackend } from '../../src/backend/backend';
import type { BackendOptions } from '../../src/backend/types';
import type { GatewayBridgeOptions } from '../../src/bridge/types';
import { type RunningGateway, runGateway } from '../bridge/support/harness';

export interface Stack extends RunningGateway {
  readonly backend: Backend;
}

/**
 * How the bridge reaches the backend: TCP (as to any AMQP network), or the in-process transport handing
 * messages off as objects (as the `dragoman` gateway reaches its embedded backend).
 */
export type StackTransport = 'tcp' | 'in-process hand-off';
export const STACK_TRANSPORTS: readonly StackTransport[] = ['tcp', 'in-process hand-off'];

export async function startStack(
  options: {
    backend?: BackendOptions;
    bridge?: Omit<GatewayBridgeOptions, 'amqp'>;
    mqtt?: MqttServerOptions;
    transport?: StackTransport;
  } = {},
): Promise<Stack> {
  const inProcess =
    options.transport === 'in-process hand-off'
      ? createInProcessTransport('test backend', { handOffMessages: true })
      : undefined;
  const backendOptions = options.backend ?? {};
  const backend = await createBackend(
    inProcess === undefined
      ? backendOptions
      : { ...backendOptions, listen: { ...backendOptions.listen, inProcess } },
  );
  let running: RunningGateway;
  try {
    const amqp = inProcess === undefined ? { url: backend.url } : { inProcess };
    running = await runGateway({ amqp, ...options.bridge }, options.mqtt ?? {});
  } catch (error) {
    await backend.close();
    throw error;
  }
  return {
    ...running,
    backend,
    async close() {
      await running.close();
      await backend.close();
    },
  };
}

/**
 * Resolves once `received` (filled by an earlier 'message' listener of `client`) holds at least `count`
 * messages, checked on each message event.
 */
export function receivedCount(
  client: MqttClient,
  received: readonly unknown[],
  count: number,
  timeoutMs = 10_000,
): Promise<void> {
  if (received.length >= count) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`expected ${count} messages, got ${received.length}: ${JSON.stringify(received)}`));
    }, timeoutMs);
    const onMessage = (): void => {
      // This listener runs after the one filling `received`, so it is up to date.
      if (received.length < count) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve();
    };
    client.on('message', onMessage);
  });
}

/**
 * Publishes a QoS 1 message on `marker` and resolves once `subscriber` has it: everything published before it
 * on the same path has arrived by then (or never will).
 */
export async function publishMarker(
  publisher: MqttClient,
  subscriber: MqttClient,
  marker: string,
  timeoutMs = 10_000,
): Promise<void> {
  const arrived = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      subscriber.off('message', onMessage);
      reject(new Error(`marker ${marker} not received`));
    }, timeoutMs);
    const onMessage = (topic: string): void => {
      if (topic !== marker) return;
      subscriber.off('message', onMessage);
      clearTimeout(timer);
      resolve();
    };
    subscriber.on('message', onMessage);
  });
  await publisher.publishAsync(marker, 'marker', { qos: 1 });
  await arrived;
}

/**
 * Publishes `count` messages `${prefix}${i}` on `topic`, 100 at a time (each batch waits for mqtt.js to have
 * written, for QoS 0, or acknowledged, for QoS 1/2, all of it): as fast as the gateway lets one client go.
 */
export async function publishInBatches(
  client: MqttClient,
  topic: string,
  count: number,
  options: { qos: 0 | 1 | 2; prefix?: string },
): Promise<void> {
  const prefix = options.prefix ?? 'm';
  for (let i = 0; i < count; i += 100) {
    const batch = Math.min(100, count - i);
    await Promise.all(
      Array.from({ length: batch }, (_, j) =>
        client.publishAsync(topic, `${prefix}${i + j}`, { qos: options.qos }),
      ),
    );
  }
}

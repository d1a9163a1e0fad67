import { type AdapterHost, AdapterStartError, runAdapters } from '@dragoman/adapter';
import { connect } from '@dragoman/amqp';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Backend,
  ConfigurationError,
  createBackend,
  createMqttAdapter,
  type MqttAdapter,
} from '../../src/index';

/** Waits for one event of an mqtt.js client, failing after 10 s (tests never sleep). */
function next<T extends unknown[]>(client: MqttClient, event: 'connect' | 'message' | 'close'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within 10 s`)), 10_000);
    client.once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as T);
    });
  });
}

describe('createMqttAdapter run by an AdapterHost on the embedded backend', () => {
  let backend: Backend | undefined;
  let host: AdapterHost | undefined;
  const clients: MqttClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.end(true);
    await host?.stop(5_000);
    await backend?.close();
    host = undefined;
    backend = undefined;
  });

  async function client(url: string, clientId: string): Promise<MqttClient> {
    const c = mqtt.connect(url, { clientId, reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 5 });
    clients.push(c);
    c.on('error', () => undefined);
    await next(c, 'connect');
    return c;
  }

  it('serves MQTT clients through the bridge, and stops them within the deadline', async () => {
    backend = await createBackend({});
    const adapter: MqttAdapter = createMqttAdapter({ port: 0 });
    host = await runAdapters({ amqp: { url: backend.url, reconnect: false } }, [adapter]);
    expect(adapter.url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);

    const subscriber = await client(adapter.url, 'sub-1');
    await subscriber.subscribeAsync('plant/+/temperature', { qos: 1 });
    const publisher = await client(adapter.url, 'pub-1');
    const arrived = next<[string, Buffer]>(subscriber, 'message');
    await publisher.publishAsync('plant/7/temperature', '21.5', { qos: 1 });
    const [topic, payload] = await arrived;
    expect(topic).toBe('plant/7/temperature');
    expect(payload.toString()).toBe('21.5');
    expect(adapter.gateway?.stats().clients).toBe(2);

    const closed = next(subscriber, 'close');
    const report = await host.stop(5_000);
    await closed;
    expect(report.adapters).toEqual([{ name: 'mqtt', state: 'stopped', error: undefined }]);
    expect(adapter.gateway?.stats().clients).toBe(0);
  });

  it('takes its port from the configuration section', async () => {
    backend = await createBackend({});
    const adapter = createMqttAdapter();
    host = await runAdapters(
      { amqp: { url: backend.url, reconnect: false }, config: { mqtt: { port: 0 } } },
      [adapter],
    );
    expect(adapter.address().port).toBeGreaterThan(0);
  });

  it('fails to start without AMQP connect options', async () => {
    backend = await createBackend({});
    const connection = await connect({ url: backend.url, reconnect: false });
    const error = await runAdapters({ amqp: connection }, [createMqttAdapter({ port: 0 })]).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AdapterStartError);
    expect((error as Error).cause).toBeInstanceOf(ConfigurationError);
    await connection.close();
  });
});

import { Writable } from 'node:stream';
import { binaryMessage, connect } from '@dragoman/amqp';
import pino from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Adapter,
  type AdapterContext,
  type AdapterLogger,
  type AdapterMetrics,
  AdapterStateError,
  createHostContext,
  type DeviceSession,
  InvalidDeviceIdError,
  noopLogger,
  noopMetrics,
  runAdapters,
} from '../src/index';
import { RheaPeer } from './rhea-peer';

/** AdapterMetrics backed by prom-client: the glue a host writes (also shown in the README). */
function promMetrics(register: Registry): AdapterMetrics {
  const existing = (name: string) => register.getSingleMetric(name);
  return {
    counter: (d) =>
      (existing(d.name) as Counter | undefined) ??
      new Counter({
        name: d.name,
        help: d.help,
        labelNames: [...(d.labelNames ?? [])],
        registers: [register],
      }),
    gauge: (d) =>
      (existing(d.name) as Gauge | undefined) ??
      new Gauge({ name: d.name, help: d.help, labelNames: [...(d.labelNames ?? [])], registers: [register] }),
    histogram: (d) =>
      (existing(d.name) as Histogram | undefined) ??
      new Histogram({
        name: d.name,
        help: d.help,
        labelNames: [...(d.labelNames ?? [])],
        ...(d.buckets !== undefined ? { buckets: [...d.buckets] } : {}),
        registers: [register],
      }),
  };
}

/** An adapter that opens one device session at start and publishes on demand. */
class OneDevice implements Adapter {
  readonly name = 'one-device';
  context: AdapterContext | undefined;
  session: DeviceSession | undefined;
  async start(context: AdapterContext): Promise<void> {
    this.context = context;
    this.session = await context.openDeviceSession('dev-7');
    context.logger.info({ device: 'dev-7' }, 'device ready');
  }
  async stop(): Promise<void> {
    // Leaves its session open on purpose: the host closes it.
  }
}

describe('host context against a rhea peer', () => {
  let peer: RheaPeer;

  beforeEach(async () => {
    peer = await RheaPeer.start();
  });

  afterEach(async () => {
    await peer.close();
  });

  it('gives adapters a pino logger bound to their name, their config section, and prom-client metrics', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        callback();
      },
    });
    const logger: AdapterLogger = pino({ level: 'debug' }, destination);
    const register = new Registry();
    const adapter = new OneDevice();
    const host = await runAdapters(
      {
        amqp: { url: peer.url, reconnect: false },
        logger,
        metrics: promMetrics(register),
        config: { 'one-device': { port: 8080 } },
      },
      [adapter],
    );
    expect(adapter.context?.config).toEqual({ port: 8080 });
    expect(lines).toContainEqual(
      expect.objectContaining({ adapter: 'one-device', device: 'dev-7', msg: 'device ready' }),
    );

    expect(await adapter.session?.publish(binaryMessage('21.5'))).toEqual({ state: 'accepted' });
    await adapter.session?.publish(binaryMessage('x'), { qos: 0 });
    const text = await register.metrics();
    expect(text).toContain(
      'dragoman_adapter_publishes_total{adapter="one-device",qos="1",result="accepted"} 1',
    );
    expect(text).toContain('dragoman_adapter_publishes_total{adapter="one-device",qos="0",result="sent"} 1');
    expect(text).toContain('dragoman_adapter_device_sessions{adapter="one-device"} 1');

    await host.stop(5_000);
    // The session the adapter left open was closed, and the connection the host opened too.
    expect(adapter.session?.state).toBe('closed');
    expect(adapter.session?.connection.state).toBe('closed');
    expect(await register.metrics()).toContain('dragoman_adapter_device_sessions{adapter="one-device"} 0');
    await expect(adapter.context?.openDeviceSession('dev-8')).rejects.toBeInstanceOf(AdapterStateError);
  });

  it('shares a connection it was given and does not close it', async () => {
    const connection = await connect({ url: peer.url, reconnect: false });
    const adapter = new OneDevice();
    const host = await runAdapters({ amqp: connection }, [adapter]);
    expect(adapter.session?.connection).toBe(connection);
    expect(await adapter.context?.amqp.connection()).toBe(connection);
    expect(adapter.context?.amqp.connectOptions).toBeUndefined();
    await host.stop(5_000);
    expect(connection.isOpen).toBe(true);
    await connection.close();
  });

  it('opens one shared connection from a factory, on first use', async () => {
    let opened = 0;
    const context = createHostContext({
      amqp: () => {
        opened += 1;
        return connect({ url: peer.url, reconnect: false });
      },
    });
    const scoped = context.forAdapter('x', () => undefined);
    const [a, b] = await Promise.all([scoped.amqp.connection(), scoped.amqp.connection()]);
    expect(a).toBe(b);
    expect(opened).toBe(1);
    await expect(scoped.openDeviceSession('bad id')).rejects.toBeInstanceOf(InvalidDeviceIdError);
    await context.close();
    expect(a.state).toBe('closed');
    await expect(scoped.amqp.connection()).rejects.toThrow('closed');
  });

  it('has no-op logger and metrics by default', () => {
    const context = createHostContext({ amqp: { url: peer.url } });
    expect(context.logger).toBe(noopLogger);
    expect(context.metrics).toBe(noopMetrics);
    expect(() => noopLogger.child({ a: 1 }).info({}, 'nothing')).not.toThrow();
    expect(() => noopMetrics.histogram({ name: 'h', help: 'h' }).observe({}, 1)).not.toThrow();
  });
});

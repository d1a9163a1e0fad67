/**
 * The process metrics keep prom-client's default names, and the five whose cost grows with the connections
 * still count them, each list made once per scrape.
 */
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerProcessMetrics } from '../src/process-metrics';

const SOCKET_PAIRS = 25;
let server: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const socket of sockets.splice(0)) socket.destroy();
  const closing = server;
  server = undefined;
  if (closing !== undefined) await new Promise((resolve) => closing.close(resolve));
});

async function openSocketPairs(count: number): Promise<void> {
  server = createServer((accepted) => sockets.push(accepted));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const connected: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(address.port, '127.0.0.1');
    sockets.push(socket);
    connected.push(once(socket, 'connect', { signal: AbortSignal.timeout(5_000) }));
  }
  await Promise.all(connected);
  while (sockets.length < 2 * count) await once(server, 'connection', { signal: AbortSignal.timeout(5_000) });
}

async function values(registry: Registry): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const value of metric.values) {
      const type = value.labels.type;
      found.set(type === undefined ? metric.name : `${metric.name}{${String(type)}}`, value.value);
    }
  }
  return found;
}

describe('process metrics', () => {
  it("has every one of prom-client's default metrics, once", async () => {
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const ours = new Registry();
    registerProcessMetrics(ours);
    const names = (registry: Registry) => registry.getMetricsAsArray().map((metric) => metric.name);
    expect(names(ours).sort()).toEqual(names(defaults).sort());
  });

  it('counts open descriptors, handles and resources with the sockets', async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    const before = await values(registry);
    await openSocketPairs(SOCKET_PAIRS);
    const after = await values(registry);
    const grew = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    const sockets = 2 * SOCKET_PAIRS;
    if (process.platform === 'linux') {
      expect(grew('process_open_fds')).toBeGreaterThanOrEqual(sockets);
      // The same count as a listing now, give or take what the test runner opened meanwhile.
      expect(
        Math.abs((after.get('process_open_fds') ?? 0) - (readdirSync('/proc/self/fd').length - 1)),
      ).toBeLessThan(10);
    }
    expect(grew('nodejs_active_handles_total')).toBeGreaterThanOrEqual(sockets);
    expect(grew('nodejs_active_handles{Socket}')).toBeGreaterThanOrEqual(sockets);
    expect(grew('nodejs_active_resources_total')).toBeGreaterThanOrEqual(sockets);
    expect(grew('nodejs_active_resources{TCPSocketWrap}')).toBeGreaterThanOrEqual(sockets);
  });

  it('lists handles and resources once per scrape, and afresh at the next', async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    const resources = vi.spyOn(process, 'getActiveResourcesInfo');
    const handles = vi.spyOn(
      process as unknown as { _getActiveHandles: () => unknown[] },
      '_getActiveHandles',
    );
    await registry.metrics();
    expect(resources).toHaveBeenCalledTimes(1);
    expect(handles).toHaveBeenCalledTimes(1);
    await registry.metrics();
    expect(resources).toHaveBeenCalledTimes(2);
    expect(handles).toHaveBeenCalledTimes(2);
  });
});

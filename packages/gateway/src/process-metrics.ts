/**
 * prom-client's default process and Node.js metrics, for the gateway's registry. Five of them grow with the
 * number of connections: `process_open_fds` lists /proc/self/fd, and the handle and resource gauges list every
 * socket, each of the two pairs twice (15,000 clients: some 30 ms of every scrape, on the event loop that
 * serves the clients). They keep their names, help and labels here, but the descriptors are listed off the event
 * loop (an asynchronous readdir), and each pair's list is made once per scrape.
 */
import { readdir } from 'node:fs/promises';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { oncePerScrape } from './once-per-scrape';

const REPLACED = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
] as const;

/** Node's list of active handles: undocumented, and what prom-client reads for the same gauges. */
type ActiveHandles = () => readonly unknown[];

interface Tally {
  readonly total: number;
  readonly byType: ReadonlyMap<string, number>;
}

function tally<T>(items: readonly T[], typeOf: (item: T) => string | undefined): Tally {
  const byType = new Map<string, number>();
  for (const item of items) {
    const type = typeOf(item);
    if (type !== undefined) byType.set(type, (byType.get(type) ?? 0) + 1);
  }
  return { total: items.length, byType };
}

function constructorName(handle: unknown): string | undefined {
  if (typeof handle !== 'object' || handle === null) return undefined;
  const name: unknown = handle.constructor?.name;
  return typeof name === 'string' ? name : undefined;
}

function setByType(gauge: Gauge<'type'>, counts: Tally): void {
  gauge.reset();
  for (const [type, count] of counts.byType) gauge.set({ type }, count);
}

/** The default metrics on `registry`, the five that grow with the connections made cheap (see above). */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of REPLACED) registry.removeSingleMetric(name);
  const registers = [registry];

  if (process.platform === 'linux') {
    new Gauge({
      name: 'process_open_fds',
      help: 'Number of open file descriptors.',
      registers,
      async collect() {
        // The listing holds a descriptor of its own while it reads.
        const fds = await readdir('/proc/self/fd').catch(() => undefined);
        if (fds !== undefined) this.set(fds.length - 1);
      },
    });
  }

  const withHandles = process as { _getActiveHandles?: ActiveHandles };
  if (typeof withHandles._getActiveHandles === 'function') {
    const handles = oncePerScrape(() => tally(withHandles._getActiveHandles?.() ?? [], constructorName));
    new Gauge({
      name: 'nodejs_active_handles',
      help: 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
      labelNames: ['type'],
      registers,
      collect() {
        setByType(this, handles());
      },
    });
    new Gauge({
      name: 'nodejs_active_handles_total',
      help: 'Total number of active handles.',
      registers,
      collect() {
        this.set(handles().total);
      },
    });
  }

  const resources = oncePerScrape(() => tally(process.getActiveResourcesInfo(), (type) => type));
  new Gauge({
    name: 'nodejs_active_resources',
    help: 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
    labelNames: ['type'],
    registers,
    collect() {
      setByType(this, resources());
    },
  });
  new Gauge({
    name: 'nodejs_active_resources_total',
    help: 'Total number of active resources.',
    registers,
    collect() {
      this.set(resources().total);
    },
  });
}

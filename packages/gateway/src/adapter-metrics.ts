/**
 * `@dragoman/adapter`'s metrics interface backed by the gateway's prom-client registry, so that adapters run
 * beside the MQTT front end show up on `/metrics`. One instrument per name, shared by adapters.
 */
import type { AdapterMetrics, MetricDefinition } from '@dragoman/adapter';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function registryMetrics(registry: Registry): AdapterMetrics {
  const base = (definition: MetricDefinition) => ({
    name: definition.name,
    help: definition.help,
    labelNames: [...(definition.labelNames ?? [])],
    registers: [registry],
  });
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  return {
    counter: (definition) => existing<Counter>(definition.name) ?? new Counter(base(definition)),
    gauge: (definition) => existing<Gauge>(definition.name) ?? new Gauge(base(definition)),
    histogram: (definition) =>
      existing<Histogram>(definition.name) ??
      new Histogram({
        ...base(definition),
        ...(definition.buckets !== undefined ? { buckets: [...definition.buckets] } : {}),
      }),
  };
}

/** Reads a dragoman gateway's Prometheus /metrics (prom-client text format). */

export type MetricSample = Map<string, number>;

/** Every sample line as `name{labels}` → value. */
export function parseMetrics(text: string): MetricSample {
  const samples: MetricSample = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (space > 0 && Number.isFinite(value)) samples.set(line.slice(0, space), value);
  }
  return samples;
}

export async function scrapeMetrics(port: number): Promise<MetricSample> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

export function metric(samples: MetricSample, key: string): number {
  return samples.get(key) ?? Number.NaN;
}

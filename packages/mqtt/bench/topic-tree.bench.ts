/**
 * TopicTree: match throughput with 10 k and 100 k filters against a linear scan of every filter
 * (filterMatchesTopic), plus the cost of building and emptying the tree, its memory per filter, and the
 * cost of validating a topic name and a topic filter.
 * Prints one JSON object per line. Times are CPU time of this process (medians of several rounds), so that
 * other processes on a busy machine disturb them less; `nsPerOp` is per topic matched or filter set.
 *
 * The filters follow an IoT scheme `tenant/site/device/metric`: mostly exact device topics, some with `+`
 * or `#` in the last levels, and a few fleet-wide ones starting with `+`. Topics are drawn from the same
 * scheme, so some match and most tree branches are never visited: the match cost should stay flat as the
 * number of filters grows, while the linear scan grows with it.
 */
import { filterMatchesTopic, isValidTopicFilter, isValidTopicName, TopicTree } from '@dragoman/mqtt';

const ROUNDS = 7;
const ROUND_MS = 100;
const BUILDS = 5;
const TOPIC_SAMPLE = 2000;

/** A small deterministic PRNG (mulberry32) so that every run measures the same data. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METRICS = ['temperature', 'humidity', 'status', 'battery', 'cmd'];

interface Scheme {
  readonly tenants: number;
  readonly sites: number;
  readonly devices: number;
}

/** The scheme for `count` filters: about two filters per device. */
function schemeFor(count: number): Scheme {
  return { tenants: 10, sites: 10, devices: Math.max(1, Math.ceil(count / 200)) };
}

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)] as T;
}

function topicOf(next: () => number, scheme: Scheme): string {
  const tenant = Math.floor(next() * scheme.tenants);
  const site = Math.floor(next() * scheme.sites);
  const device = Math.floor(next() * scheme.devices);
  return `tenant${tenant}/site${site}/device${device}/${pick(next, METRICS)}`;
}

function filtersOf(count: number, next: () => number, scheme: Scheme): string[] {
  const filters = new Set<string>();
  // A few fleet-wide filters that every topic has to be checked against.
  for (const metric of ['status', 'cmd']) filters.add(`+/+/+/${metric}`);
  filters.add('+/site0/#');
  while (filters.size < count) {
    const [tenant, site, device, metric] = topicOf(next, scheme).split('/') as [
      string,
      string,
      string,
      string,
    ];
    const shape = next();
    if (shape < 0.7) filters.add(`${tenant}/${site}/${device}/${metric}`);
    else if (shape < 0.8) filters.add(`${tenant}/${site}/${device}/+`);
    else if (shape < 0.9) filters.add(`${tenant}/${site}/+/${metric}`);
    else filters.add(`${tenant}/${site}/${device}/#`);
  }
  return [...filters];
}

/** CPU time of this process in ns: unlike the wall clock, it does not count time other processes had. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

/**
 * Runs `batch` (which does `opsPerBatch` operations) for ROUNDS rounds of at least ROUND_MS of CPU time
 * each and returns the median CPU ns per operation; the median shrugs off disturbed rounds.
 */
function measure(opsPerBatch: number, batch: () => void): number {
  const perRound: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let ops = 0;
    const start = cpuNow();
    let elapsed = 0;
    do {
      batch();
      ops += opsPerBatch;
      elapsed = cpuNow() - start;
    } while (elapsed < ROUND_MS * 1e6);
    perRound.push(elapsed / ops);
  }
  return median(perRound);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function print(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench: 'mqtt.topic-tree', ...result })}\n`);
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Measures one tree size; `report` receives the results. */
function run(count: number, report: (result: Record<string, unknown>) => void): void {
  const scheme = schemeFor(count);
  const next = random(count);
  const filters = filtersOf(count, next, scheme);
  const topics = Array.from({ length: TOPIC_SAMPLE }, () => topicOf(next, scheme));

  // Build (and later empty) the tree several times; the median time is reported.
  const setNs: number[] = [];
  const deleteNs: number[] = [];
  for (let build = 0; build < BUILDS; build++) {
    const scratch = new TopicTree<number, number>();
    const start = cpuNow();
    for (let i = 0; i < filters.length; i++) scratch.set(filters[i] as string, i, i);
    const middle = cpuNow();
    for (let i = 0; i < filters.length; i++) scratch.delete(filters[i] as string, i);
    setNs.push((middle - start) / filters.length);
    deleteNs.push((cpuNow() - middle) / filters.length);
    if (scratch.nodeCount !== 0) throw new Error('delete left nodes behind');
  }

  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const tree = new TopicTree<number, number>();
  for (let i = 0; i < filters.length; i++) tree.set(filters[i] as string, i, i);
  collectGarbage();
  const heapPerFilter = (process.memoryUsage().heapUsed - heapBefore) / filters.length;
  report({
    case: 'set',
    filters: tree.filterCount,
    nodes: tree.nodeCount,
    nsPerOp: round(median(setNs)),
    opsPerSec: Math.round(1e9 / median(setNs)),
    heapBytesPerFilter: Math.round(heapPerFilter),
  });
  report({
    case: 'delete',
    filters: filters.length,
    nsPerOp: round(median(deleteNs)),
    opsPerSec: Math.round(1e9 / median(deleteNs)),
  });

  let matched = 0;
  const count1 = () => {
    matched += 1;
  };
  const visitNs = measure(topics.length, () => {
    for (const topic of topics) tree.forEachMatch(topic, count1);
  });
  // Matches per topic, counted over one pass of the sample.
  matched = 0;
  for (const topic of topics) tree.forEachMatch(topic, count1);
  const matchesPerOp = matched / topics.length;
  report({
    case: 'forEachMatch',
    filters: filters.length,
    nsPerOp: round(visitNs),
    opsPerSec: Math.round(1e9 / visitNs),
    matchesPerOp: round(matchesPerOp, 2),
  });

  let sink = 0;
  const arrayNs = measure(topics.length, () => {
    for (const topic of topics) sink += tree.match(topic).length;
  });
  report({
    case: 'match',
    filters: filters.length,
    nsPerOp: round(arrayNs),
    opsPerSec: Math.round(1e9 / arrayNs),
    matchesPerOp: round(matchesPerOp, 2),
  });

  // The baseline checks every filter; fewer topics per batch keep a batch short at 100 k filters.
  const scanTopics = topics.slice(0, Math.max(10, Math.floor(2_000_000 / filters.length)));
  let scanMatched = 0;
  const scanNs = measure(scanTopics.length, () => {
    for (const topic of scanTopics) {
      for (const filter of filters) if (filterMatchesTopic(filter, topic)) scanMatched += 1;
    }
  });
  report({
    case: 'linear-scan',
    filters: filters.length,
    nsPerOp: round(scanNs),
    opsPerSec: Math.round(1e9 / scanNs),
    treeSpeedup: round(scanNs / visitNs),
  });

  if (sink < 0 || scanMatched < 0) throw new Error('unreachable: keeps the measured work alive');
}

/** Validation of the sample topics as names, and of a set of filters, per call. */
function runValidation(report: (result: Record<string, unknown>) => void): void {
  const scheme = schemeFor(10_000);
  const next = random(7);
  const topics = Array.from({ length: TOPIC_SAMPLE }, () => topicOf(next, scheme));
  const filters = filtersOf(TOPIC_SAMPLE, next, scheme);
  let valid = 0;
  const nameNs = measure(topics.length, () => {
    for (const topic of topics) if (isValidTopicName(topic)) valid += 1;
  });
  report({ case: 'isValidTopicName', nsPerOp: round(nameNs), opsPerSec: Math.round(1e9 / nameNs) });
  const filterNs = measure(filters.length, () => {
    for (const filter of filters) if (isValidTopicFilter(filter)) valid += 1;
  });
  report({ case: 'isValidTopicFilter', nsPerOp: round(filterNs), opsPerSec: Math.round(1e9 / filterNs) });
  if (valid === 0) throw new Error('unreachable: keeps the measured work alive');
}

// A first, unreported pass brings every function to optimised code before anything is measured.
run(1_000, () => {});
for (const count of [1_000, 10_000, 100_000]) run(count, print);
runValidation(print);

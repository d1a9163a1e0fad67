/**
 * One benchmark scenario: a flow (which protocol publishes, which receives), a QoS, a number of publishers and
 * an optional fixed rate. A run attaches the receiver first, then starts every publisher at once, and ends when
 * every message has arrived once, or at its time-out (then the missing messages are reported as lost).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import type { Connection } from 'rhea';
import { scrapeMetrics } from '../support/metrics';
import {
  amqpPublish,
  amqpReceive,
  connectAmqp,
  connectMqtt,
  endMqtt,
  mqttPublish,
  mqttSubscribe,
  type PublishResult,
  type QoS,
} from './clients';
import { ReceiptTracker } from './payload';
import { readCpuSeconds } from './rss';
import type { Target } from './targets';

/** A run whose publishers have finished ends after this long without any receipt. */
const IDLE_END_MS = 5_000;
const IDLE_POLL_MS = 250;

export type Flow = 'mqtt-amqp' | 'amqp-mqtt' | 'mqtt-mqtt';

export interface Scenario {
  /** e.g. `mqtt-amqp-qos0-1p`, `mqtt-amqp-qos0-1p@2000` (fixed rate, msg/s over all publishers). */
  readonly name: string;
  readonly flow: Flow;
  readonly qos: QoS;
  readonly publishers: number;
  readonly rate: number | undefined;
}

/**
 * The table, MQTT→MQTT at QoS 0 too, and fixed-rate latency rows for both directions, plus one that
 * every target runs (MQTT→MQTT), which shows the latency floor of the generator itself.
 */
export const DEFAULT_SCENARIOS = [
  'mqtt-amqp-qos0-1p',
  'mqtt-amqp-qos1-10p',
  'amqp-mqtt-qos0-10p',
  'amqp-mqtt-qos1-1p',
  'mqtt-mqtt-qos0-10p',
  'mqtt-mqtt-qos1-10p',
  'mqtt-amqp-qos0-1p@2000',
  'amqp-mqtt-qos0-1p@2000',
  'mqtt-mqtt-qos0-1p@2000',
] as const;

const SCENARIO_NAME = /^(mqtt-amqp|amqp-mqtt|mqtt-mqtt)-qos([01])-(\d+)p(?:@(\d+))?$/;

export function parseScenario(name: string, defaultRate: number | undefined): Scenario {
  const match = SCENARIO_NAME.exec(name);
  if (match === null) {
    throw new Error(
      `bad scenario '${name}': expected <mqtt-amqp|amqp-mqtt|mqtt-mqtt>-qos<0|1>-<N>p[@<rate>]`,
    );
  }
  const publishers = Number(match[3]);
  if (publishers < 1 || publishers > 1000) throw new Error(`bad scenario '${name}': 1 to 1000 publishers`);
  const rate = match[4] !== undefined ? Number(match[4]) : defaultRate;
  const scenarioName = rate !== undefined && match[4] === undefined ? `${name}@${rate}` : name;
  return { name: scenarioName, flow: match[1] as Flow, qos: Number(match[2]) as QoS, publishers, rate };
}

export interface RunOptions {
  readonly messages: number;
  readonly size: number;
  readonly timeoutMs: number;
}

export interface RunResult {
  readonly target: string;
  readonly scenario: string;
  readonly run: number;
  readonly messages: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly strays: number;
  /** Unique messages per second from the first to the last receipt. */
  readonly msgPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Publishes the target refused or failed (QoS 1 error outcomes). */
  readonly publishFailures: number;
  readonly timedOut: boolean;
  /** Ended because nothing arrived for IDLE_END_MS after the publishers finished. */
  readonly idleEnd: boolean;
  readonly durationMs: number;
  /** Highest VmRSS of the target sampled during this run. */
  readonly peakRssMiB: number;
  /**
   * CPU time (user + system) the target process used per received message, µs, from the publishers' start to
   * the end of the run: its cost per message, much less sensitive to other work on the machine than msg/s.
   */
  readonly cpuUsPerMessage: number;
  /**
   * CPU time (user + system) of the load generator's process per received message, µs, over the same window:
   * what driving this target cost the generator.
   */
  readonly generatorCpuUsPerMessage: number;
  /**
   * The generator's CPU time over the window's wall time, % of one core. Near or above 100 the generator, a
   * single event loop (its collector's helper threads add a little), was the bottleneck: the target could have
   * gone faster than this run shows.
   */
  readonly generatorBusyPercent: number;
  /** dragoman only, when messages were lost: its non-zero drop counters from /metrics (cumulative since it started). */
  readonly dropped?: Record<string, number>;
}

/** The gateway's own account of drops, so a loss in the table can be explained. */
async function droppedCounters(target: Target): Promise<Record<string, number> | undefined> {
  if (target.metricsPort === undefined) return undefined;
  try {
    const samples = await scrapeMetrics(target.metricsPort);
    const dropped: Record<string, number> = {};
    for (const [key, value] of samples) {
      if (key.startsWith('dragoman_backend_dropped_total') && value > 0) dropped[key] = value;
    }
    return dropped;
  } catch {
    return undefined;
  }
}

/** Which flows a target can serve: the cross-protocol ones need both protocols. */
export function applies(scenario: Scenario, target: Target): boolean {
  return scenario.flow === 'mqtt-mqtt' || target.amqp !== undefined;
}

export async function runScenario(
  target: Target,
  scenario: Scenario,
  run: number,
  options: RunOptions,
  sampleRss: () => { reset(): void; peakMiB(): number },
): Promise<RunResult> {
  const tag = randomBytes(3).toString('hex');
  const topic = `bench/${tag}`;
  const perPublisher = Math.ceil(options.messages / scenario.publishers);
  const tracker = new ReceiptTracker(scenario.publishers, perPublisher);
  const mqttClients: MqttClient[] = [];
  const amqpConnections: Connection[] = [];
  const controller = new AbortController();
  const rss = sampleRss();
  const startedAt = performance.now();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  let cpuAtStart: number | undefined;
  let generatorAtStart: GeneratorClock | undefined;
  try {
    // The receiver is attached (SUBACK / attach) before any publisher starts.
    if (scenario.flow === 'mqtt-amqp') {
      const amqp = target.amqp;
      if (amqp === undefined) throw new Error(`${target.name} has no AMQP side`);
      const connection = await connectAmqp(amqp, `bench-rx-${tag}`);
      amqpConnections.push(connection);
      await amqpReceive(connection, amqp.address(topic), (bytes) => tracker.receive(bytes));
    } else {
      const subscriber = await connectMqtt(target.mqtt, `bench-rx-${tag}`);
      mqttClients.push(subscriber);
      await mqttSubscribe(subscriber, topic, scenario.qos, (bytes) => tracker.receive(bytes));
    }
    const publishers: Promise<PublishResult>[] = [];
    const plans = Array.from({ length: scenario.publishers }, (_, publisher) => ({
      publisher,
      count: perPublisher,
      size: options.size,
      qos: scenario.qos,
      rate: scenario.rate === undefined ? undefined : scenario.rate / scenario.publishers,
      signal: controller.signal,
    }));
    if (scenario.flow === 'amqp-mqtt') {
      const amqp = target.amqp;
      if (amqp === undefined) throw new Error(`${target.name} has no AMQP side`);
      const connections = await Promise.all(
        plans.map((plan) => connectAmqp(amqp, `bench-tx-${tag}-${plan.publisher}`)),
      );
      amqpConnections.push(...connections);
      rss.reset();
      cpuAtStart = readCpuSeconds(target.pid);
      generatorAtStart = generatorClock();
      connections.forEach((connection, index) => {
        const plan = plans[index];
        if (plan) publishers.push(amqpPublish(connection, amqp.address(topic), plan));
      });
    } else {
      const clients = await Promise.all(
        plans.map((plan) => connectMqtt(target.mqtt, `bench-tx-${tag}-${plan.publisher}`)),
      );
      mqttClients.push(...clients);
      rss.reset();
      cpuAtStart = readCpuSeconds(target.pid);
      generatorAtStart = generatorClock();
      clients.forEach((client, index) => {
        const plan = plans[index];
        if (plan) publishers.push(mqttPublish(client, topic, plan));
      });
    }
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, options.timeoutMs);
    });
    const publishing = Promise.all(publishers);
    await Promise.race([tracker.complete(), deadline, publishing]);
    // Publishers are done: what has not arrived after IDLE_END_MS of silence is not coming (e.g. a QoS 0 drop).
    const publishedAt = performance.now();
    let idle = false;
    while (tracker.unique < tracker.expected && !timedOut) {
      const quietSince = Math.max(publishedAt, tracker.lastActivityAt);
      if (performance.now() - quietSince > IDLE_END_MS) {
        idle = true;
        break;
      }
      await Promise.race([tracker.complete(), deadline, delay(IDLE_POLL_MS)]);
    }
    if (timedOut || idle) controller.abort();
    // The last acknowledgements may still be on their way to the publishers; they get a few seconds.
    const results = await Promise.race([Promise.all(publishers), delay(5_000, [] as PublishResult[])]);
    controller.abort();
    const cpuAtEnd = readCpuSeconds(target.pid);
    const generator = generatorAtStart === undefined ? undefined : generatorSince(generatorAtStart);
    const dropped = tracker.unique < tracker.expected ? await droppedCounters(target) : undefined;
    const sorted = tracker.sortedLatencies();
    const elapsedS = (tracker.lastAt - tracker.firstAt) / 1000;
    return {
      target: target.name,
      scenario: scenario.name,
      run,
      messages: tracker.expected,
      received: tracker.unique,
      lost: tracker.expected - tracker.unique,
      duplicates: tracker.duplicates,
      strays: tracker.strays,
      msgPerSec: elapsedS > 0 ? Math.round((tracker.unique - 1) / elapsedS) : 0,
      p50Ms: round(tracker.percentile(50, sorted)),
      p99Ms: round(tracker.percentile(99, sorted)),
      maxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
      publishFailures: results.reduce((sum, result) => sum + result.failed, 0),
      timedOut,
      idleEnd: idle,
      durationMs: Math.round(performance.now() - startedAt),
      peakRssMiB: rss.peakMiB(),
      cpuUsPerMessage:
        cpuAtStart === undefined || cpuAtEnd === undefined || tracker.unique === 0
          ? Number.NaN
          : Math.round(((cpuAtEnd - cpuAtStart) * 1e6) / tracker.unique),
      generatorCpuUsPerMessage:
        generator === undefined || tracker.unique === 0
          ? Number.NaN
          : Math.round(generator.cpuUs / tracker.unique),
      generatorBusyPercent:
        generator === undefined || generator.wallUs === 0
          ? Number.NaN
          : Math.round((100 * generator.cpuUs) / generator.wallUs),
      ...(dropped === undefined ? {} : { dropped }),
    };
  } finally {
    clearTimeout(timer);
    controller.abort();
    await Promise.all(mqttClients.map((client) => endMqtt(client)));
    for (const connection of amqpConnections) connection.close();
  }
}

interface GeneratorClock {
  readonly cpu: NodeJS.CpuUsage;
  readonly wallMs: number;
}

/** The generator's own CPU time and the wall clock, to tell when it rather than the target set the pace. */
function generatorClock(): GeneratorClock {
  return { cpu: process.cpuUsage(), wallMs: performance.now() };
}

function generatorSince(start: GeneratorClock): { cpuUs: number; wallUs: number } {
  const used = process.cpuUsage(start.cpu);
  return { cpuUs: used.user + used.system, wallUs: (performance.now() - start.wallMs) * 1000 };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

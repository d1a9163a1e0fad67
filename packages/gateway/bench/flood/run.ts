/**
 * Flood benchmark: one MQTT publisher at QoS 1, as fast as the gateway acknowledges (at most 100 outstanding),
 * towards one subscriber that acknowledges only `--ack-rate` messages per second, for `--seconds`. Every second it
 * prints the gateway's RSS and the messages it buffers (from its /metrics); at the end, the peaks and whether
 * they stayed under the bound the gateway's limits imply.
 *
 *   node --import tsx packages/gateway/bench/flood/run.ts [--seconds 60] [--ack-rate 200] [--size 64]
 *
 * JSON lines on stdout (one per second and a summary); progress on stderr.
 */
import { parseArgs } from 'node:util';
import { DEFAULTS } from '../../src/config/resolve';
import { connectMqtt, endMqtt, mqttPublish } from '../e2e/clients';
import { RssSampler, readMemory } from '../e2e/rss';
import { startTarget } from '../e2e/targets';
import { metric, scrapeMetrics } from '../support/metrics';
import { SlowSubscriber } from './slow-subscriber';

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer`);
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, 'ack-rate': { type: 'string' }, size: { type: 'string' } },
  });
  const seconds = positive('seconds', values.seconds, 60);
  const ackRate = positive('ack-rate', values['ack-rate'], 200);
  const size = positive('size', values.size, 64);
  // Gateway defaults: the point is to show the bound a user gets without tuning.
  const target = await startTarget('dragoman', { defaults: true });
  const metricsPort = target.metricsPort;
  if (metricsPort === undefined) throw new Error('dragoman started without /metrics');
  const sampler = new RssSampler(target.pid, 50);
  const topic = 'flood/t';
  const subscriber = await SlowSubscriber.start(target.mqtt.port, topic, ackRate);
  const publisher = await connectMqtt(target.mqtt, 'flood-publisher');
  const controller = new AbortController();
  const publishing = mqttPublish(publisher, topic, {
    publisher: 0,
    count: 2 ** 31,
    size,
    qos: 1,
    rate: undefined,
    signal: controller.signal,
  });
  const peaks = { buffered: 0, inflightIn: 0, inflightOut: 0, queued: 0, heapMiB: 0 };
  let dropped = 0;
  let droppedByReason: Record<string, number> = {};
  const startedAt = Date.now();
  for (let second = 1; second <= seconds; second++) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + second * 1000 - Date.now())));
    const samples = await scrapeMetrics(metricsPort);
    const buffered = metric(samples, 'dragoman_backend_buffered_messages');
    const inflightIn = metric(samples, 'dragoman_inflight_messages{direction="in"}');
    const inflightOut = metric(samples, 'dragoman_inflight_messages{direction="out"}');
    const queued = metric(samples, 'dragoman_credit_queued_publishes');
    const heapMiB = metric(samples, 'nodejs_heap_size_used_bytes') / 2 ** 20;
    dropped = [...samples]
      .filter(([key]) => key.startsWith('dragoman_backend_dropped_total'))
      .reduce((s, [, v]) => s + v, 0);
    droppedByReason = Object.fromEntries(
      [...samples]
        .filter(([key, value]) => key.startsWith('dragoman_backend_dropped_total') && value > 0)
        .map(([key, value]) => [/reason="([^"]+)"/.exec(key)?.[1] ?? key, value]),
    );
    peaks.buffered = Math.max(peaks.buffered, buffered);
    peaks.inflightIn = Math.max(peaks.inflightIn, inflightIn);
    peaks.inflightOut = Math.max(peaks.inflightOut, inflightOut);
    peaks.queued = Math.max(peaks.queued, queued);
    peaks.heapMiB = Math.max(peaks.heapMiB, heapMiB);
    const line = {
      bench: 'flood',
      second,
      published: metric(samples, 'dragoman_mqtt_messages_total{direction="in",qos="1"}'),
      delivered: subscriber.received,
      acknowledgedBySubscriber: subscriber.acknowledged,
      backendBuffered: buffered,
      inflightIn,
      inflightOut,
      queuedPublishes: queued,
      droppedTotal: dropped,
      rssMiB: Math.round((readMemory(target.pid)?.rssMiB ?? Number.NaN) * 10) / 10,
      heapUsedMiB: Math.round(heapMiB * 10) / 10,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  controller.abort();
  await Promise.race([publishing, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  // Each sampled metric against its own limit: the backend's session (its backlog, the messages in memory
  // among them), the bridge's deliveries held for the subscriber, the publisher's PUBLISHes awaiting AMQP, and
  // those of them queued for credit. The sum counts some messages twice (a message in flight is in the backend's
  // memory and held by the bridge; a queued PUBLISH is in flight in too), so its bound is the sum of the limits.
  const bound =
    DEFAULTS.maxOfflineMessages + DEFAULTS.maxInflight + DEFAULTS.receiveMaximum + DEFAULTS.receiveMaximum;
  const held = peaks.buffered + peaks.inflightIn + peaks.inflightOut + peaks.queued;
  const summary = {
    bench: 'flood',
    seconds,
    ackRate,
    size,
    peakRssMiB: Math.round((readMemory(target.pid)?.hwmMiB ?? Number.NaN) * 10) / 10,
    sampledPeakRssMiB: sampler.peakMiB(),
    peakHeapUsedMiB: Math.round(peaks.heapMiB * 10) / 10,
    peakBackendBuffered: peaks.buffered,
    peakInflightIn: peaks.inflightIn,
    peakInflightOut: peaks.inflightOut,
    peakQueuedPublishes: peaks.queued,
    bound,
    boundHolds: held <= bound,
    droppedTotal: dropped,
    droppedByReason,
    delivered: subscriber.received,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  sampler.stop();
  subscriber.close();
  await endMqtt(publisher);
  await target.stop();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `[bench:flood] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);

import type { AdapterMetrics, CounterMetric, GaugeMetric, HistogramMetric } from './types';

const discard = (): void => undefined;
const counter: CounterMetric = Object.freeze({ inc: discard });
const gauge: GaugeMetric = Object.freeze({ set: discard, inc: discard, dec: discard });
const histogram: HistogramMetric = Object.freeze({ observe: discard });

/** Metrics that record nothing: the default when the host gives none. */
export const noopMetrics: AdapterMetrics = Object.freeze({
  counter: () => counter,
  gauge: () => gauge,
  histogram: () => histogram,
});

/** The instruments the adapter package itself records, labelled with the adapter's name. */
export interface AdapterInstruments {
  /** `dragoman_adapter_publishes_total{adapter, qos, result}`: result is an outcome, `sent`, `no-credit`, `timeout` or `error`. */
  readonly publishes: CounterMetric;
  /** `dragoman_adapter_device_sessions{adapter}`: device sessions open. */
  readonly sessions: GaugeMetric;
  /** `dragoman_adapter_commands_total{adapter, settlement}`: commands settled, by settlement. */
  readonly commands: CounterMetric;
}

export function createInstruments(metrics: AdapterMetrics): AdapterInstruments {
  return {
    publishes: metrics.counter({
      name: 'dragoman_adapter_publishes_total',
      help: 'Messages published by device sessions, by result',
      labelNames: ['adapter', 'qos', 'result'],
    }),
    sessions: metrics.gauge({
      name: 'dragoman_adapter_device_sessions',
      help: 'Device sessions open',
      labelNames: ['adapter'],
    }),
    commands: metrics.counter({
      name: 'dragoman_adapter_commands_total',
      help: 'Commands handed to devices, by settlement',
      labelNames: ['adapter', 'settlement'],
    }),
  };
}

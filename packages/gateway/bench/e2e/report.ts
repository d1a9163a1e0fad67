/**
 * The Markdown report: medians of the runs per target and scenario, with dragoman's ratio to each peer. It
 * replaces the part of docs/performance.md between the e2e markers and leaves the rest of the file alone.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { type Machine, machineLine } from './machine';
import type { RunResult, Scenario } from './scenario';

export interface TargetSummary {
  readonly name: string;
  readonly version: string;
  readonly command: string;
  /** VmHWM of the target process at the end of its runs. */
  readonly peakRssMiB: number;
}

export interface ReportInput {
  readonly machine: Machine;
  readonly invocation: string;
  readonly startedAt: string;
  readonly messages: number;
  readonly size: number;
  readonly runs: number;
  /** Messages of each unthrottled scenario sent, unmeasured, to each fresh target before its runs. */
  readonly warmup: number;
  readonly rateSeconds: number;
  readonly scenarios: readonly Scenario[];
  readonly targets: readonly TargetSummary[];
  readonly results: readonly RunResult[];
}

export const BEGIN = '<!-- e2e:begin (written by npm run bench:e2e) -->';
export const END = '<!-- e2e:end -->';

export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const FLOW_TITLE = { 'mqtt-amqp': 'MQTT→AMQP', 'amqp-mqtt': 'AMQP→MQTT', 'mqtt-mqtt': 'MQTT→MQTT' } as const;

export function scenarioTitle(scenario: Scenario): string {
  const who = scenario.publishers === 1 ? '1 publisher' : `${scenario.publishers} publishers`;
  const rate = scenario.rate === undefined ? '' : `, fixed ${scenario.rate.toLocaleString('en-US')} msg/s`;
  return `${FLOW_TITLE[scenario.flow]} QoS ${scenario.qos}, ${who}${rate}`;
}

function number(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function ratio(ours: number, theirs: number): string {
  if (!Number.isFinite(ours) || !Number.isFinite(theirs) || theirs === 0) return '–';
  return `${(ours / theirs).toFixed(2)}×`;
}

function resultsOf(input: ReportInput, target: string, scenario: Scenario): RunResult[] {
  return input.results.filter((result) => result.target === target && result.scenario === scenario.name);
}

export function renderReport(input: ReportInput): string {
  const names = input.targets.map((target) => target.name);
  const peers = names.filter((name) => name !== 'dragoman');
  const hasDragoman = names.includes('dragoman');
  const lines: string[] = [];
  lines.push(
    `Measured ${input.startedAt} on ${machineLine(input.machine)}. ${input.messages.toLocaleString('en-US')} messages of ${input.size} B per run (fixed-rate rows: min(messages, rate × ${input.rateSeconds} s)), median of ${input.runs} run(s), in ${input.runs} round(s) that each start every target afresh and run each scenario once on it${input.warmup > 0 ? `, after a warm-up of ${input.warmup.toLocaleString('en-US')} messages of each unthrottled scenario (not measured)` : ''}; one load generator for all targets, in its own process.`,
    '',
    `Command: \`${input.invocation}\``,
    '',
  );
  const ratioHeads = hasDragoman ? peers.map((peer) => `dragoman / ${peer}`) : [];
  const head = ['scenario', ...names, ...ratioHeads];
  const table = (title: string, cell: (runs: RunResult[]) => number, digits: number, withRatios = true) => {
    const columns = withRatios ? head : ['scenario', ...names];
    lines.push(
      `**${title}**`,
      '',
      `| ${columns.join(' | ')} |`,
      `| ${columns.map(() => '---').join(' | ')} |`,
    );
    for (const scenario of input.scenarios) {
      const medians = names.map((name) => {
        const runs = resultsOf(input, name, scenario);
        return runs.length === 0 ? Number.NaN : cell(runs);
      });
      const ours = medians[names.indexOf('dragoman')] ?? Number.NaN;
      const ratios =
        hasDragoman && withRatios
          ? peers.map((peer) => ratio(ours, medians[names.indexOf(peer)] ?? Number.NaN))
          : [];
      lines.push(
        `| ${[scenarioTitle(scenario), ...medians.map((value) => number(value, digits)), ...ratios].join(' | ')} |`,
      );
    }
    lines.push('');
  };
  table(
    'Throughput, messages/s from first to last receipt (median; higher is better)',
    (runs) => median(runs.map((r) => r.msgPerSec)),
    0,
  );
  table('p50 latency, ms (median over runs; lower is better)', (runs) => median(runs.map((r) => r.p50Ms)), 1);
  table('p99 latency, ms (median over runs; lower is better)', (runs) => median(runs.map((r) => r.p99Ms)), 1);
  table(
    'CPU time of the target process per received message, µs (user + system from /proc, median; lower is better; RabbitMQ: the Erlang VM)',
    (runs) => median(runs.map((r) => r.cpuUsPerMessage)),
    0,
  );
  table(
    "The load generator's CPU time over the run's wall time, % of one core (median). The generator is one event loop: near 100 it, not the target, set the pace, and the target's throughput is a lower bound",
    (runs) => median(runs.map((r) => r.generatorBusyPercent)),
    0,
    false,
  );
  table(
    'Messages lost + duplicated, summed over runs (should be 0)',
    (runs) => runs.reduce((sum, r) => sum + r.lost + r.duplicates, 0),
    0,
  );

  const rssHead = ['', ...names, ...ratioHeads];
  const ours = input.targets.find((target) => target.name === 'dragoman')?.peakRssMiB ?? Number.NaN;
  lines.push(
    '**Peak RSS of the target process: the highest VmHWM over the rounds (each round is a fresh process), MiB; lower is better**',
    '',
    `| ${rssHead.join(' | ')} |`,
    `| ${rssHead.map(() => '---').join(' | ')} |`,
    `| peak RSS | ${[...input.targets.map((target) => number(target.peakRssMiB, 1)), ...(hasDragoman ? peers.map((peer) => ratio(ours, input.targets.find((target) => target.name === peer)?.peakRssMiB ?? Number.NaN)) : [])].join(' | ')} |`,
    '',
    'A ratio is dragoman\'s figure divided by the peer\'s (throughput: above 1× means dragoman is faster; latency and memory: below 1× means dragoman is better). "–": the scenario does not apply (MQTT→AMQP and AMQP→MQTT need both protocols) or the target was not run.',
    '',
    'Targets as started:',
    '',
    ...input.targets.map((target) => `- **${target.name}** ${target.version}: \`${target.command}\``),
    '',
  );
  return lines.join('\n');
}

/** Writes `section` between the markers of `path`, creating the file or the markers if needed. */
export async function writeSection(path: string, section: string, skeleton: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    text = skeleton;
  }
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const block = `${BEGIN}\n\n${section}\n${END}`;
  const next =
    begin >= 0 && end > begin
      ? `${text.slice(0, begin)}${block}${text.slice(end + END.length)}`
      : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(path, next);
}

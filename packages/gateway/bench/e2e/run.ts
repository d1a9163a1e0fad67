/**
 * End-to-end benchmark of dragoman beside the peers a user would pick instead (see docs/performance.md).
 *
 *   npm run bench:e2e -- [--messages N] [--runs N] [--targets dragoman,mosquitto,aedes,rabbitmq]
 *                        [--scenarios mqtt-amqp-qos0-1p,...] [--rate R] [--rate-seconds S] [--size B]
 *                        [--warmup N] [--timeout S] [--report docs/performance.md | --no-report]
 *
 * Prints one JSON object per run on stdout (JSON lines); progress goes to stderr.
 */
// First: the generator's clients must load after it (see the module).
import '../support/quiet-debug';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine } from './machine';
import { renderReport, type TargetSummary, writeSection } from './report';
import { RssSampler, readMemory } from './rss';
import { applies, DEFAULT_SCENARIOS, parseScenario, type RunResult, runScenario } from './scenario';
import { REPO_ROOT, startTarget, TARGET_NAMES, type TargetName, unavailable } from './targets';

const USAGE = `usage: npm run bench:e2e -- [options]
  --messages N       messages per run (default 100000)
  --runs N           runs per scenario and target; the report shows the median (default 3)
  --targets LIST     ${TARGET_NAMES.join(',')} (default: all that are installed)
  --scenarios LIST   <mqtt-amqp|amqp-mqtt|mqtt-mqtt>-qos<0|1>-<N>p[@rate] (default: ${DEFAULT_SCENARIOS.join(',')})
  --rate R           fixed rate (msg/s over all publishers) for every scenario without its own @rate
  --rate-seconds S   a fixed-rate run sends min(messages, rate x S) messages (default 10)
  --size B           payload bytes (default 64, at least 18)
  --warmup N         messages of each unthrottled scenario sent, unmeasured, to each freshly started target
                     before its measured runs (default 20000; 0: none)
  --timeout S        a run that has not received everything after S seconds ends and reports loss (default 120)
  --report FILE      Markdown report to update (default docs/performance.md); --no-report: JSON lines only`;

function nonNegative(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new Error(`--${name} must be a non-negative integer, got '${value}'`);
  return parsed;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new Error(`--${name} must be a positive integer, got '${value}'`);
  return parsed;
}

function log(message: string): void {
  process.stderr.write(`[bench:e2e] ${message}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string' },
      runs: { type: 'string' },
      targets: { type: 'string' },
      scenarios: { type: 'string' },
      rate: { type: 'string' },
      'rate-seconds': { type: 'string' },
      size: { type: 'string' },
      warmup: { type: 'string' },
      timeout: { type: 'string' },
      report: { type: 'string' },
      'no-report': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.error(USAGE);
    return;
  }
  const messages = positive('messages', values.messages, 100_000);
  const runs = positive('runs', values.runs, 3);
  const size = positive('size', values.size, 64);
  if (size < 18) throw new Error('--size must be at least 18 (the header the receiver reads)');
  const timeoutMs = positive('timeout', values.timeout, 120) * 1000;
  const warmup = nonNegative('warmup', values.warmup, 20_000);
  const rateSeconds = positive('rate-seconds', values['rate-seconds'], 10);
  const rate = values.rate === undefined ? undefined : positive('rate', values.rate, 1);
  const scenarios = (values.scenarios?.split(',') ?? [...DEFAULT_SCENARIOS]).map((name) =>
    parseScenario(name.trim(), rate),
  );
  const requested = (values.targets?.split(',') ?? [...TARGET_NAMES]).map((name) => name.trim());
  const explicitTargets = values.targets !== undefined;
  const targetNames: TargetName[] = [];
  for (const name of requested) {
    if (!(TARGET_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown target '${name}' (known: ${TARGET_NAMES.join(', ')})`);
    }
    const reason = unavailable(name as TargetName);
    if (reason === undefined) targetNames.push(name as TargetName);
    else if (explicitTargets) throw new Error(`target ${name} cannot run: ${reason}`);
    else log(`skipping ${name}: ${reason}`);
  }

  const machine = describeMachine();
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const results: RunResult[] = [];
  const summaries = new Map<TargetName, TargetSummary>();
  // Rounds, not one target after the other: each round starts every target afresh and runs each scenario
  // once on it, so that other work on the machine drifting in and out hits every target alike.
  for (let run = 1; run <= runs; run++) {
    for (const name of targetNames) {
      log(`round ${run}: starting ${name}`);
      const target = await startTarget(name);
      const sampler = new RssSampler(target.pid);
      const rss = () => ({ reset: () => sampler.reset(), peakMiB: () => sampler.peakMiB() });
      try {
        // A fresh process first runs its code unoptimised (V8's, and the Erlang VM's, JIT): without a warm-up
        // the first scenario of every round measured that too.
        for (const scenario of scenarios) {
          if (warmup === 0 || scenario.rate !== undefined || !applies(scenario, target)) continue;
          const result = await runScenario(target, scenario, run, { messages: warmup, size, timeoutMs }, rss);
          log(
            `${name} ${scenario.name} warm-up: ${result.msgPerSec} msg/s, lost ${result.lost} (not measured)`,
          );
        }
        for (const scenario of scenarios) {
          if (!applies(scenario, target)) continue;
          const count =
            scenario.rate === undefined ? messages : Math.min(messages, scenario.rate * rateSeconds);
          const result = await runScenario(target, scenario, run, { messages: count, size, timeoutMs }, rss);
          results.push(result);
          process.stdout.write(`${JSON.stringify({ bench: 'e2e', ...result })}\n`);
          log(
            `${name} ${scenario.name} run ${run}: ${result.msgPerSec} msg/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, lost ${result.lost}, dup ${result.duplicates}, rss ${result.peakRssMiB} MiB, cpu ${result.cpuUsPerMessage} µs/msg, generator ${result.generatorCpuUsPerMessage} µs/msg (${result.generatorBusyPercent} % busy)`,
          );
        }
        const hwmMiB = Math.round((readMemory(target.pid)?.hwmMiB ?? Number.NaN) * 10) / 10;
        const previous = summaries.get(name)?.peakRssMiB ?? 0;
        summaries.set(name, {
          name,
          version: target.version,
          command: target.command,
          peakRssMiB: Math.max(previous, hwmMiB),
        });
        process.stdout.write(`${JSON.stringify({ bench: 'e2e', target: name, run, peakRssMiB: hwmMiB })}\n`);
      } finally {
        sampler.stop();
        await target.stop();
        log(`stopped ${name}`);
      }
    }
  }

  if (values['no-report']) return;
  const reportPath = values.report ?? join(REPO_ROOT, 'docs/performance.md');
  const invocation = `npm run bench:e2e -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, '');
  const section = renderReport({
    machine,
    invocation: invocation === 'npm run bench:e2e --' ? 'npm run bench:e2e' : invocation,
    startedAt,
    messages,
    size,
    runs,
    warmup,
    rateSeconds,
    scenarios,
    targets: [...summaries.values()],
    results,
  });
  await writeSection(reportPath, section, '# Performance\n\n## End-to-end benchmark\n');
  log(`report written to ${reportPath}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);

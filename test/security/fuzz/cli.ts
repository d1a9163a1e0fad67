/**
 * `npm run fuzz -- [--seconds N] [--cases N] [--seed N] [--tcp-cases N]`: runs the MQTT fuzzer and prints JSON
 * lines (`start`, `summary`, `gateway` when TCP cases ran, and `end` with the unhandled rejections of the whole
 * process). Exit status 1 when anything was
 * found: a crash, a hang, an unhandled rejection, a live endpoint or connection left, heap not back to its
 * baseline, or the gateway no longer serving a well-behaved client.
 */
import { parseArgs } from 'node:util';
import { retryUntil } from '../../support/wait';
import { startFuzzGateway } from './gateway-target';
import { runFuzz } from './run';
import { HEAP_TOLERANCE_BYTES, problemsOf } from './verdict';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    'tcp-cases': { type: 'string', default: '200' },
  },
});

function count(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    process.stderr.write(`fuzz: --${name} must be a non-negative integer, got ${text}\n`);
    process.exit(2);
  }
  return value;
}

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : count('seed', values.seed);
const cases = count('cases', values.cases);
const seconds = count('seconds', values.seconds);
const tcpCases = count('tcp-cases', values['tcp-cases']);
const print = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

// For the whole process, not only while cases run: a rejection that surfaces while the gateway closes would
// otherwise end the process before the summary is printed.
let rejectionsTotal = 0;
process.on('unhandledRejection', () => {
  rejectionsTotal += 1;
});

print({ event: 'start', seed, cases, seconds, tcpCases, heapToleranceBytes: HEAP_TOLERANCE_BYTES });
const target = tcpCases > 0 ? await startFuzzGateway() : undefined;
let failed = false;
try {
  const summary = await runFuzz({ seed, cases, seconds, tcpCases, tcp: target?.target });
  const problems = problemsOf(summary);
  print({ event: 'summary', ...summary, problems });
  failed = problems.length > 0;
  if (target !== undefined) {
    let responsive = true;
    let error: string | undefined;
    try {
      await target.roundTrip();
    } catch (e) {
      responsive = false;
      error = String(e);
    }
    let live = await target.liveConnections();
    try {
      await retryUntil(
        async () => {
          live = await target.liveConnections();
          if (live > 0) throw new Error(`${live} still open`);
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'every connection to the gateway to close' },
      );
    } catch {
      // Reported below.
    }
    print({ event: 'gateway', responsive, liveConnections: live, error });
    failed ||= !responsive || live > 0;
  }
} finally {
  await target?.close();
}
print({ event: 'end', unhandledRejectionsTotal: rejectionsTotal });
failed ||= rejectionsTotal > 0;
// exitCode, not exit(): stdout to a pipe is asynchronous and exit() could cut the last lines.
process.exitCode = failed ? 1 : 0;

/**
 * The bounded slice of `npm run fuzz` that runs in `npm test`: mutated MQTT input (bit flips, truncation,
 * length-field corruption, splicing, duplication, random bytes on top of valid mqtt-packet sequences) against
 * `MqttServer` over in-memory streams with a fixed seed and a fresh random seed (printed, for reproduction with
 * `npm run fuzz -- --seed N`), then over TCP against the whole gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryUntil } from '../support/wait';
import { type FuzzGateway, startFuzzGateway } from './fuzz/gateway-target';
import { type FuzzSummary, runFuzz } from './fuzz/run';
import { HEAP_TOLERANCE_BYTES, problemsOf } from './fuzz/verdict';

const FIXED_SEED = 0x5eed_2026;

function report(label: string, summary: FuzzSummary): void {
  const { failures, ...counts } = summary;
  console.log(`fuzz ${label}: ${JSON.stringify(counts)}`);
  for (const failure of failures) console.log(`fuzz ${label} finding: ${JSON.stringify(failure)}`);
}

function expectClean(summary: FuzzSummary, minimumCases: number): void {
  expect(problemsOf(summary)).toEqual([]);
  expect(summary.cases + summary.tcpCases).toBeGreaterThanOrEqual(minimumCases);
  // The endpoint really was exercised: most inputs end in a protocol error, some get through cleanly.
  expect(summary.closeReasons['protocol-error'] ?? 0).toBeGreaterThan(0);
  expect(summary.closeReasons['client-disconnect'] ?? 0).toBeGreaterThan(0);
}

describe('MQTT fuzzing, in memory', () => {
  it('survives 4 000 mutated inputs with the fixed seed: no crash, hang, rejection or leak', async () => {
    const summary = await runFuzz({ seed: FIXED_SEED, cases: 4_000, seconds: 40 });
    report(`seed ${FIXED_SEED}`, summary);
    expectClean(summary, 1_000);
    expect(summary.heapAfterBytes - summary.heapBeforeBytes).toBeLessThanOrEqual(HEAP_TOLERANCE_BYTES);
  }, 60_000);

  it('survives 2 000 mutated inputs with a random seed (printed for reproduction)', async () => {
    const seed = Math.floor(Math.random() * 2 ** 32);
    console.log(
      `fuzz random seed: ${seed} (reproduce: npm run fuzz -- --seed ${seed} --cases 2000 --tcp-cases 0)`,
    );
    const summary = await runFuzz({ seed, cases: 2_000, seconds: 30 });
    report(`seed ${seed}`, summary);
    expectClean(summary, 500);
  }, 60_000);
});

describe('MQTT fuzzing over TCP against the gateway', () => {
  let target: FuzzGateway;
  beforeAll(async () => {
    target = await startFuzzGateway();
  });
  afterAll(async () => {
    await target?.close();
  });

  it('survives 300 mutated inputs over TCP and still serves a well-behaved client', async () => {
    const summary = await runFuzz({
      seed: FIXED_SEED,
      cases: 0,
      seconds: 40,
      tcpCases: 300,
      tcp: target.target,
    });
    report('tcp', summary);
    expect(problemsOf(summary)).toEqual([]);
    expect(summary.tcpCases).toBe(300);
    await target.roundTrip();
    await retryUntil(
      async () => {
        const live = await target.liveConnections();
        if (live !== 0) throw new Error(`${live} connections or bridged clients still open`);
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'every fuzz connection to be closed' },
    );
  }, 60_000);
});

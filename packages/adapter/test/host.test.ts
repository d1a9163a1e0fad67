import { describe, expect, it } from 'vitest';
import {
  type Adapter,
  type AdapterContext,
  AdapterStartError,
  AdapterStateError,
  AdapterTimeoutError,
  runAdapters,
  type StartOptions,
  type StopOptions,
} from '../src/index';

/** How a scripted adapter behaves in stop. */
type StopBehaviour = 'prompt' | 'until-abort' | 'stuck' | 'throws';

/** An adapter that records its lifecycle into a shared journal. */
class ScriptedAdapter implements Adapter {
  context: AdapterContext | undefined;
  startSignal: AbortSignal | undefined;
  stopOptions: StopOptions | undefined;

  constructor(
    readonly name: string,
    private readonly journal: string[],
    private readonly behaviour: { start?: 'ok' | 'throws' | 'hangs'; stop?: StopBehaviour } = {},
  ) {}

  async start(context: AdapterContext, options: StartOptions): Promise<void> {
    this.context = context;
    this.startSignal = options.signal;
    this.journal.push(`start ${this.name}`);
    if (this.behaviour.start === 'throws') throw new Error(`${this.name} cannot bind`);
    if (this.behaviour.start === 'hangs') await new Promise(() => undefined);
  }

  async stop(options: StopOptions): Promise<void> {
    this.stopOptions = options;
    this.journal.push(`stop ${this.name}`);
    switch (this.behaviour.stop ?? 'prompt') {
      case 'prompt':
        return;
      case 'throws':
        throw new Error(`${this.name} stop failed`);
      case 'until-abort':
        // Drains until the deadline signal says to stop at once.
        await new Promise<void>((resolve) => {
          if (options.signal.aborted) resolve();
          options.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        this.journal.push(`aborted ${this.name}`);
        return;
      case 'stuck':
        await new Promise(() => undefined);
    }
  }
}

const amqp = { url: 'amqp://127.0.0.1:1', reconnect: false } as const;

describe('runAdapters and AdapterHost', () => {
  it('starts in order, stops in reverse order, and reports a clean stop', async () => {
    const journal: string[] = [];
    const adapters = ['a', 'b', 'c'].map((n) => new ScriptedAdapter(n, journal));
    const host = await runAdapters({ amqp }, adapters);
    expect(host.state).toBe('running');
    expect(host.adapters).toEqual(['a', 'b', 'c']);
    const report = await host.stop(5_000);
    expect(journal).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
    expect(report.clean).toBe(true);
    expect(report.adapters.map((r) => [r.name, r.state])).toEqual([
      ['c', 'stopped'],
      ['b', 'stopped'],
      ['a', 'stopped'],
    ]);
    expect(host.state).toBe('stopped');
    expect(await host.stop()).toBe(report);
  });

  it('gives every adapter the same deadline, and aborts the ones still draining when it passes', async () => {
    const journal: string[] = [];
    const draining = new ScriptedAdapter('draining', journal, { stop: 'until-abort' });
    const quick = new ScriptedAdapter('quick', journal);
    const host = await runAdapters({ amqp }, [quick, draining]);
    const before = Date.now();
    const report = await host.stop(200);
    expect(draining.stopOptions?.deadline).toBeGreaterThanOrEqual(before);
    expect(draining.stopOptions?.signal.aborted).toBe(true);
    expect(draining.stopOptions?.signal.reason).toBeInstanceOf(AdapterTimeoutError);
    // The deadline is shared: the adapter stopped after it sees it already passed.
    expect(quick.stopOptions?.signal).toBe(draining.stopOptions?.signal);
    expect(journal).toEqual([
      'start quick',
      'start draining',
      'stop draining',
      'aborted draining',
      'stop quick',
    ]);
    expect(report.adapters.map((r) => [r.name, r.state])).toEqual([
      ['draining', 'aborted'],
      ['quick', 'aborted'],
    ]);
    expect(report.clean).toBe(false);
  });

  it('abandons an adapter that ignores its abort, and still stops the others', async () => {
    const journal: string[] = [];
    const first = new ScriptedAdapter('first', journal);
    const stuck = new ScriptedAdapter('stuck', journal, { stop: 'stuck' });
    const host = await runAdapters({ amqp }, [first, stuck], { abortGraceMs: 100 });
    const report = await host.stop(100);
    expect(report.adapters.map((r) => [r.name, r.state])).toEqual([
      ['stuck', 'abandoned'],
      ['first', 'aborted'],
    ]);
    expect(journal).toContain('stop first');
  });

  it('accepts an AbortSignal as the deadline', async () => {
    const journal: string[] = [];
    const draining = new ScriptedAdapter('draining', journal, { stop: 'until-abort' });
    const host = await runAdapters({ amqp }, [draining]);
    const controller = new AbortController();
    const stopping = host.stop(controller.signal);
    controller.abort();
    const report = await stopping;
    expect(report.adapters[0]?.state).toBe('aborted');
    expect(draining.stopOptions?.deadline).toBe(Number.POSITIVE_INFINITY);
  });

  it('reports a stop that throws as failed, with its error', async () => {
    const journal: string[] = [];
    const host = await runAdapters({ amqp }, [
      new ScriptedAdapter('ok', journal),
      new ScriptedAdapter('broken', journal, { stop: 'throws' }),
    ]);
    const report = await host.stop(5_000);
    expect(report.adapters[0]).toMatchObject({ name: 'broken', state: 'failed' });
    expect(report.adapters[0]?.error?.message).toBe('broken stop failed');
    expect(report.adapters[1]).toMatchObject({ name: 'ok', state: 'stopped' });
  });

  it('surfaces a failed start as AdapterStartError after stopping what had started', async () => {
    const journal: string[] = [];
    const adapters = [
      new ScriptedAdapter('a', journal),
      new ScriptedAdapter('b', journal),
      new ScriptedAdapter('bad', journal, { start: 'throws' }),
      new ScriptedAdapter('never', journal),
    ];
    const error = await runAdapters({ amqp }, adapters).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdapterStartError);
    expect(error).toMatchObject({ adapter: 'bad', cause: { message: 'bad cannot bind' } });
    expect(journal).toEqual(['start a', 'start b', 'start bad', 'stop bad', 'stop b', 'stop a']);
  });

  it('fails a start that outlives startTimeoutMs, aborting its start signal', async () => {
    const journal: string[] = [];
    const hanging = new ScriptedAdapter('hanging', journal, { start: 'hangs' });
    const error = await runAdapters({ amqp }, [hanging], { startTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdapterStartError);
    expect((error as Error).cause).toBeInstanceOf(AdapterTimeoutError);
    expect(hanging.startSignal?.aborted).toBe(true);
    expect(journal).toEqual(['start hanging', 'stop hanging']);
  });

  it("emits 'failure' when an adapter reports it cannot go on", async () => {
    const adapter = new ScriptedAdapter('fragile', []);
    const host = await runAdapters({ amqp }, [adapter]);
    const failures: Array<[string, Error]> = [];
    host.on('failure', (name, error) => failures.push([name, error]));
    adapter.context?.fail(new Error('listener died'));
    expect(failures).toEqual([['fragile', new Error('listener died')]]);
    await host.stop(1_000);
  });

  it('refuses two adapters with one name, and bad time-outs', async () => {
    await expect(
      runAdapters({ amqp }, [new ScriptedAdapter('x', []), new ScriptedAdapter('x', [])]),
    ).rejects.toBeInstanceOf(AdapterStateError);
    await expect(runAdapters({ amqp }, [], { startTimeoutMs: -1 })).rejects.toBeInstanceOf(AdapterStateError);
  });
});

import { describe, expect, it } from 'vitest';
import { StepSignals } from '../../src/bridge/step-signals';

describe('StepSignals', () => {
  it('aborts the signals still out when it ends, with the reason', () => {
    const steps = new StepSignals();
    const held = steps.open();
    const given = steps.open();
    given.done();
    const reason = new Error('bridge closed');
    steps.end(() => reason);
    expect(steps.ended).toBe(true);
    expect(held.signal.aborted).toBe(true);
    expect(held.signal.reason).toBe(reason);
    // One given back is no longer the bridge's to abort.
    expect(given.signal.aborted).toBe(false);
  });

  it('hands out aborted signals once ended', () => {
    const steps = new StepSignals();
    const reason = new Error('gone');
    steps.end(() => reason);
    const late = steps.open().signal;
    expect(late.aborted).toBe(true);
    expect(late.reason).toBe(reason);
  });

  it('makes the reason only when a signal takes it, and once', () => {
    const steps = new StepSignals();
    let made = 0;
    const reason = (): Error => {
      made++;
      return new Error('bridge closed');
    };
    steps.end(reason);
    expect(steps.ended).toBe(true);
    expect(made).toBe(0);
    const first = steps.open().signal;
    const second = steps.open().signal;
    expect(made).toBe(1);
    expect(second.reason).toBe(first.reason);
  });

  it('run() gives its signal back when the step settles, and aborts it if the bridge ends first', async () => {
    const steps = new StepSignals();
    let first: AbortSignal | undefined;
    await steps.run(async (signal) => {
      first = signal;
    });
    let pending: AbortSignal | undefined;
    const running = steps.run(
      (signal) =>
        new Promise<void>((_resolve, reject) => {
          pending = signal;
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    );
    steps.end(() => new Error('bridge closed'));
    await expect(running).rejects.toThrow('bridge closed');
    expect(pending?.aborted).toBe(true);
    expect(first?.aborted).toBe(false);
  });

  it('run() gives the signal back when the step throws at once', () => {
    const steps = new StepSignals();
    let seen: AbortSignal | undefined;
    expect(() =>
      steps.run((signal) => {
        seen = signal;
        throw new Error('bad');
      }),
    ).toThrow('bad');
    steps.end(() => new Error('end'));
    expect(seen?.aborted).toBe(false);
  });
});

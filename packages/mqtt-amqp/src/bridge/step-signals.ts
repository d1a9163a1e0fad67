/**
 * Abort signals for a bridge's steps under way (the connect sequence, a SUBSCRIBE's outcome, …), all aborted
 * when the bridge ends. One controller per step, dropped when the step settles, rather than one for the bridge's
 * whole life: an AbortController with its signal is about 0.8 KiB, and an idle client has no step under way.
 */
export class StepSignals {
  #live: Set<AbortController> | undefined;
  /** Makes the abort reason once it is needed; set when the bridge ends. */
  #endedBy: (() => Error) | undefined;
  #reason: Error | undefined;

  /** The bridge has ended: every signal handed out is aborted, and new ones are born aborted. */
  get ended(): boolean {
    return this.#endedBy !== undefined;
  }

  /** The abort reason, made at its first use (an idle bridge ends with no step under way). */
  #reasonOf(endedBy: () => Error): Error {
    this.#reason ??= endedBy();
    return this.#reason;
  }

  /**
   * A signal for one step. `done()` forgets it once the step has settled; a signal never given back (one the
   * bridge holds for its life) is simply aborted at the end.
   */
  open(): { readonly signal: AbortSignal; done(): void } {
    const controller = new AbortController();
    if (this.#endedBy !== undefined) {
      controller.abort(this.#reasonOf(this.#endedBy));
      return { signal: controller.signal, done: () => {} };
    }
    const live = this.#live ?? new Set<AbortController>();
    this.#live = live;
    live.add(controller);
    return {
      signal: controller.signal,
      done: () => {
        live.delete(controller);
        if (live.size === 0 && this.#live === live) this.#live = undefined;
      },
    };
  }

  /** Runs `step` with a signal of its own, given back once the step has settled. */
  run<T>(step: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { signal, done } = this.open();
    let running: Promise<T>;
    try {
      running = step(signal);
    } catch (error) {
      done();
      throw error;
    }
    running.then(done, done);
    return running;
  }

  /**
   * Ends: aborts every signal still out with the error `reason` makes, made only if a signal is there to take
   * it (its stack capture is most of an idle bridge's end otherwise).
   */
  end(reason: () => Error): void {
    if (this.#endedBy !== undefined) return;
    this.#endedBy = reason;
    const live = this.#live;
    this.#live = undefined;
    if (live === undefined) return;
    const error = this.#reasonOf(reason);
    for (const controller of live) controller.abort(error);
  }
}

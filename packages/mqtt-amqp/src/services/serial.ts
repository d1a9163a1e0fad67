/** Runs async tasks one after another, in the order given; a failed task does not stop the ones after it. */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** Tasks given and not finished yet. */
  get pending(): number {
    return this.#pending;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.#pending += 1;
    const done = (): void => {
      this.#pending -= 1;
    };
    const result = this.#tail.then(task, task);
    this.#tail = result.then(done, done);
    return result;
  }

  /** Resolves once every task given so far has finished. */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined);
  }
}

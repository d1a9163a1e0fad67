/**
 * Tells the clients of one AMQP connection that it is gone. A set of callbacks rather than an AbortSignal:
 * thousands of clients share a pooled connection, and an EventTarget looks through every listener on each
 * `addEventListener` (quadratic over the clients) and keeps a listener record of its own for each.
 */
export class ConnectionLoss {
  readonly #listeners = new Set<() => void>();
  #lost = false;

  /** The connection has gone. */
  get lost(): boolean {
    return this.#lost;
  }

  /** Calls `listener` once, when the connection goes (never if it has gone already: check `lost` first). */
  on(listener: () => void): void {
    if (!this.#lost) this.#listeners.add(listener);
  }

  off(listener: () => void): void {
    this.#listeners.delete(listener);
  }

  /** The connection has gone: calls every listener once (a throwing one does not stop the others). */
  fire(): void {
    if (this.#lost) return;
    this.#lost = true;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // One client's failure to end must not keep the others on a dead connection.
      }
    }
  }
}

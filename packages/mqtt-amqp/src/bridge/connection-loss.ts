/**
 * What is told of the loss: an object with a method (a client's bridge itself) rather than a callback, so that
 * no client holds a closure for it.
 */
export interface ConnectionLossListener {
  connectionLost(): void;
}

/**
 * Tells the clients of one AMQP connection that it is gone. A set of listener objects rather than an
 * AbortSignal: thousands of clients share a pooled connection, and an EventTarget looks through every listener
 * on each `addEventListener` (quadratic over the clients) and keeps a listener record of its own for each.
 */
export class ConnectionLoss {
  readonly #listeners = new Set<ConnectionLossListener>();
  #lost = false;

  /** The connection has gone. */
  get lost(): boolean {
    return this.#lost;
  }

  /**
   * Calls `listener.connectionLost()` once, when the connection goes (never if it has gone already: check
   * `lost` first).
   */
  on(listener: ConnectionLossListener): void {
    if (!this.#lost) this.#listeners.add(listener);
  }

  off(listener: ConnectionLossListener): void {
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
        listener.connectionLost();
      } catch {
        // One client's failure to end must not keep the others on a dead connection.
      }
    }
  }
}

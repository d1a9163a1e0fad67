/**
 * Spreads a burst of bridge teardowns over turns of the event loop. When thousands of clients go at once (a
 * network blip), each one's teardown detaches its links, and the embedded backend reads all of those detaches
 * and answers them in the same check phase: seconds during which nothing else — other clients' messages —
 * moves. Here at most `perTurn` teardowns start their AMQP work per turn, so the loop keeps serving traffic
 * between batches; a lone close waits one turn.
 *
 * The bound: the queue holds one waiter per bridge that is closing, so it never exceeds the number of clients
 * the gateway holds (its connection limit), and it drains by `perTurn` every turn; its array keeps at most as
 * many taken slots as waiting ones (it is cut down past half), however long teardowns keep arriving.
 */
export class TeardownPacer {
  readonly perTurn: number;
  #waiting: (() => void)[] = [];
  /** Index of the next waiter in `#waiting` (cheaper than shifting a long array). */
  #head = 0;
  #scheduled = false;

  constructor(perTurn = DEFAULT_TEARDOWNS_PER_TURN) {
    if (!Number.isInteger(perTurn) || perTurn < 1) throw new RangeError('perTurn must be a positive integer');
    this.perTurn = perTurn;
  }

  /** Teardowns waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** Resolves on a later turn of the event loop, when this teardown's batch comes. */
  turn(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#run);
      }
    });
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    const waiting = this.#waiting;
    const end = Math.min(waiting.length, this.#head + this.perTurn);
    const batch = waiting.slice(this.#head, end);
    if (end === waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else {
      // Past half the array, keep only the waiting: teardowns that keep arriving would keep taken slots forever.
      if (end > waiting.length / 2) {
        this.#waiting = waiting.slice(end);
        this.#head = 0;
      } else {
        this.#head = end;
      }
      this.#scheduled = true;
      setImmediate(this.#run);
    }
    for (const resolve of batch) resolve();
  };
}

/** Teardowns started per turn: ~64 × 60 µs of AMQP work, a few milliseconds between other traffic. */
export const DEFAULT_TEARDOWNS_PER_TURN = 64;

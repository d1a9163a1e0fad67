/**
 * The clients' control links (`$mqtt.to.<id>.control`, our senders), by address, with waiting for one to
 * attach: an FE may send AMQP_LIST before its control receiver's attach has reached us.
 */
import { type Sender, TimeoutError } from '@dragoman/amqp';

interface Waiter {
  readonly resolve: (sender: Sender) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class ControlLinks {
  readonly #links = new Map<string, Sender>();
  readonly #waiters = new Map<string, Set<Waiter>>();

  add(address: string, sender: Sender): void {
    this.#links.set(address, sender);
    const waiters = this.#waiters.get(address);
    if (waiters === undefined) return;
    this.#waiters.delete(address);
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(sender);
    }
  }

  remove(address: string, sender: Sender): void {
    if (this.#links.get(address) === sender) this.#links.delete(address);
  }

  /** The open control link at `address`, waiting up to `timeoutMs` for it to attach. */
  get(address: string, timeoutMs: number): Promise<Sender> {
    const sender = this.#links.get(address);
    if (sender?.isOpen) return Promise.resolve(sender);
    return new Promise((resolve, reject) => {
      let waiters = this.#waiters.get(address);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(address, waiters);
      }
      const set = waiters;
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          set.delete(waiter);
          if (set.size === 0 && this.#waiters.get(address) === set) this.#waiters.delete(address);
          reject(new TimeoutError(`no control link attached at '${address}' within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      set.add(waiter);
    });
  }

  /** Fails every waiter (the backend is closing). */
  close(error: Error): void {
    for (const waiters of this.#waiters.values()) {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(error);
      }
    }
    this.#waiters.clear();
    this.#links.clear();
  }
}

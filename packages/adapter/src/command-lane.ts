import type { Publisher, Subscription } from '@dragoman/reactive';
import type { Command } from './types';

interface Waiter {
  resolve(command: Command | undefined): void;
  reject(error: Error): void;
}

/**
 * One command receiver link used for one command at a time (`DeviceSession.receiveCommand`). Each take
 * grants credit 1. After a command is settled the link stays attached with no credit, ready for the next
 * take: polls that get commands do not re-attach, and the outcome never races a detach. A take that ends
 * without a command (time-out, abort) detaches the lane, because credit once granted cannot be taken back.
 */
export class CommandLane {
  #subscription: Subscription | undefined;
  #waiter: Waiter | undefined;
  #requestOnSubscribe = false;
  #dead = false;
  /** How the stream ended, for a take that comes after. */
  #ending: ((waiter: Waiter) => void) | undefined;

  /**
   * @param onIdle called when a taken command has been settled and the lane can take again.
   * @param onDead called once when the lane is gone (cancelled, or its stream ended or failed).
   */
  constructor(
    publisher: Publisher<Command>,
    private readonly onIdle: (lane: CommandLane) => void,
    private readonly onDead: (lane: CommandLane) => void,
  ) {
    publisher.subscribe({
      onSubscribe: (subscription) => {
        this.#subscription = subscription;
        if (this.#dead) subscription.cancel();
        else if (this.#requestOnSubscribe) subscription.request(1);
      },
      onNext: (command) => {
        const waiter = this.#waiter;
        this.#waiter = undefined;
        if (waiter === undefined) {
          // Nobody waits any more (cannot happen after cancel; kept safe): the peer may give it to another.
          command.release();
          return;
        }
        waiter.resolve(command);
        void command.settled.then(() => {
          if (!this.#dead) this.onIdle(this);
        });
      },
      onError: (error) => this.#end((waiter) => waiter.reject(error)),
      onComplete: () => this.#end((waiter) => waiter.resolve(undefined)),
    });
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** Waits for one command; `undefined` after `timeoutMs`, on abort, or when the stream completes. */
  take(timeoutMs: number, signal: AbortSignal | undefined): Promise<Command | undefined> {
    const ending = this.#ending;
    if (this.#dead) {
      return new Promise<Command | undefined>((resolve, reject) =>
        (ending ?? ((w) => w.resolve(undefined)))({ resolve, reject }),
      );
    }
    return new Promise<Command | undefined>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
      };
      const giveUp = (): void => {
        if (this.#waiter !== waiter) return;
        this.#waiter = undefined;
        done();
        this.cancel();
        resolve(undefined);
      };
      const waiter: Waiter = {
        resolve: (command) => {
          done();
          resolve(command);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(giveUp, timeoutMs);
      signal?.addEventListener('abort', giveUp, { once: true });
      this.#waiter = waiter;
      if (this.#subscription === undefined) this.#requestOnSubscribe = true;
      else this.#subscription.request(1);
    });
  }

  /** Detaches the lane. */
  cancel(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#subscription?.cancel();
    this.onDead(this);
  }

  #end(notify: (waiter: Waiter) => void): void {
    this.#ending = notify;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (!this.#dead) {
      this.#dead = true;
      this.onDead(this);
    }
    if (waiter !== undefined) notify(waiter);
  }
}

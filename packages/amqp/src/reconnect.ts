import { InvalidArgumentError } from './errors';
import type { Clock, ReconnectOptions } from './types';

/**
 * The system clock. Reconnect timers keep the process alive on purpose: a connection that is reconnecting is
 * still in use until the application closes it.
 */
export const systemClock: Clock = {
  setTimeout(callback, ms) {
    return setTimeout(callback, ms);
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export interface ResolvedReconnectOptions {
  readonly enabled: boolean;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: number;
  readonly maxAttempts: number;
  readonly random: () => number;
  readonly clock: Clock;
}

export function resolveReconnectOptions(
  option: boolean | ReconnectOptions | undefined,
): ResolvedReconnectOptions {
  const o: ReconnectOptions = typeof option === 'object' ? option : { enabled: option ?? true };
  const resolved = {
    enabled: o.enabled ?? true,
    initialDelayMs: o.initialDelayMs ?? 100,
    maxDelayMs: o.maxDelayMs ?? 30_000,
    multiplier: o.multiplier ?? 2,
    jitter: o.jitter ?? 0.5,
    maxAttempts: o.maxAttempts ?? Number.POSITIVE_INFINITY,
    random: o.random ?? Math.random,
    clock: o.clock ?? systemClock,
  };
  if (!(resolved.initialDelayMs >= 0))
    throw new InvalidArgumentError('reconnect.initialDelayMs must be >= 0');
  if (!(resolved.maxDelayMs >= resolved.initialDelayMs)) {
    throw new InvalidArgumentError('reconnect.maxDelayMs must be >= initialDelayMs');
  }
  if (!(resolved.multiplier >= 1)) throw new InvalidArgumentError('reconnect.multiplier must be >= 1');
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1))
    throw new InvalidArgumentError('reconnect.jitter must be in [0, 1]');
  if (!(resolved.maxAttempts >= 0)) throw new InvalidArgumentError('reconnect.maxAttempts must be >= 0');
  return resolved;
}

/**
 * Exponential back-off with jitter: attempt n (0-based) waits `min(max, initial * multiplier^n)`, of which the
 * fraction `jitter` is randomised downwards (`delay * (1 - jitter * random())`), so that many clients cut off
 * together do not reconnect in lock-step.
 */
export class Backoff {
  #attempt = 0;
  readonly #options: ResolvedReconnectOptions;

  constructor(options: boolean | ReconnectOptions | ResolvedReconnectOptions = {}) {
    this.#options =
      typeof options === 'object' && 'clock' in options && 'random' in options && 'enabled' in options
        ? (options as ResolvedReconnectOptions)
        : resolveReconnectOptions(options);
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, or undefined when `maxAttempts` is used up. */
  next(): number | undefined {
    const o = this.#options;
    if (this.#attempt >= o.maxAttempts) return undefined;
    const base = Math.min(o.maxDelayMs, o.initialDelayMs * o.multiplier ** this.#attempt);
    this.#attempt++;
    return Math.round(base * (1 - o.jitter * o.random()));
  }

  /** Call after a successful connection. */
  reset(): void {
    this.#attempt = 0;
  }
}

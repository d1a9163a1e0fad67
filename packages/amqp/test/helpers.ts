import type { EventEmitter } from 'node:events';
import { once } from 'node:events';

/** Waits for `event` on `emitter`, failing after `ms` (tests never sleep for correctness). */
export async function waitFor<T extends unknown[] = unknown[]>(
  emitter: EventEmitter | { on: EventEmitter['on']; off: EventEmitter['off'] },
  event: string,
  ms = 10_000,
): Promise<T> {
  return (await once(emitter as EventEmitter, event, { signal: AbortSignal.timeout(ms) })) as T;
}

/** Polls `predicate` on every event-loop turn until true, failing after `ms`. For state that has no event. */
export async function until(predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A value read at most once per Prometheus scrape. prom-client runs every collector of a scrape in the same
 * turn, before its first await, so the first collector to ask reads the value and the others of that scrape get
 * the same one; it is dropped once that turn's work is done, and the next scrape reads afresh.
 */
export function oncePerScrape<T>(read: () => T): () => T {
  let value: T | undefined;
  let held = false;
  const forget = (): void => {
    value = undefined;
    held = false;
  };
  return (): T => {
    if (!held) {
      value = read();
      held = true;
      queueMicrotask(forget);
    }
    return value as T;
  };
}

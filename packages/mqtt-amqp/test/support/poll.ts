/**
 * Waits until `check` holds, re-checking every few milliseconds, for state that emits no event (the
 * backend's counters, the gateway's client registry). Fails naming `what` after `timeoutMs`.
 */
export async function pollUntil(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

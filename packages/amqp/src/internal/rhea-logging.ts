/**
 * Whether rhea's logging is on (`DEBUG=rhea…`). rhea logs every frame it reads and writes, and every event, in
 * the steps this package replaces; those hooks then stay off, so that rhea can log as it always does.
 */
export function rheaLogs(): boolean {
  return process.env.DEBUG?.includes('rhea') === true;
}

/** A listener for a rhea link event the link must not bubble to the container (rhea would log it as unhandled). */
export function ignoreRheaEvent(): void {
  // Intentionally empty.
}

import type { AmqpConnection } from '@dragoman/amqp';
import type { RuleCheck } from '@dragoman/reactive/testkit';
import { it } from 'vitest';

/** Wraps each kit check in an `it` named by its rule; a skipped check says why. */
export function runChecks(checks: readonly RuleCheck[]): void {
  for (const check of checks) {
    if (check.skipped !== undefined) it.skip(`${check.name} (${check.skipped})`, () => undefined);
    else it(check.name, () => check.run());
  }
}

let roundTrips = 0;

/**
 * A full round trip to the peer: attach and detach a throwaway link. Frames on a connection are ordered,
 * so whatever the peer sent in answer to earlier frames has arrived by the time this resolves.
 */
export async function roundTrip(connection: AmqpConnection): Promise<void> {
  const receiver = await connection.openReceiver({ source: `round-trip-${roundTrips++}`, creditWindow: 0 });
  await receiver.close();
}

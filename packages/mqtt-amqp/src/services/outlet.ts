/**
 * The link a session delivers through: the FE's receiver on `$mqtt.to.<id>.publish`, seen from our side.
 * Kept abstract so that the Subscription service does not depend on how the link was attached.
 */
import type { AmqpMessage, Outcome } from '@dragoman/amqp';

/** Called once per delivery: the peer's outcome, or `undefined` when the link went away before one came. */
export type OutletOutcome = (outcome: Outcome | undefined) => void;

export interface Outlet {
  /** Transfers the peer allows right now (its link credit). The session never sends beyond it. */
  readonly credit: number;
  /** Sends one delivery, unsettled. Called only while `credit > 0`. */
  send(message: AmqpMessage, onOutcome: OutletOutcome): void;
}

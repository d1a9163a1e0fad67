/**
 * An `Outlet` over an accepted `Sender`: the FE's receiver on `$mqtt.to.<id>.publish`, seen from our side.
 */
import { AmqpError, type AmqpMessage, type Outcome, type Sender } from '@dragoman/amqp';
import type { Outlet, OutletOutcome } from '../services/outlet';

/** A pre-settled send counts as accepted: one object for all of them. */
const ACCEPTED: Outcome = Object.freeze({ state: 'accepted' });

export class SenderOutlet implements Outlet {
  readonly sender: Sender;

  constructor(sender: Sender) {
    this.sender = sender;
  }

  get credit(): number {
    return this.sender.isOpen ? this.sender.credit : 0;
  }

  send(message: AmqpMessage, onOutcome: OutletOutcome): void {
    let written: boolean;
    try {
      written = this.sender.trySend(message, (error, result) => {
        if (error !== undefined || result === undefined) onOutcome(undefined);
        else onOutcome(result.state === 'sent' ? ACCEPTED : result);
      });
    } catch (error) {
      // A message the link cannot encode: it will never go, so it is settled as rejected (and counted).
      const description = error instanceof Error ? error.message : String(error);
      queueMicrotask(() =>
        onOutcome({ state: 'rejected', error: new AmqpError('amqp:internal-error', description) }),
      );
      return;
    }
    // Only called with credit; should the link have gone meanwhile, the session takes the message back.
    if (!written) queueMicrotask(() => onOutcome({ state: 'released' }));
  }
}

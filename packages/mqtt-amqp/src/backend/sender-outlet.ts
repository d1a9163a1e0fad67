/**
 * An `Outlet` over an accepted `Sender`: the FE's receiver on `$mqtt.to.<id>.publish`, seen from our side.
 */
import type { AmqpMessage, Sender } from '@dragoman/amqp';
import type { Outlet, OutletOutcome } from '../services/outlet';

export class SenderOutlet implements Outlet {
  readonly sender: Sender;

  constructor(sender: Sender) {
    this.sender = sender;
  }

  get credit(): number {
    return this.sender.isOpen ? this.sender.credit : 0;
  }

  send(message: AmqpMessage, onOutcome: OutletOutcome): void {
    const written = this.sender.trySend(message, (error, result) => {
      if (error !== undefined || result === undefined) onOutcome(undefined);
      else onOutcome(result.state === 'sent' ? { state: 'accepted' } : result);
    });
    // Only called with credit; should the link have gone meanwhile, the session takes the message back.
    if (!written) queueMicrotask(() => onOutcome({ state: 'released' }));
  }
}

import type { QoS } from '@dragoman/mqtt';
import type { MessageCounts } from './types';

/**
 * What a gateway's bridges count per message, in one object they all share: an increment per message, read
 * when someone asks (`BridgeGateway.messageCounts()`), instead of a listener or a callback per message.
 */
export class MessageTally {
  /** Client PUBLISHes by QoS. Doubles: a count passes 2^31 long before it passes 2^53. */
  readonly #received = new Float64Array(3);

  /** A client's PUBLISH, as its endpoint handed it over. */
  received(qos: QoS): void {
    this.#received[qos] = (this.#received[qos] ?? 0) + 1;
  }

  /** The counts now (a copy). */
  snapshot(): MessageCounts {
    const r = this.#received;
    return { received: [r[0] ?? 0, r[1] ?? 0, r[2] ?? 0] };
  }
}

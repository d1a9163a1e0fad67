import type { QoS } from '@dragoman/mqtt';
import type { MessageCounts } from './types';

/**
 * What a gateway's bridges count per message, in one object they all share: an increment per message, read
 * when someone asks (`BridgeGateway.messageCounts()`), instead of a listener or a callback per message.
 */
export class MessageTally {
  /** Client PUBLISHes by QoS. Doubles: a count passes 2^31 long before it passes 2^53. */
  readonly #received = new Float64Array(3);
  /** PUBLISHes to clients completed, by QoS. */
  readonly #delivered = new Float64Array(3);
  #failed = 0;

  /** A client's PUBLISH, as its endpoint handed it over. */
  received(qos: QoS): void {
    this.#received[qos] = (this.#received[qos] ?? 0) + 1;
  }

  /** A PUBLISH to a client completed (QoS 0: written; QoS 1/2: answered). */
  delivered(qos: QoS): void {
    this.#delivered[qos] = (this.#delivered[qos] ?? 0) + 1;
  }

  /** The endpoint refused to write a PUBLISH to a client, or it failed before the client answered. */
  failed(): void {
    this.#failed += 1;
  }

  /** The counts now (a copy). */
  snapshot(): MessageCounts {
    const r = this.#received;
    const d = this.#delivered;
    return {
      received: [r[0] ?? 0, r[1] ?? 0, r[2] ?? 0],
      delivered: [d[0] ?? 0, d[1] ?? 0, d[2] ?? 0],
      failed: this.#failed,
    };
  }
}

/** The generator's AMQP messages: encoded once per publisher by rhea, stamped per send (see `EncodedMessages`). */
import rhea from 'rhea';
import { encodePayload, stampPayload } from './payload';

/**
 * One publisher's AMQP messages, encoded once by rhea and stamped per send: the generator pays for a copy instead
 * of rhea's encoder (a fresh 1 KiB buffer and a walk over the sections per message) and sends the same bytes.
 */
export class EncodedMessages {
  readonly #template: Buffer;
  readonly #payloadAt: number;

  constructor(
    readonly publisher: number,
    size: number,
    durable: boolean,
  ) {
    const payload = encodePayload(size, publisher, 0);
    this.#template = rhea.message.encode({ durable, body: rhea.message.data_section(payload) });
    this.#payloadAt = this.#template.lastIndexOf(payload);
    if (this.#payloadAt < 0) throw new Error('rhea encoded the payload in a form the generator cannot stamp');
  }

  next(sequence: number): Buffer {
    const bytes = Buffer.from(this.#template);
    stampPayload(bytes, this.#payloadAt, this.publisher, sequence);
    return bytes;
  }
}

/** rhea's message format for a bare AMQP message (`send` takes bytes as they are when given a format). */
export const AMQP_MESSAGE_FORMAT = 0;

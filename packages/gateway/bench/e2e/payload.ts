/**
 * The benchmark's message: 64 bytes by default, carrying a marker, the publisher's index, a sequence number and
 * the send time, so the receiver can count loss and duplicates and measure latency without any shared state
 * beyond the generator's own clock (publishers and receiver run in the same generator process).
 */
import { performance } from 'node:perf_hooks';

const MARKER = Buffer.from('DRGB', 'latin1');
/** marker (4) + publisher (2) + sequence (4) + send time (8) */
export const HEADER_BYTES = 18;

export function encodePayload(size: number, publisher: number, sequence: number): Buffer {
  const buffer = Buffer.alloc(Math.max(size, HEADER_BYTES));
  stampPayload(buffer, 0, publisher, sequence);
  return buffer;
}

/** Writes the header at `at` in `buffer` (which holds at least HEADER_BYTES there), with the send time of now. */
export function stampPayload(buffer: Buffer, at: number, publisher: number, sequence: number): void {
  MARKER.copy(buffer, at);
  buffer.writeUInt16BE(publisher, at + 4);
  buffer.writeUInt32BE(sequence, at + 6);
  buffer.writeDoubleBE(performance.now(), at + 10);
}

export interface DecodedPayload {
  readonly publisher: number;
  readonly sequence: number;
  readonly sentAt: number;
}

/** Finds the header anywhere in `bytes` (a peer may wrap the body, e.g. an AMQP section inside an MQTT payload). */
export function decodePayload(bytes: Uint8Array): DecodedPayload | undefined {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = buffer.readUInt32BE(0) === MARKER.readUInt32BE(0) ? 0 : buffer.indexOf(MARKER);
  if (at < 0 || at + HEADER_BYTES > buffer.length) return undefined;
  return {
    publisher: buffer.readUInt16BE(at + 4),
    sequence: buffer.readUInt32BE(at + 6),
    sentAt: buffer.readDoubleBE(at + 10),
  };
}

/** Counts what one run receives: unique messages, duplicates, strays, first/last receipt and latencies. */
export class ReceiptTracker {
  readonly expected: number;
  unique = 0;
  duplicates = 0;
  /** Messages without our header or with a publisher/sequence outside the run. */
  strays = 0;
  firstAt = 0;
  lastAt = 0;
  /** When anything (even a duplicate or a stray) last arrived. */
  lastActivityAt = 0;
  readonly #seen: Uint8Array[];
  readonly #perPublisher: number;
  readonly #latencies: Float64Array;
  #onComplete: (() => void) | undefined;

  constructor(publishers: number, perPublisher: number) {
    this.#perPublisher = perPublisher;
    this.expected = publishers * perPublisher;
    this.#seen = Array.from({ length: publishers }, () => new Uint8Array(perPublisher));
    this.#latencies = new Float64Array(this.expected);
  }

  /** Resolves when every expected message has arrived once. */
  complete(): Promise<void> {
    if (this.unique === this.expected) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onComplete = resolve;
    });
  }

  receive(bytes: Uint8Array): void {
    const now = performance.now();
    this.lastActivityAt = now;
    const decoded = decodePayload(bytes);
    const seen = decoded === undefined ? undefined : this.#seen[decoded.publisher];
    if (decoded === undefined || seen === undefined || decoded.sequence >= this.#perPublisher) {
      this.strays++;
      return;
    }
    if (seen[decoded.sequence] === 1) {
      this.duplicates++;
      return;
    }
    seen[decoded.sequence] = 1;
    if (this.unique === 0) this.firstAt = now;
    this.lastAt = now;
    this.#latencies[this.unique] = now - decoded.sentAt;
    this.unique++;
    if (this.unique === this.expected) this.#onComplete?.();
  }

  /** Latency percentile in ms over the messages received (NaN when none). */
  percentile(p: number, sorted = this.sortedLatencies()): number {
    if (sorted.length === 0) return Number.NaN;
    const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
    return sorted[Math.max(0, index)] ?? Number.NaN;
  }

  sortedLatencies(): Float64Array {
    return this.#latencies.slice(0, this.unique).sort();
  }
}

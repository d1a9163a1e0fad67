import type { AmqpConnection, AmqpMessage, SendResult } from '@dragoman/amqp';
import {
  fromObservable,
  type ReceivedMessage,
  receiverPublisher,
  type SenderSummary,
  senderSubscriber,
  toObservable,
} from '@dragoman/reactive';
import { buffer, filter, interval, map, type Observable, Subject, share, takeUntil } from 'rxjs';

export interface TelemetryOptions {
  /** Address the temperature readings arrive on. */
  readonly input: string;
  /** Address the maximum of each window is sent to. */
  readonly output: string;
  /** Window length in milliseconds, when `windows` is not given. Default 5 000. */
  readonly windowMs?: number;
  /** Closes a window each time it emits (tests drive windows by hand). Default: `interval(windowMs)`. */
  readonly windows?: Observable<unknown>;
  /**
   * Readings held at once: the receiver's credit. A reading is settled only when the maximum of its window
   * has been accepted downstream, so a window holds at most this many; the rest wait at the peer for the
   * next window. Default 1 000.
   */
  readonly prefetch?: number;
  /** Called for every valid reading taken into a window. */
  readonly onReading?: (celsius: number) => void;
}

/** What is sent for each window that had readings. */
export interface WindowMaximum {
  readonly maxCelsius: number;
  readonly readings: number;
  /** When the window closed (ISO 8601). */
  readonly windowEnd: string;
}

export interface Telemetry {
  /** Fulfils once stopped (or when either link ended), with how the output link ended. */
  readonly done: Promise<SenderSummary>;
  /** Closes the current window, sends its maximum, and stops. */
  stop(): void;
}

/**
 * Reads temperature readings from `input` as an rxjs Observable (toObservable over a receiverPublisher),
 * computes the maximum of each time window, and sends it to `output` through a senderSubscriber.
 *
 * Acknowledgement is end to end: the readings of a window are accepted only once their maximum has been
 * accepted at `output` (released if it was not, so that they come again); unreadable readings are rejected.
 */
export function runTelemetry(connection: AmqpConnection, options: TelemetryOptions): Telemetry {
  const stop = new Subject<void>();
  const windows = options.windows ?? interval(options.windowMs ?? 5_000);
  const readings = toObservable(receiverPublisher(connection, options.input, { settlement: 'manual' }), {
    prefetch: options.prefetch ?? 1_000,
  }).pipe(share());
  // Holds the input link open until the output is done: on stop, the last window's readings can then
  // still be settled with the outcome of their maximum.
  const inputLink = readings.subscribe({ error: () => undefined });
  /** The readings behind each maximum in flight, settled with the maximum's outcome. */
  const pending = new Map<AmqpMessage, ReceivedMessage[]>();

  const maxima = readings.pipe(
    takeUntil(stop),
    filter((reading) => {
      const celsius = celsiusOf(reading.message);
      if (celsius === undefined) {
        reading.reject({ condition: 'amqp:decode-error', description: 'not a temperature reading' });
        return false;
      }
      options.onReading?.(celsius);
      return true;
    }),
    buffer(windows),
    filter((window) => window.length > 0),
    map((window) => {
      const maximum: WindowMaximum = {
        maxCelsius: Math.max(...window.map((reading) => celsiusOf(reading.message) as number)),
        readings: window.length,
        windowEnd: new Date().toISOString(),
      };
      const message: AmqpMessage = {
        properties: { subject: 'temperature-max', contentType: 'application/json' },
        body: { type: 'value', value: JSON.stringify(maximum) },
      };
      pending.set(message, window);
      return message;
    }),
  );

  const sink = senderSubscriber(connection, options.output, {
    onOutcome: ({ message, result }) => {
      const window = pending.get(message) ?? [];
      pending.delete(message);
      for (const reading of window) settle(reading, result);
    },
  });
  // Maxima are few (one per window): a small buffer, and an error rather than silent loss if it overflows.
  fromObservable(maxima, { bufferSize: 16, overflow: 'error' }).subscribe(sink);
  const done = sink.done.finally(() => inputLink.unsubscribe());
  return { done, stop: () => stop.next() };
}

function settle(reading: ReceivedMessage, result: SendResult | undefined): void {
  if (!reading.settleable) return; // its link is gone: the peer redelivers it
  if (result?.state === 'accepted' || result?.state === 'sent') reading.accept();
  else reading.release();
}

/** A reading is a number body, or a JSON object `{ "celsius": number }`. */
export function celsiusOf(message: AmqpMessage): number | undefined {
  const body = message.body;
  let value: unknown;
  if (body?.type === 'value') value = body.value;
  else if (body?.type === 'data') value = body.data.toString('utf8');
  else return undefined;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value === 'object' && value !== null && 'celsius' in value) value = value.celsius;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

import {
  NoCreditError,
  type PublishResult,
  PublishTimeoutError,
  SessionClosedError,
} from '@dragoman/adapter';
import { AmqpError, ConnectionClosedError, LinkClosedError, TimeoutError } from '@dragoman/amqp';

/** An HTTP response as data: status, extra headers, JSON body. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
}

const json = (
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): HttpAnswer => ({
  status,
  headers,
  body,
});

/**
 * The answer to a publish that came back with an outcome:
 * - accepted (QoS 1) or sent (QoS 0) → 202: the AMQP side has taken responsibility for it;
 * - rejected → 502: the AMQP peer refused this message, sending it again will not help;
 * - modified with undeliverable-here → 502 likewise; other modified, and released → 503 with Retry-After:
 *   the peer did not process it and a retry may succeed.
 */
export function answerForResult(result: PublishResult, retryAfterSeconds: number): HttpAnswer {
  switch (result.state) {
    case 'accepted':
    case 'sent':
      return json(202, { outcome: result.state });
    case 'rejected':
      return json(502, {
        outcome: 'rejected',
        condition: result.error?.condition ?? null,
        description: result.error?.description ?? null,
      });
    case 'modified':
      if (result.undeliverableHere) return json(502, { outcome: 'modified', undeliverableHere: true });
      return json(503, { outcome: 'modified' }, { 'retry-after': String(retryAfterSeconds) });
    case 'released':
      return json(503, { outcome: 'released' }, { 'retry-after': String(retryAfterSeconds) });
  }
}

/**
 * The answer to a publish that failed:
 * - no credit (nothing sent), no outcome in time (outcome unknown: a retry may duplicate), the AMQP link or
 *   connection lost → 503 with Retry-After;
 * - the AMQP peer refused the link (e.g. amqp:not-found, amqp:unauthorized-access) → 502;
 * - anything else → 500.
 */
export function answerForError(error: unknown, retryAfterSeconds: number): HttpAnswer {
  const retry = { 'retry-after': String(retryAfterSeconds) };
  if (error instanceof NoCreditError) return json(503, { error: 'no-credit', reason: error.reason }, retry);
  if (error instanceof PublishTimeoutError)
    return json(503, { error: 'timeout', outcomeUnknown: true }, retry);
  if (
    error instanceof LinkClosedError ||
    error instanceof ConnectionClosedError ||
    error instanceof SessionClosedError ||
    error instanceof TimeoutError
  ) {
    return json(503, { error: 'unavailable' }, retry);
  }
  if (error instanceof AmqpError) {
    return json(502, {
      error: 'refused',
      condition: error.condition,
      description: error.description ?? null,
    });
  }
  return json(500, { error: 'internal' });
}

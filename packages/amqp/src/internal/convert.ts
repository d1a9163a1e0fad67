import { AmqpError, ConnectionError, LinkError, SessionError } from '../errors';
import type { AmqpErrorInit, Outcome } from '../types';

interface RheaErrorFields {
  condition?: unknown;
  description?: unknown;
  info?: unknown;
}

function fields(raw: unknown): {
  condition: string;
  description: string | undefined;
  info: Record<string, unknown> | undefined;
} {
  const e = (raw ?? {}) as RheaErrorFields;
  return {
    condition: typeof e.condition === 'string' ? e.condition : 'amqp:internal-error',
    description: typeof e.description === 'string' ? e.description : undefined,
    info:
      e.info !== undefined && e.info !== null && typeof e.info === 'object'
        ? (e.info as Record<string, unknown>)
        : undefined,
  };
}

/** An AMQP error field (as rhea decodes it) as a typed error; undefined when absent. */
export function amqpErrorFrom(raw: unknown): AmqpError | undefined {
  if (raw === undefined || raw === null) return undefined;
  const f = fields(raw);
  return new AmqpError(f.condition, f.description, { info: f.info });
}

export function linkErrorFrom(linkName: string, raw: unknown): LinkError | undefined {
  if (raw === undefined || raw === null) return undefined;
  const f = fields(raw);
  return new LinkError(linkName, f.condition, f.description, { info: f.info });
}

export function sessionErrorFrom(raw: unknown): SessionError | undefined {
  if (raw === undefined || raw === null) return undefined;
  const f = fields(raw);
  return new SessionError(f.condition, f.description, { info: f.info });
}

export function connectionErrorFrom(raw: unknown): ConnectionError | undefined {
  if (raw === undefined || raw === null) return undefined;
  const f = fields(raw);
  return new ConnectionError(f.condition, f.description, { info: f.info });
}

/** Our error description (or an AmqpError) in the shape rhea writes into close/detach/rejected frames. */
export function toRheaError(
  error: AmqpErrorInit | AmqpError | undefined,
): Record<string, unknown> | undefined {
  if (error === undefined) return undefined;
  const out: Record<string, unknown> = { condition: error.condition };
  if (error.description !== undefined) out.description = error.description;
  if (error.info !== undefined) out.info = error.info;
  return out;
}

interface RheaOutcomeFields {
  error?: unknown;
  delivery_failed?: unknown;
  undeliverable_here?: unknown;
  message_annotations?: unknown;
}

const ACCEPTED: Outcome = Object.freeze({ state: 'accepted' });
const RELEASED: Outcome = Object.freeze({ state: 'released' });

/** The outcome for rhea's outcome event `name` with the delivery's remote state. */
export function outcomeFrom(
  name: 'accepted' | 'rejected' | 'released' | 'modified',
  state: unknown,
): Outcome {
  switch (name) {
    case 'accepted':
      return ACCEPTED;
    case 'released':
      return RELEASED;
    case 'rejected':
      return { state: 'rejected', error: amqpErrorFrom((state as RheaOutcomeFields | undefined)?.error) };
    case 'modified': {
      const s = (state ?? {}) as RheaOutcomeFields;
      return {
        state: 'modified',
        deliveryFailed: s.delivery_failed === true,
        undeliverableHere: s.undeliverable_here === true,
        messageAnnotations:
          s.message_annotations !== undefined && s.message_annotations !== null
            ? (s.message_annotations as Record<string, unknown>)
            : undefined,
      };
    }
  }
}

export { ACCEPTED, RELEASED };

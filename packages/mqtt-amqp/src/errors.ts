/** Why an AMQP message could not be read as (or an MQTT value written as) one of the spec's messages. */
export type MappingErrorCode =
  /** The message's subject is not the one the expected control message carries. */
  | 'unexpected-subject'
  /** A field the spec requires is absent (e.g. `to` on AMQP_PUBLISH, `correlation-id` on AMQP_SUBSCRIBE). */
  | 'missing-field'
  /** A field is present with a value or AMQP type the spec does not allow (e.g. QoS 3, a map where a list goes). */
  | 'invalid-field'
  /** The body cannot be turned into an MQTT payload (an AMQP map, list, number, ... body). */
  | 'unsupported-body'
  /** A topic has no address in the dialect (or an address no topic), e.g. `a.b` under a `.`-separated dialect. */
  | 'unmappable-topic';

/**
 * An AMQP message that does not follow the MQTT-over-AMQP mapping, or an MQTT value the dialect cannot carry.
 * `field` names the offending AMQP field (`properties.to`, `message-annotations.x-opt-mqtt-qos`, `body`, ...).
 * A gateway answers it with `amqp:decode-error` (AMQP side) or a precise MQTT reason code (MQTT side).
 */
export class MappingError extends Error {
  override readonly name = 'MappingError';
  readonly code: MappingErrorCode;
  readonly field: string | undefined;

  constructor(code: MappingErrorCode, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options?.field;
  }
}

/** Which store limit was hit. */
export type StoreLimit =
  /** The payload is larger than `maxPayloadBytes`. */
  | 'payload'
  /** A new retained topic would exceed `maxRetained`. */
  | 'retained'
  /** A new session would exceed `maxSessions`. */
  | 'sessions'
  /** A new subscription would exceed `maxSubscriptionsPerSession`. */
  | 'subscriptions'
  /** A new will would exceed `maxWills`. */
  | 'wills';

/** A write refused because it would exceed one of the store's configured limits. Nothing was changed. */
export class StoreLimitError extends Error {
  override readonly name = 'StoreLimitError';
  readonly limit: StoreLimit;
  /** The configured maximum that was hit. */
  readonly max: number;

  constructor(limit: StoreLimit, max: number, message: string) {
    super(message);
    this.limit = limit;
    this.max = max;
  }
}

/** An operation on a store that has been closed. */
export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor(message = 'the store is closed') {
    super(message);
  }
}

/** An option given to a factory of this package is out of range or malformed; `option` names it. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  readonly option: string;
  constructor(option: string, message: string) {
    super(message);
    this.option = option;
  }
}

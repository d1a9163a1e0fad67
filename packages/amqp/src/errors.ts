/** The error conditions defined by the AMQP 1.0 specification (part 2.8.15 and friends). */
export const AmqpConditions = Object.freeze({
  internalError: 'amqp:internal-error',
  notFound: 'amqp:not-found',
  unauthorizedAccess: 'amqp:unauthorized-access',
  decodeError: 'amqp:decode-error',
  resourceLimitExceeded: 'amqp:resource-limit-exceeded',
  notAllowed: 'amqp:not-allowed',
  invalidField: 'amqp:invalid-field',
  notImplemented: 'amqp:not-implemented',
  resourceLocked: 'amqp:resource-locked',
  preconditionFailed: 'amqp:precondition-failed',
  resourceDeleted: 'amqp:resource-deleted',
  illegalState: 'amqp:illegal-state',
  frameSizeTooSmall: 'amqp:frame-size-too-small',
  connectionForced: 'amqp:connection:forced',
  connectionFramingError: 'amqp:connection:framing-error',
  connectionRedirect: 'amqp:connection:redirect',
  sessionWindowViolation: 'amqp:session:window-violation',
  sessionErrantLink: 'amqp:session:errant-link',
  sessionHandleInUse: 'amqp:session:handle-in-use',
  sessionUnattachedHandle: 'amqp:session:unattached-handle',
  linkDetachForced: 'amqp:link:detach-forced',
  linkTransferLimitExceeded: 'amqp:link:transfer-limit-exceeded',
  linkMessageSizeExceeded: 'amqp:link:message-size-exceeded',
  linkRedirect: 'amqp:link:redirect',
  linkStolen: 'amqp:link:stolen',
  transactionUnknownId: 'amqp:transaction:unknown-id',
  transactionRollback: 'amqp:transaction:rollback',
  transactionTimeout: 'amqp:transaction:timeout',
} as const);

export type StandardAmqpCondition = (typeof AmqpConditions)[keyof typeof AmqpConditions];

/** A standard condition, or any other symbol a peer may use (e.g. vendor conditions). */
export type AmqpErrorCondition = StandardAmqpCondition | (string & {});

export type AmqpErrorScope = 'connection' | 'session' | 'link' | 'delivery' | 'sasl';

const STANDARD = new Set<string>(Object.values(AmqpConditions));

/** True when `condition` is one of the conditions the AMQP 1.0 specification defines. */
export function isStandardCondition(condition: string): condition is StandardAmqpCondition {
  return STANDARD.has(condition);
}

/**
 * An AMQP error condition: raised when a peer closes a connection, ends a session or detaches a link with an
 * error, rejects a delivery with one, or fails SASL. `condition` is the AMQP symbol, `description` the
 * peer's text, `info` its info map.
 */
export class AmqpError extends Error {
  override name = 'AmqpError';
  readonly condition: AmqpErrorCondition;
  readonly description: string | undefined;
  readonly info: Readonly<Record<string, unknown>> | undefined;
  /** Where the error was raised. */
  readonly scope: AmqpErrorScope | undefined;

  constructor(
    condition: AmqpErrorCondition,
    description?: string,
    options: { info?: Readonly<Record<string, unknown>>; scope?: AmqpErrorScope; cause?: unknown } = {},
  ) {
    super(description ? `${condition}: ${description}` : condition, { cause: options.cause });
    this.condition = condition;
    this.description = description;
    this.info = options.info;
    this.scope = options.scope;
  }

  /** Wire form, for `close(error)` / `reject(error)`. */
  toJSON(): { condition: string; description?: string; info?: Readonly<Record<string, unknown>> } {
    return {
      condition: this.condition,
      ...(this.description !== undefined ? { description: this.description } : {}),
      ...(this.info !== undefined ? { info: this.info } : {}),
    };
  }
}

/** The peer closed the connection with an error, or the connection could not be established. */
export class ConnectionError extends AmqpError {
  override name = 'ConnectionError';
  constructor(
    condition: AmqpErrorCondition,
    description?: string,
    options: { info?: Readonly<Record<string, unknown>>; cause?: unknown } = {},
  ) {
    super(condition, description, { ...options, scope: 'connection' });
  }
}

/** The peer ended the session with an error. */
export class SessionError extends AmqpError {
  override name = 'SessionError';
  constructor(
    condition: AmqpErrorCondition,
    description?: string,
    options: { info?: Readonly<Record<string, unknown>>; cause?: unknown } = {},
  ) {
    super(condition, description, { ...options, scope: 'session' });
  }
}

/** The peer detached (or refused) a link with an error. `linkName` says which. */
export class LinkError extends AmqpError {
  override name = 'LinkError';
  readonly linkName: string;
  constructor(
    linkName: string,
    condition: AmqpErrorCondition,
    description?: string,
    options: { info?: Readonly<Record<string, unknown>>; cause?: unknown } = {},
  ) {
    super(condition, description, { ...options, scope: 'link' });
    this.linkName = linkName;
  }
}

/** SASL authentication failed (condition `amqp:unauthorized-access`). */
export class SaslError extends AmqpError {
  override name = 'SaslError';
  constructor(description?: string, options: { cause?: unknown } = {}) {
    super(AmqpConditions.unauthorizedAccess, description, { ...options, scope: 'sasl' });
  }
}

// ---------------------------------------------------------------------------
// Local errors: raised by this package, not carried by the protocol.
// ---------------------------------------------------------------------------

/** `send` found the sender's bounded queue (`maxQueued`) full: no credit, and too many sends already waiting. */
export class SendQueueFullError extends Error {
  override name = 'SendQueueFullError';
  readonly maxQueued: number;
  readonly linkName: string;
  constructor(linkName: string, maxQueued: number) {
    super(`send queue of link '${linkName}' is full (${maxQueued} sends waiting for credit)`);
    this.maxQueued = maxQueued;
    this.linkName = linkName;
  }
}

/** The connection is closed (or closed while the operation was pending). `cause` holds the reason, if any. */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
  constructor(message = 'connection closed', options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
  }
}

/** The link is closed (or closed while the operation was pending). `cause` holds the peer's `LinkError`, if any. */
export class LinkClosedError extends Error {
  override name = 'LinkClosedError';
  readonly linkName: string;
  constructor(linkName: string, message?: string, options: { cause?: unknown } = {}) {
    super(message ?? `link '${linkName}' is closed`, { cause: options.cause });
    this.linkName = linkName;
  }
}

/**
 * A received delivery can no longer be settled: it was already settled, or it arrived before a reconnect
 * (its link instance is gone, so the peer will redeliver it).
 */
export class DeliveryStateError extends Error {
  override name = 'DeliveryStateError';
}

/** An operation did not complete in time (connect, attach). */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** The message could not be encoded, or an option value is out of range. */
export class InvalidArgumentError extends TypeError {
  override name = 'InvalidArgumentError';
}

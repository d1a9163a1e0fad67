/**
 * Errors of the adapter contract. AMQP errors (`LinkClosedError`, `ConnectionClosedError`, `AmqpError`, …) come
 * through unchanged from `@dragoman/amqp`.
 */

/** Why a publish found no credit. */
export type NoCreditReason = 'timeout' | 'queue-full';

/**
 * The message was NOT sent: the peer granted no credit within the wait (`timeout`), or too many publishes
 * were already waiting for credit on that link (`queue-full`). Safe to retry later (HTTP: 503).
 */
export class NoCreditError extends Error {
  override name = 'NoCreditError';
  readonly address: string;
  readonly reason: NoCreditReason;
  constructor(address: string, reason: NoCreditReason, detail: string) {
    super(`no credit to send to '${address}': ${detail}`);
    this.address = address;
    this.reason = reason;
  }
}

/**
 * A QoS 1 message was written but its outcome did not come back in time. Whether the peer took it is
 * unknown: a retry may deliver it twice (at-least-once).
 */
export class PublishTimeoutError extends Error {
  override name = 'PublishTimeoutError';
  readonly address: string;
  readonly timeoutMs: number;
  constructor(address: string, timeoutMs: number) {
    super(`no outcome for the message sent to '${address}' within ${timeoutMs} ms`);
    this.address = address;
    this.timeoutMs = timeoutMs;
  }
}

/** A device id the session rules refuse (empty, too long, or a character outside `[A-Za-z0-9._:-]`). */
export class InvalidDeviceIdError extends TypeError {
  override name = 'InvalidDeviceIdError';
  readonly deviceId: string;
  constructor(deviceId: string, detail: string) {
    super(`invalid device id: ${detail}`);
    this.deviceId = deviceId;
  }
}

/** The device session (or the context that opened it) is closed. */
export class SessionClosedError extends Error {
  override name = 'SessionClosedError';
  readonly deviceId: string;
  constructor(deviceId: string) {
    super(`device session '${deviceId}' is closed`);
    this.deviceId = deviceId;
  }
}

/** The session already has `maxCommandReceivers` command receivers open. */
export class CommandLimitError extends Error {
  override name = 'CommandLimitError';
  readonly deviceId: string;
  readonly limit: number;
  constructor(deviceId: string, limit: number) {
    super(`device '${deviceId}' already has ${limit} command receivers open`);
    this.deviceId = deviceId;
    this.limit = limit;
  }
}

/** An adapter could not start: `cause` holds its error (or the time-out). Adapters started before it were stopped. */
export class AdapterStartError extends Error {
  override name = 'AdapterStartError';
  readonly adapter: string;
  constructor(adapter: string, cause: unknown) {
    super(`adapter '${adapter}' failed to start: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.adapter = adapter;
  }
}

/** A lifecycle call in the wrong state (two adapters with one name, a device session opened after the adapter stopped), or a bad host option. */
export class AdapterStateError extends Error {
  override name = 'AdapterStateError';
}

/** An operation did not finish within its time-out (an adapter's start). */
export class AdapterTimeoutError extends Error {
  override name = 'AdapterTimeoutError';
}

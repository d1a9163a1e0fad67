import type { AmqpMessage } from '@dragoman/amqp';
import { MappingError } from '../errors';
import type { Addresses, DecodedClose, DecodedList, DecodedSessionExpiry } from '../types';
import { amqpUint, integerOf } from './amqp-values';
import { clientIdFromCorrelation, expectSubject } from './fields';
import { ANNOTATIONS, SUBJECTS } from './subjects';

/** MQTT 5 session expiry interval meaning "never" (0xFFFFFFFF), also the meaning of AMQP_LIST without one. */
const SESSION_EXPIRY_NEVER = 0xffff_ffff;

/**
 * AMQP_LIST (FE → SS, clean session false / clean start false): subject `list`, `correlation-id` =
 * `$mqtt.to.<id>.publish`, `reply-to` = `$mqtt.to.<id>.control`. `expiryInterval` (MQTT 5 session expiry,
 * seconds) goes in the annotation `x-opt-mqtt-session-expiry`; without it the session never expires.
 */
export function encodeList(clientId: string, addresses: Addresses, expiryInterval?: number): AmqpMessage {
  return withSessionExpiry(
    {
      properties: {
        subject: SUBJECTS.list,
        correlationId: addresses.publish(clientId),
        replyTo: addresses.control(clientId),
      },
    },
    expiryInterval,
  );
}

/** AMQP_LIST → the client, where to reply (its control address when `reply-to` is absent) and its expiry. */
export function decodeList(message: AmqpMessage, addresses: Addresses): DecodedList {
  expectSubject(message, SUBJECTS.list);
  const clientId = clientIdFromCorrelation(message, addresses);
  return {
    clientId,
    replyTo: message.properties?.replyTo ?? addresses.control(clientId),
    expiryInterval: sessionExpiryOf(message),
  };
}

/**
 * AMQP_CLOSE (FE → SS, clean session / clean start): subject `close`, `correlation-id` = `$mqtt.to.<id>.publish`.
 * `expiryInterval` (MQTT 5) is how long the new session outlives the connection; without it, it ends with it.
 */
export function encodeClose(clientId: string, addresses: Addresses, expiryInterval?: number): AmqpMessage {
  return withSessionExpiry(
    { properties: { subject: SUBJECTS.close, correlationId: addresses.publish(clientId) } },
    expiryInterval,
  );
}

export function decodeClose(message: AmqpMessage, addresses: Addresses): DecodedClose {
  expectSubject(message, SUBJECTS.close);
  return { clientId: clientIdFromCorrelation(message, addresses), expiryInterval: sessionExpiryOf(message) };
}

/**
 * AMQP_SESSION_EXPIRY (FE → SS, this mapping's extension): subject `session-expiry`, `correlation-id` =
 * `$mqtt.to.<id>.publish`, annotation `x-opt-mqtt-session-expiry` = the interval in force from now on (an
 * MQTT 5 DISCONNECT that changes it). Sent before the FE detaches its publish link.
 */
export function encodeSessionExpiry(
  clientId: string,
  addresses: Addresses,
  expiryInterval: number,
): AmqpMessage {
  return withSessionExpiry(
    { properties: { subject: SUBJECTS.sessionExpiry, correlationId: addresses.publish(clientId) } },
    expiryInterval,
  );
}

/** Throws `MappingError` unless the message is an AMQP_SESSION_EXPIRY with a valid interval. */
export function decodeSessionExpiry(message: AmqpMessage, addresses: Addresses): DecodedSessionExpiry {
  expectSubject(message, SUBJECTS.sessionExpiry);
  const clientId = clientIdFromCorrelation(message, addresses);
  const expiryInterval = sessionExpiryOf(message);
  if (expiryInterval === undefined) {
    throw new MappingError('missing-field', `'session-expiry' needs ${ANNOTATIONS.sessionExpiryInterval}`, {
      field: `message-annotations.${ANNOTATIONS.sessionExpiryInterval}`,
    });
  }
  return { clientId, expiryInterval };
}

/** The message with `x-opt-mqtt-session-expiry` = `expiryInterval` (a uint); unchanged when undefined. */
export function withSessionExpiry(message: AmqpMessage, expiryInterval: number | undefined): AmqpMessage {
  if (expiryInterval === undefined) return message;
  if (!isSessionExpiry(expiryInterval)) {
    throw new MappingError('invalid-field', `session expiry interval ${expiryInterval} is not a uint`, {
      field: `message-annotations.${ANNOTATIONS.sessionExpiryInterval}`,
    });
  }
  return {
    ...message,
    messageAnnotations: {
      ...message.messageAnnotations,
      [ANNOTATIONS.sessionExpiryInterval]: amqpUint(expiryInterval),
    },
  };
}

/** The annotation's value; undefined when absent; `MappingError` when it is not a uint. */
function sessionExpiryOf(message: AmqpMessage): number | undefined {
  const value = message.messageAnnotations?.[ANNOTATIONS.sessionExpiryInterval];
  if (value === undefined || value === null) return undefined;
  const number = integerOf(value);
  if (number === undefined || !isSessionExpiry(number)) {
    throw new MappingError('invalid-field', `${ANNOTATIONS.sessionExpiryInterval} must be a uint`, {
      field: `message-annotations.${ANNOTATIONS.sessionExpiryInterval}`,
    });
  }
  return number;
}

function isSessionExpiry(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= SESSION_EXPIRY_NEVER;
}

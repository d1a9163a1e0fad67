import type { ControlSubject } from '../types';

/** The subjects of the spec's control messages ("Messages" table). AMQP_PUBLISH has no subject. */
export const SUBJECTS = Object.freeze({
  will: 'will',
  willClear: 'will-clear',
  list: 'list',
  subscriptions: 'subscriptions',
  close: 'close',
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
  pubrel: 'pubrel',
  /** This mapping's extension (MQTT 5): the session expiry interval changed (DISCONNECT). */
  sessionExpiry: 'session-expiry',
} as const satisfies Record<string, ControlSubject>);

const ALL: ReadonlySet<string> = new Set(Object.values(SUBJECTS));

export function isControlSubject(subject: unknown): subject is ControlSubject {
  return typeof subject === 'string' && ALL.has(subject);
}

/**
 * Message annotations this mapping adds beyond the original design, for what AMQP has no field of its own.
 * All are optional and ignored by readers that do not know them.
 */
export const ANNOTATIONS = Object.freeze({
  /** boolean true: the payload is UTF-8 (MQTT 5 payload format indicator 1). */
  payloadFormatIndicator: 'x-opt-mqtt-payload-format-indicator',
  /** string: a content type that is not printable ASCII (an AMQP `content-type` is a symbol). */
  contentType: 'x-opt-mqtt-content-type',
  /** binary: correlation data that is not UTF-8 (a string goes to `correlation-id`). */
  correlationData: 'x-opt-mqtt-correlation-data',
  /** list of [name, value] lists: every user property in order, when names repeat or clash with the dialect. */
  userProperties: 'x-opt-mqtt-user-properties',
  /** list of uint: the subscription identifiers a delivered message matched. */
  subscriptionIdentifiers: 'x-opt-mqtt-subscription-identifiers',
  /** uint seconds: the message expiry interval of a will (it counts from publication, so not `ttl`). */
  messageExpiryInterval: 'x-opt-mqtt-message-expiry-interval',
  /**
   * uint seconds: MQTT 5 session expiry interval (AMQP_LIST, AMQP_CLOSE, AMQP_SESSION_EXPIRY); 0xFFFFFFFF never.
   * Absent: AMQP_LIST's session never expires, AMQP_CLOSE's ends with the connection (the 3.1.1 meanings).
   */
  sessionExpiryInterval: 'x-opt-mqtt-session-expiry',
  /** uint seconds: MQTT 5 will delay interval (AMQP_WILL). */
  willDelayInterval: 'x-opt-mqtt-will-delay-interval',
  /** map filter → map of no-local / retain-as-published / retain-handling (AMQP_SUBSCRIBE, AMQP_SUBSCRIPTIONS). */
  subscriptionOptions: 'x-opt-mqtt-subscription-options',
  /** uint: the MQTT 5 subscription identifier of a SUBSCRIBE (AMQP_SUBSCRIBE). */
  subscriptionIdentifier: 'x-opt-mqtt-subscription-identifier',
});

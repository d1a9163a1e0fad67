// @dragoman/amqp — AMQP 1.0 connections, senders and receivers on rhea: typed, promise-based, back-pressure-aware.

export { AmqpConnection, connect, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from './connection';
export { CreditWindow } from './credit-window';
export { Delivery } from './delivery';
export {
  AmqpConditions,
  AmqpError,
  type AmqpErrorCondition,
  type AmqpErrorScope,
  ConnectionClosedError,
  ConnectionError,
  DeliveryStateError,
  InvalidArgumentError,
  isStandardCondition,
  LinkClosedError,
  LinkError,
  SaslError,
  SendQueueFullError,
  SessionError,
  type StandardAmqpCondition,
  TimeoutError,
} from './errors';
export { createInProcessTransport, InProcessTransport } from './in-process';
export { IncomingLink, type IncomingLinkState } from './incoming-link';
export { DEFAULT_MAX_FRAME_SIZE } from './internal/frame-size-limit';
export { AmqpListener, DEFAULT_MAX_CONNECTIONS, listen } from './listener';
export {
  type AmqpBody,
  type AmqpHeader,
  type AmqpMessage,
  type AmqpMessageFields,
  type AmqpProperties,
  type ApplicationPropertyValue,
  binaryMessage,
  fromRhea,
  type MessageId,
  payloadOf,
  type RheaMessage,
  toRhea,
  valueMessage,
} from './message';
export { DEFAULT_CREDIT_WINDOW, DEFAULT_MAX_MESSAGE_SIZE, Receiver } from './receiver';
export { Backoff, systemClock } from './reconnect';
export { DEFAULT_MAX_QUEUED, Sender } from './sender';
export * from './types';

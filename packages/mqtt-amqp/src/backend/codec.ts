/**
 * The back end's view of the message mapping (src/mapping): the few encode/decode steps it needs, with the
 * backend's dialect and clock applied, in one place.
 */
import type { AmqpMessage } from '@dragoman/amqp';
import { resolveDialect } from '../dialects/index';
import { decodeControl } from '../mapping/control';
import { decodePublishWith, encodePublishMessage } from '../mapping/publish';
import { encodeSubscriptions } from '../mapping/subscriptions';
import type {
  Addresses,
  DecodedControl,
  DecodedPublish,
  Dialect,
  DialectName,
  MqttMessage,
  SessionSubscription,
} from '../types';

export interface BackendCodec {
  /** Any of the spec's control messages. Throws `MappingError`. */
  decodeControl(message: AmqpMessage): DecodedControl;
  /** AMQP_SUBSCRIPTIONS for a recovered session. */
  encodeSubscriptions(subscriptions: ReadonlyMap<string, SessionSubscription>): AmqpMessage;
  /** A message published on a topic address (by an FE or any AMQP sender). Throws `MappingError`. */
  decodeTopicMessage(message: AmqpMessage, linkAddress: string | undefined, settled: boolean): DecodedPublish;
  /** The AMQP_PUBLISH of one delivery (`messageId` for the FE's AMQP_PUBREL; `dup` for a redelivery). */
  encodeDelivery(message: MqttMessage, messageId: number | undefined, dup: boolean): AmqpMessage;
}

export function createCodec(
  addresses: Addresses,
  dialect: DialectName | Dialect,
  now: () => number,
): BackendCodec {
  // Built once: these run for every message.
  const mapping = { dialect, now };
  let dialectResolved: Dialect | undefined;
  // At the first message, as `decodePublish` would (an unknown name throws there).
  const resolved = (): Dialect => {
    dialectResolved ??= resolveDialect(dialect);
    return dialectResolved;
  };
  return {
    decodeControl: (message) => decodeControl(message, addresses),
    encodeSubscriptions: (subscriptions) => encodeSubscriptions(subscriptions),
    // No options object: this runs for every message.
    decodeTopicMessage: (message, linkAddress, settled) =>
      decodePublishWith(message, resolved(), now(), settled, linkAddress),
    encodeDelivery: (message, messageId, dup) => encodePublishMessage(message, dup, messageId, mapping),
  };
}

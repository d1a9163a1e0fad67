import type { AmqpMessage, MessageId } from '@dragoman/amqp';
import type { InboundPublish, SubscribeProperties, Subscription, Will } from '@dragoman/mqtt';
import { resolveDialect } from '../dialects/index';
import { decodePublishWith, encodePublishTo } from '../mapping/publish';
import { encodePublishReleased } from '../mapping/publish-released';
import { encodePubrel } from '../mapping/pubrel';
import { encodeClose, encodeList } from '../mapping/session';
import { decodeSubscriptions, encodeSubscribe, encodeUnsubscribe } from '../mapping/subscriptions';
import { encodeWill, encodeWillClear } from '../mapping/will';
import type {
  Addresses,
  DecodedPublish,
  Dialect,
  DialectName,
  EncodedPublish,
  SessionSubscription,
} from '../types';

/**
 * The spec's messages as the bridge builds and reads them, bound to one gateway's addresses and dialect.
 * It only binds the package's mapping functions (src/mapping); the bridge never spells a subject or an
 * annotation itself.
 */
export interface BridgeCodec {
  /** AMQP_WILL for the client's will (MQTT 5 will properties included). */
  will(will: Will): AmqpMessage;
  /** AMQP_WILL_CLEAR. */
  willClear(): AmqpMessage;
  /** AMQP_LIST: `reply-to` the client's control address. */
  list(clientId: string): AmqpMessage;
  /** AMQP_CLOSE. */
  close(clientId: string): AmqpMessage;
  /** Reads AMQP_SUBSCRIPTIONS. Throws `MappingError` for anything else. */
  subscriptions(message: AmqpMessage): Map<string, SessionSubscription>;
  /** AMQP_SUBSCRIBE for one SUBSCRIBE packet. */
  subscribe(
    clientId: string,
    messageId: number,
    subscriptions: readonly Subscription[],
    properties: SubscribeProperties | undefined,
  ): AmqpMessage;
  /** AMQP_UNSUBSCRIBE. */
  unsubscribe(clientId: string, messageId: number, filters: readonly string[]): AmqpMessage;
  /**
   * AMQP_PUBLISH for a client's PUBLISH, on `topic` (default the PUBLISH's; the tenant-scoped one with
   * tenants). Throws `MappingError` for a topic the dialect cannot carry.
   */
  publish(publish: InboundPublish, topic?: string): EncodedPublish;
  /** Reads a message that arrived on the client's publish address. Throws `MappingError`. */
  decodePublish(message: AmqpMessage, presettled: boolean, linkAddress: string): DecodedPublish;
  /** AMQP_PUBREL for the AMQP_PUBLISH `messageId`. */
  pubrel(messageId: MessageId): AmqpMessage;
  /** AMQP_PUBLISH_RELEASED: the client released QoS 2 `packetId` (its delivery can no longer be settled). */
  publishReleased(packetId: number): AmqpMessage;
}

export function createBridgeCodec(options: {
  addresses: Addresses;
  dialect?: DialectName | Dialect;
}): BridgeCodec {
  const { addresses } = options;
  const mapping = options.dialect !== undefined ? { dialect: options.dialect } : {};
  let dialectResolved: Dialect | undefined;
  // At the first message, as `decodePublish` would (an unknown name throws there).
  const resolved = (): Dialect => {
    dialectResolved ??= resolveDialect(options.dialect);
    return dialectResolved;
  };
  return {
    will: (will) => encodeWill(will),
    willClear: () => encodeWillClear(),
    list: (clientId) => encodeList(clientId, addresses),
    close: (clientId) => encodeClose(clientId, addresses),
    subscriptions: (message) => decodeSubscriptions(message).subscriptions,
    subscribe: (clientId, messageId, subscriptions, properties) =>
      encodeSubscribe(
        { messageId, subscriptions, ...(properties !== undefined ? { properties } : {}) },
        clientId,
        addresses,
      ),
    unsubscribe: (clientId, messageId, filters) =>
      encodeUnsubscribe({ messageId, unsubscriptions: [...filters] }, clientId, addresses),
    // Runs for every PUBLISH: no input object, no options object.
    publish: (publish, topic) =>
      encodePublishTo(topic ?? publish.topic, publish, publish.dup, publish.messageId, mapping),
    decodePublish: (message, presettled, linkAddress) =>
      decodePublishWith(message, resolved(), Date.now(), presettled, linkAddress),
    pubrel: (messageId) => encodePubrel(messageId),
    publishReleased: (packetId) => encodePublishReleased(packetId),
  };
}

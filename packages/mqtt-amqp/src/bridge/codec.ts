import type { AmqpMessage, MessageId } from '@dragoman/amqp';
import type { InboundPublish, SubscribeProperties, Subscription, Will } from '@dragoman/mqtt';
import { decodePublish, encodePublish } from '../mapping/publish';
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
  PublishInput,
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
    publish: (publish, topic) => {
      // Runs for every PUBLISH: fields assigned one by one rather than spread.
      const input: PublishInput = {
        topic: topic ?? publish.topic,
        payload: publish.payload,
        qos: publish.qos,
        retain: publish.retain,
        dup: publish.dup,
      };
      if (publish.messageId !== undefined) input.messageId = publish.messageId;
      if (publish.properties !== undefined) input.properties = publish.properties;
      return encodePublish(input, mapping);
    },
    decodePublish: (message, presettled, linkAddress) =>
      decodePublish(message, { dialect: options.dialect, settled: presettled, linkAddress }),
    pubrel: (messageId) => encodePubrel(messageId),
    publishReleased: (packetId) => encodePublishReleased(packetId),
  };
}

import { MappingError } from '../errors';
import type { Dialect } from '../types';
import { qosFromDurable } from './fields';
import { checkTopicName, dottedTopics } from './topics';

export interface RabbitmqDialectOptions {
  /** The topic exchange. Default `amq.topic`. */
  exchange?: string;
  /**
   * RabbitMQ's AMQP 1.0 address format: `v2` (4.x: `/exchanges/<exchange>/<routing key>`, percent-encoded) or
   * `v1` (3.x: `/topic/<routing key>` for amq.topic, `/exchange/<exchange>/<routing key>` otherwise).
   * Default `v2`.
   */
  addressFormat?: 'v1' | 'v2';
}

/** The message annotation in which RabbitMQ 4.x gives a message's routing key. */
export const RABBITMQ_ROUTING_KEY_ANNOTATION = 'x-routing-key';
const ROUTING_KEY_ANNOTATION = RABBITMQ_ROUTING_KEY_ANNOTATION;

// RFC 3986 path segment: everything but the unreserved characters is percent-encoded, as RabbitMQ expects.
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function decodeSegment(segment: string, address: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (cause) {
    throw new MappingError('unmappable-topic', `address '${address}' is not percent-encoded correctly`, {
      field: 'properties.to',
      cause,
    });
  }
}

/**
 * RabbitMQ 3.13+/4.x: QoS is header `durable` (durable → QoS 1; QoS 2 is carried as 1), retain and DUP are not
 * carried. The topic becomes a routing key on the topic exchange (`/` → `.`, filters `+` → `*`), addressed in
 * RabbitMQ's AMQP 1.0 address format. A message without `to` (one RabbitMQ routed from MQTT or AMQP 0-9-1)
 * gives its topic through its routing key.
 */
export function rabbitmqDialect(options: RabbitmqDialectOptions = {}): Dialect {
  const exchange = options.exchange ?? 'amq.topic';
  const format = options.addressFormat ?? 'v2';
  const prefix =
    format === 'v2'
      ? `/exchanges/${encodeSegment(exchange)}/`
      : exchange === 'amq.topic'
        ? '/topic/'
        : `/exchange/${exchange}/`;
  const toAddress = (key: string) => prefix + (format === 'v2' ? encodeSegment(key) : key);
  const fromAddress = (address: string): string => {
    if (!address.startsWith(prefix)) {
      throw new MappingError('unmappable-topic', `address '${address}' is not on exchange '${exchange}'`, {
        field: 'properties.to',
      });
    }
    const key = address.slice(prefix.length);
    return format === 'v2' ? decodeSegment(key, address) : key;
  };
  return {
    name: 'rabbitmq',
    carries: { qos: 'at-most-1', retain: false, dup: false },
    reservedApplicationProperties: [],
    topicLinkSenderSettleMode: 'unsettled',
    writeFlags() {
      // QoS travels as `durable`, which the mapping sets for every dialect; nothing else is carried.
    },
    readFlags(message) {
      return { qos: qosFromDurable(message), retain: false, dup: false };
    },
    presettled: () => false,
    topicOf(message) {
      // RabbitMQ 4.x annotates the routing key; the 3.x AMQP 1.0 plugin puts it in `subject`. AMQP_PUBLISH
      // itself never has a subject, so the two cannot be confused.
      const key = message.messageAnnotations?.[ROUTING_KEY_ANNOTATION] ?? message.properties?.subject;
      return typeof key === 'string' ? checkTopicName(dottedTopics.fromKey(key), key) : undefined;
    },
    topicToAddress: (topic) => toAddress(dottedTopics.toKey(topic)),
    addressToTopic: (address) => checkTopicName(dottedTopics.fromKey(fromAddress(address)), address),
    filterToAddress: (filter) => toAddress(dottedTopics.filterToKey(filter)),
  };
}

/**
 * The back end's view of the message mapping: the few encode/decode steps it needs, in one place.
 *
 * STOPGAP until the package's mapping (src/mapping) is committed: then every function here becomes a call to it.
 */
import type { AmqpMessage, MessageId } from '@dragoman/amqp';
import type { QoS } from '@dragoman/mqtt';
import { MappingError } from '../errors';
import type { Addresses, DecodedControl, DecodedPublish, MqttMessage, SessionSubscription } from '../types';

const QOS = 'x-opt-mqtt-qos';
const RETAIN = 'x-opt-retain-message';
const WILL_DELAY = 'x-opt-mqtt-will-delay-interval';
const SUBSCRIPTION_IDS = 'x-opt-mqtt-subscription-identifiers';
const SUBSCRIPTION_OPTIONS = 'x-opt-mqtt-subscription-options';
const SUBSCRIPTION_ID = 'x-opt-mqtt-subscription-identifier';

function payload(message: AmqpMessage): Buffer {
  const body = message.body;
  if (body === undefined) return Buffer.alloc(0);
  if (body.type === 'data') return body.data;
  if (body.type === 'value') {
    if (body.value === null || body.value === undefined) return Buffer.alloc(0);
    if (typeof body.value === 'string') return Buffer.from(body.value, 'utf8');
    if (Buffer.isBuffer(body.value)) return body.value;
  }
  throw new MappingError('unsupported-body', 'the body is not binary', { field: 'body' });
}

function qosOf(message: AmqpMessage): QoS {
  const raw = message.messageAnnotations?.[QOS];
  if (raw === undefined) return message.header?.durable === true ? 1 : 0;
  const n = Number(raw);
  if (n !== 0 && n !== 1 && n !== 2) {
    throw new MappingError('invalid-field', `QoS ${String(raw)}`, { field: `message-annotations.${QOS}` });
  }
  return n;
}

function mqttMessage(
  message: AmqpMessage,
  topic: string | undefined,
  now: number,
): MqttMessage & { expired: boolean } {
  if (topic === undefined || topic.length === 0) {
    throw new MappingError('missing-field', 'no topic (`to`)', { field: 'properties.to' });
  }
  const properties: NonNullable<MqttMessage['properties']> = {};
  let expired = false;
  const ttl = message.header?.ttl;
  const absolute = message.properties?.absoluteExpiryTime?.getTime();
  const expiresAt = absolute ?? (ttl === undefined ? undefined : now + ttl);
  if (expiresAt !== undefined) {
    const left = expiresAt - now;
    if (left <= 0) expired = true;
    properties.messageExpiryInterval = Math.max(0, Math.ceil(left / 1000));
  }
  return {
    topic,
    payload: payload(message),
    qos: qosOf(message),
    retain: message.messageAnnotations?.[RETAIN] === true,
    properties,
    expired,
  };
}

function clientIdOf(addresses: Addresses, correlationId: MessageId | undefined): string {
  const id = typeof correlationId === 'string' ? addresses.clientIdFrom('publish', correlationId) : undefined;
  if (id === undefined) {
    throw new MappingError('missing-field', 'correlation-id is not a client publish address', {
      field: 'properties.correlation-id',
    });
  }
  return id;
}

/** Any of the spec's control messages. Throws `MappingError`. */
export function decodeControlMessage(message: AmqpMessage, addresses: Addresses): DecodedControl {
  const p = message.properties ?? {};
  switch (p.subject) {
    case 'will': {
      const m = mqttMessage(message, p.to, Date.now());
      const delay = Number(message.messageAnnotations?.[WILL_DELAY] ?? 0);
      return { subject: 'will', will: { message: m, delayInterval: delay } };
    }
    case 'will-clear':
      return { subject: 'will-clear' };
    case 'list':
      return {
        subject: 'list',
        list: { clientId: clientIdOf(addresses, p.correlationId), replyTo: p.replyTo ?? '' },
      };
    case 'close':
      return { subject: 'close', close: { clientId: clientIdOf(addresses, p.correlationId) } };
    case 'subscribe': {
      const body = message.body;
      if (body?.type !== 'value' || typeof body.value !== 'object' || body.value === null) {
        throw new MappingError('invalid-field', 'subscribe body must be a map', { field: 'body' });
      }
      const annotations = message.messageAnnotations ?? {};
      const options = (annotations[SUBSCRIPTION_OPTIONS] ?? {}) as Record<string, Record<string, unknown>>;
      const identifier = annotations[SUBSCRIPTION_ID];
      const subscriptions = Object.entries(body.value as Record<string, unknown>).map(([filter, qos]) => {
        const n = Number(qos);
        if (n !== 0 && n !== 1 && n !== 2)
          throw new MappingError('invalid-field', `QoS ${String(qos)}`, { field: 'body' });
        const o = options[filter] ?? {};
        const subscription: { filter: string } & SessionSubscription = { filter, qos: n };
        if (o['no-local'] === true) subscription.noLocal = true;
        if (o['retain-as-published'] === true) subscription.retainAsPublished = true;
        const rh = Number(o['retain-handling'] ?? 0);
        if (rh === 1 || rh === 2) subscription.retainHandling = rh;
        if (identifier !== undefined) subscription.subscriptionIdentifier = Number(identifier);
        return subscription;
      });
      return {
        subject: 'subscribe',
        subscribe: {
          clientId: clientIdOf(addresses, p.correlationId),
          messageId: p.messageId,
          subscriptions,
        },
      };
    }
    case 'unsubscribe': {
      const body = message.body;
      const list =
        body?.type === 'value' ? body.value : body?.type === 'sequence' ? body.sequence : undefined;
      if (!Array.isArray(list))
        throw new MappingError('invalid-field', 'unsubscribe body must be a list', { field: 'body' });
      return {
        subject: 'unsubscribe',
        unsubscribe: {
          clientId: clientIdOf(addresses, p.correlationId),
          messageId: p.messageId,
          filters: list.map(String),
        },
      };
    }
    case 'pubrel':
      if (p.messageId === undefined)
        throw new MappingError('missing-field', 'pubrel needs message-id', {
          field: 'properties.message-id',
        });
      return { subject: 'pubrel', pubrel: { messageId: p.messageId } };
    default:
      throw new MappingError('unexpected-subject', `unexpected subject '${String(p.subject)}'`, {
        field: 'properties.subject',
      });
  }
}

/** AMQP_SUBSCRIPTIONS: filter → QoS. */
export function encodeSubscriptionsReply(
  subscriptions: ReadonlyMap<string, SessionSubscription>,
): AmqpMessage {
  const map: Record<string, number> = {};
  for (const [filter, s] of subscriptions) map[filter] = s.qos;
  return { properties: { subject: 'subscriptions' }, body: { type: 'value', value: map } };
}

/** A message published to a topic address (by the FE or a native AMQP sender). Throws `MappingError`. */
export function decodeTopicMessage(
  message: AmqpMessage,
  linkAddress: string | undefined,
  settled: boolean,
  now: number,
): DecodedPublish {
  void settled;
  const m = mqttMessage(message, message.properties?.to ?? linkAddress, now);
  return { ...m, dup: (message.header?.deliveryCount ?? 0) > 0, messageId: message.properties?.messageId };
}

/** The AMQP_PUBLISH of one delivery to a client (or native receiver). */
export function encodeDelivery(
  message: MqttMessage,
  messageId: number | undefined,
  dup: boolean,
): AmqpMessage {
  const annotations: Record<string, unknown> = { [QOS]: message.qos, [RETAIN]: message.retain };
  const ids = message.properties?.subscriptionIdentifier;
  if (ids !== undefined) annotations[SUBSCRIPTION_IDS] = Array.isArray(ids) ? ids : [ids];
  const interval = message.properties?.messageExpiryInterval;
  return {
    header: {
      durable: message.qos > 0,
      ...(dup ? { deliveryCount: 1 } : {}),
      ...(interval !== undefined ? { ttl: interval * 1000 } : {}),
    },
    messageAnnotations: annotations,
    properties: { to: message.topic, ...(messageId !== undefined ? { messageId: String(messageId) } : {}) },
    body: { type: 'data', data: message.payload },
  };
}

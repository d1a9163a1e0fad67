import type { AmqpMessage } from '@dragoman/amqp';
import type { SubscribeProperties, Subscription, UnsubscribePacket } from '@dragoman/mqtt';
import { readQos } from '../dialects/fields';
import { MappingError } from '../errors';
import type {
  Addresses,
  DecodedSubscribe,
  DecodedSubscriptions,
  DecodedUnsubscribe,
  SessionSubscription,
} from '../types';
import { amqpInt, amqpUbyte, amqpUint, booleanOf, integerOf } from './amqp-values';
import { bodyValue, clientIdFromCorrelation, expectSubject, mapEntries } from './fields';
import { ANNOTATIONS, SUBJECTS } from './subjects';

/** What `encodeSubscribe` needs of a SUBSCRIBE packet. */
export interface SubscribeInput {
  messageId: number;
  subscriptions: readonly Subscription[];
  properties?: SubscribeProperties;
}

/** What `encodeUnsubscribe` needs of an UNSUBSCRIBE packet. */
export type UnsubscribeInput = Pick<UnsubscribePacket, 'messageId' | 'unsubscriptions'>;

// The MQTT 5 options of one subscription, as a map with these keys; only options set to a non-default value
// are written, and only filters with such options appear in the annotation.
const NO_LOCAL = 'no-local';
const RETAIN_AS_PUBLISHED = 'retain-as-published';
const RETAIN_HANDLING = 'retain-handling';
const SUBSCRIPTION_IDENTIFIER = 'subscription-identifier';

function optionsMap(
  subscription: SessionSubscription,
  withIdentifier: boolean,
): Map<string, unknown> | undefined {
  const map = new Map<string, unknown>();
  if (subscription.noLocal === true) map.set(NO_LOCAL, true);
  if (subscription.retainAsPublished === true) map.set(RETAIN_AS_PUBLISHED, true);
  if (subscription.retainHandling !== undefined && subscription.retainHandling !== 0) {
    map.set(RETAIN_HANDLING, amqpUbyte(subscription.retainHandling));
  }
  if (withIdentifier && subscription.subscriptionIdentifier !== undefined) {
    map.set(SUBSCRIPTION_IDENTIFIER, amqpUint(subscription.subscriptionIdentifier));
  }
  return map.size === 0 ? undefined : map;
}

/** Body map filter → QoS (AMQP int) and the options annotation, for AMQP_SUBSCRIBE and AMQP_SUBSCRIPTIONS. */
function subscriptionSections(
  entries: Iterable<readonly [string, SessionSubscription]>,
  withIdentifier: boolean,
): { body: Map<string, unknown>; options: Map<string, unknown> } {
  const body = new Map<string, unknown>();
  const options = new Map<string, unknown>();
  for (const [filter, subscription] of entries) {
    body.set(filter, amqpInt(subscription.qos));
    const map = optionsMap(subscription, withIdentifier);
    if (map !== undefined) options.set(filter, map);
  }
  return { body, options };
}

/** Reads the body map and the options annotation back into subscriptions. */
function readSubscriptions(message: AmqpMessage): Array<[string, SessionSubscription]> {
  const annotation = message.messageAnnotations?.[ANNOTATIONS.subscriptionOptions];
  const options = new Map(
    annotation === undefined || annotation === null
      ? []
      : mapEntries(annotation, `message-annotations.${ANNOTATIONS.subscriptionOptions}`),
  );
  return mapEntries(bodyValue(message), 'body').map(([filter, value]): [string, SessionSubscription] => {
    const qos = readQos(value, `body[${filter}]`);
    if (qos === undefined) {
      throw new MappingError('invalid-field', `body[${filter}] must be a QoS`, { field: `body[${filter}]` });
    }
    const subscription: SessionSubscription = { qos };
    const extra = options.get(filter);
    if (extra !== undefined && extra !== null) {
      const fields = new Map(mapEntries(extra, `subscription options of '${filter}'`));
      if (booleanOf(fields.get(NO_LOCAL)) === true) subscription.noLocal = true;
      if (booleanOf(fields.get(RETAIN_AS_PUBLISHED)) === true) subscription.retainAsPublished = true;
      const handling = integerOf(fields.get(RETAIN_HANDLING));
      if (handling === 1 || handling === 2) subscription.retainHandling = handling;
      const identifier = integerOf(fields.get(SUBSCRIPTION_IDENTIFIER));
      if (identifier !== undefined && identifier > 0) subscription.subscriptionIdentifier = identifier;
    }
    return [filter, subscription];
  });
}

/**
 * SUBSCRIBE → AMQP_SUBSCRIBE (FE → SS): subject `subscribe`, `message-id` = packet id, `correlation-id` =
 * `$mqtt.to.<id>.publish`, body = AMQP map filter → requested QoS (AMQP int). MQTT 5 options ride
 * `x-opt-mqtt-subscription-options`, the subscription identifier `x-opt-mqtt-subscription-identifier`.
 */
export function encodeSubscribe(packet: SubscribeInput, clientId: string, addresses: Addresses): AmqpMessage {
  const entries = packet.subscriptions.map((s): [string, SessionSubscription] => {
    const subscription: SessionSubscription = { qos: s.qos };
    if (s.nl === true) subscription.noLocal = true;
    if (s.rap === true) subscription.retainAsPublished = true;
    if (s.rh === 1 || s.rh === 2) subscription.retainHandling = s.rh;
    return [s.topic, subscription];
  });
  const { body, options } = subscriptionSections(entries, false);
  const annotations: Record<string, unknown> = {};
  if (options.size > 0) annotations[ANNOTATIONS.subscriptionOptions] = options;
  const identifier = packet.properties?.subscriptionIdentifier;
  if (identifier !== undefined) annotations[ANNOTATIONS.subscriptionIdentifier] = amqpUint(identifier);
  return {
    ...(Object.keys(annotations).length > 0 ? { messageAnnotations: annotations } : {}),
    properties: {
      subject: SUBJECTS.subscribe,
      messageId: packet.messageId,
      correlationId: addresses.publish(clientId),
    },
    body: { type: 'value', value: body },
  };
}

/** AMQP_SUBSCRIBE → the client and its subscriptions (the SUBSCRIBE's identifier applied to each). */
export function decodeSubscribe(message: AmqpMessage, addresses: Addresses): DecodedSubscribe {
  expectSubject(message, SUBJECTS.subscribe);
  const clientId = clientIdFromCorrelation(message, addresses);
  const identifier = integerOf(message.messageAnnotations?.[ANNOTATIONS.subscriptionIdentifier]);
  const subscriptions = readSubscriptions(message).map(([filter, subscription]) => ({
    filter,
    ...subscription,
    ...(identifier !== undefined && identifier > 0 ? { subscriptionIdentifier: identifier } : {}),
  }));
  return { clientId, messageId: message.properties?.messageId, subscriptions };
}

/**
 * UNSUBSCRIBE → AMQP_UNSUBSCRIBE (FE → SS): subject `unsubscribe`, `message-id` = packet id, `correlation-id`
 * = `$mqtt.to.<id>.publish`, body = AMQP list of filters.
 */
export function encodeUnsubscribe(
  packet: UnsubscribeInput,
  clientId: string,
  addresses: Addresses,
): AmqpMessage {
  return {
    properties: {
      subject: SUBJECTS.unsubscribe,
      messageId: packet.messageId,
      correlationId: addresses.publish(clientId),
    },
    body: { type: 'value', value: [...packet.unsubscriptions] },
  };
}

export function decodeUnsubscribe(message: AmqpMessage, addresses: Addresses): DecodedUnsubscribe {
  expectSubject(message, SUBJECTS.unsubscribe);
  const clientId = clientIdFromCorrelation(message, addresses);
  const value = bodyValue(message);
  if (!Array.isArray(value) || !value.every((f): f is string => typeof f === 'string')) {
    throw new MappingError('invalid-field', 'AMQP_UNSUBSCRIBE body must be an AMQP list of strings', {
      field: 'body',
    });
  }
  return { clientId, messageId: message.properties?.messageId, filters: value };
}

/**
 * The recovered session (SS → FE): subject `subscriptions`, body = AMQP map filter → QoS, MQTT 5 options
 * (with subscription identifiers) in `x-opt-mqtt-subscription-options`. Sent unsettled, before any backlog.
 */
export function encodeSubscriptions(
  subscriptions: Iterable<readonly [string, SessionSubscription]> | ReadonlyMap<string, SessionSubscription>,
): AmqpMessage {
  const { body, options } = subscriptionSections(subscriptions, true);
  return {
    ...(options.size > 0 ? { messageAnnotations: { [ANNOTATIONS.subscriptionOptions]: options } } : {}),
    properties: { subject: SUBJECTS.subscriptions },
    body: { type: 'value', value: body },
  };
}

export function decodeSubscriptions(message: AmqpMessage): DecodedSubscriptions {
  expectSubject(message, SUBJECTS.subscriptions);
  return { subscriptions: new Map(readSubscriptions(message)) };
}

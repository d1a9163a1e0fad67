import type { AmqpMessage } from '@dragoman/amqp';
import type { Will } from '@dragoman/mqtt';
import { resolveDialect } from '../dialects/index';
import { MappingError } from '../errors';
import type { DecodedWill } from '../types';
import { amqpUint, integerOf } from './amqp-values';
import { expectSubject } from './fields';
import { encodeProperties } from './properties';
import { decodePublish, encodePublish } from './publish';
import { ANNOTATIONS, SUBJECTS } from './subjects';

/**
 * CONNECT's will → AMQP_WILL (FE → WS): subject `will`, `to` = will topic, `x-opt-retain-message`,
 * `x-opt-mqtt-qos`, `durable` = QoS > 0, body = payload as Data. Control messages always use the spec's own
 * fields (the dialect only shapes published messages). The will's MQTT 5 message expiry travels as an
 * annotation (it counts from publication, and a `ttl` would let a broker expire the control message itself);
 * the will delay interval as `x-opt-mqtt-will-delay-interval`.
 */
export function encodeWill(will: Will): AmqpMessage {
  const { willDelayInterval, messageExpiryInterval, ...rest } = will.properties ?? {};
  const { message } = encodePublish(
    { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, properties: rest },
    { dialect: 'enmasse' },
  );
  const dialect = resolveDialect('enmasse');
  const expiry =
    messageExpiryInterval === undefined
      ? {}
      : encodeProperties({ messageExpiryInterval }, { dialect, now: 0, expiry: 'annotation' })
          .messageAnnotations;
  const messageAnnotations = { ...message.messageAnnotations, ...expiry };
  if (willDelayInterval !== undefined)
    messageAnnotations[ANNOTATIONS.willDelayInterval] = amqpUint(willDelayInterval);
  const { deliveryCount: _dup, ...header } = message.header ?? {};
  return {
    ...message,
    header,
    messageAnnotations,
    properties: { ...message.properties, subject: SUBJECTS.will },
  };
}

/**
 * AMQP_WILL → the will (for the WS). QoS falls back to `durable` as for any message. Throws `MappingError` for
 * a wrong subject, a missing `to`, or a body that is not a payload.
 */
export function decodeWill(message: AmqpMessage): DecodedWill {
  expectSubject(message, SUBJECTS.will);
  if (message.properties?.to === undefined) {
    throw new MappingError('missing-field', 'AMQP_WILL has no `to` (the will topic)', {
      field: 'properties.to',
    });
  }
  // A will does not age before it is published: read it at time 0 (its expiry interval is an annotation).
  const publish = decodePublish(message, { dialect: 'enmasse', now: () => 0 });
  const annotations = message.messageAnnotations ?? {};
  const delay = integerOf(annotations[ANNOTATIONS.willDelayInterval]);
  const result: DecodedWill = {
    message: { topic: publish.topic, payload: publish.payload, qos: publish.qos, retain: publish.retain },
    delayInterval: delay !== undefined && delay > 0 ? delay : 0,
  };
  if (publish.properties !== undefined) result.message.properties = publish.properties;
  return result;
}

/** AMQP_WILL_CLEAR (FE → WS): subject `will-clear`, nothing else; the link name says which client. */
export function encodeWillClear(): AmqpMessage {
  return { properties: { subject: SUBJECTS.willClear } };
}

/** Throws `MappingError` unless the message is an AMQP_WILL_CLEAR. */
export function decodeWillClear(message: AmqpMessage): void {
  expectSubject(message, SUBJECTS.willClear);
}

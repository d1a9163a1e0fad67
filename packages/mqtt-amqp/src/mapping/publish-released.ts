import type { AmqpMessage } from '@dragoman/amqp';
import { MappingError } from '../errors';

/**
 * AMQP_PUBLISH_RELEASED (FE → `$mqtt.<id>.pubrel`, beyond the original design, which is silent on it): the
 * client sent PUBREL for a QoS 2 packet id whose AMQP_PUBLISH went over an earlier connection, so the front
 * end has no delivery left to settle. It tells the receiver of that AMQP_PUBLISH (the Subscription service)
 * that the client has released the packet id: a later PUBLISH with this id is a new message, even with DUP.
 * Subject `publish-released`; `message-id` = the MQTT packet id (ulong); no body. Sent unsettled
 * (at-least-once); the FE writes PUBCOMP once it is accepted.
 */
export const PUBLISH_RELEASED_SUBJECT = 'publish-released';

export function encodePublishReleased(packetId: number): AmqpMessage {
  return { properties: { subject: PUBLISH_RELEASED_SUBJECT, messageId: packetId } };
}

export function isPublishReleased(message: AmqpMessage): boolean {
  return message.properties?.subject === PUBLISH_RELEASED_SUBJECT;
}

/** The packet id, or `MappingError` when the message-id is not one (1..65 535). */
export function decodePublishReleased(message: AmqpMessage): { packetId: number } {
  const packetId = message.properties?.messageId;
  if (typeof packetId !== 'number' || !Number.isInteger(packetId) || packetId < 1 || packetId > 65_535) {
    throw new MappingError(
      'invalid-field',
      `'${PUBLISH_RELEASED_SUBJECT}' needs an MQTT packet id (1..65535) as message-id`,
      { field: 'properties.message-id' },
    );
  }
  return { packetId };
}

/** The MQTT packet id an AMQP_PUBLISH carries in `message-id`, if it is one. */
export function packetIdOf(message: AmqpMessage): number | undefined {
  const packetId = message.properties?.messageId;
  return typeof packetId === 'number' && Number.isInteger(packetId) && packetId >= 1 && packetId <= 65_535
    ? packetId
    : undefined;
}

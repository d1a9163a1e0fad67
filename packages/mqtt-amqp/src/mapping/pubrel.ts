import type { AmqpMessage, MessageId } from '@dragoman/amqp';
import { MappingError } from '../errors';
import type { DecodedPubrel } from '../types';
import { expectSubject, requireMessageId } from './fields';
import { SUBJECTS } from './subjects';

/** AMQP_PUBREL (FE → `$mqtt.<id>.pubrel`): subject `pubrel`, `message-id` = that of the AMQP_PUBLISH released. */
export function encodePubrel(messageId: MessageId): AmqpMessage {
  return { properties: { subject: SUBJECTS.pubrel, messageId } };
}

export function decodePubrel(message: AmqpMessage): DecodedPubrel {
  expectSubject(message, SUBJECTS.pubrel);
  return { messageId: requireMessageId(message) };
}

/** A PUBREL request decoded: send PUBREL for this packet id (the topic, when given, is only informative). */
export interface PubrelRequest {
  readonly packetId: number;
  readonly topic: string | undefined;
}

/**
 * The PUBREL request (SS → FE on `$mqtt.to.<id>.publish`, beyond the original design): subject `pubrel`,
 * `message-id` = the MQTT packet id (uint) of a QoS 2 message whose AMQP_PUBREL the SS accepted but whose
 * PUBCOMP it has not seen (the FE settles the message's delivery on PUBCOMP). The FE writes PUBREL with that
 * packet id and accepts the request on the client's PUBCOMP. `to` = the message's topic, for information.
 * No body. Sent unsettled, in the session's order, only on a publish link attached after the one the
 * message went out on.
 */
export function encodePubrelRequest(packetId: number, topic?: string): AmqpMessage {
  return {
    properties: {
      subject: SUBJECTS.pubrel,
      messageId: packetId,
      ...(topic !== undefined ? { to: topic } : {}),
    },
  };
}

/** True for a message on the publish address that is a PUBREL request, not an AMQP_PUBLISH. */
export function isPubrelRequest(message: AmqpMessage): boolean {
  return message.properties?.subject === SUBJECTS.pubrel;
}

/** Reads a PUBREL request. Throws `MappingError` when its message-id is not a packet id (1..65535). */
export function decodePubrelRequest(message: AmqpMessage): PubrelRequest {
  expectSubject(message, SUBJECTS.pubrel);
  const id = requireMessageId(message);
  const packetId = typeof id === 'number' ? id : Number.NaN;
  if (!Number.isInteger(packetId) || packetId < 1 || packetId > 0xffff) {
    throw new MappingError(
      'invalid-field',
      `a PUBREL request needs a packet id 1..65535, not ${String(id)}`,
      {
        field: 'properties.message-id',
      },
    );
  }
  const to = message.properties?.to;
  return { packetId, topic: typeof to === 'string' ? to : undefined };
}

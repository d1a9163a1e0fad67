import type { AmqpMessage, MessageId } from '@dragoman/amqp';
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

import type { AmqpMessage } from '@dragoman/amqp';
import type { Addresses, DecodedClose, DecodedList } from '../types';
import { clientIdFromCorrelation, expectSubject } from './fields';
import { SUBJECTS } from './subjects';

/**
 * AMQP_LIST (FE → SS, clean session false): subject `list`, `correlation-id` = `$mqtt.to.<id>.publish`,
 * `reply-to` = `$mqtt.to.<id>.control`.
 */
export function encodeList(clientId: string, addresses: Addresses): AmqpMessage {
  return {
    properties: {
      subject: SUBJECTS.list,
      correlationId: addresses.publish(clientId),
      replyTo: addresses.control(clientId),
    },
  };
}

/** AMQP_LIST → the client and where to reply (its control address when `reply-to` is absent). */
export function decodeList(message: AmqpMessage, addresses: Addresses): DecodedList {
  expectSubject(message, SUBJECTS.list);
  const clientId = clientIdFromCorrelation(message, addresses);
  return { clientId, replyTo: message.properties?.replyTo ?? addresses.control(clientId) };
}

/** AMQP_CLOSE (FE → SS, clean session true): subject `close`, `correlation-id` = `$mqtt.to.<id>.publish`. */
export function encodeClose(clientId: string, addresses: Addresses): AmqpMessage {
  return { properties: { subject: SUBJECTS.close, correlationId: addresses.publish(clientId) } };
}

export function decodeClose(message: AmqpMessage, addresses: Addresses): DecodedClose {
  expectSubject(message, SUBJECTS.close);
  return { clientId: clientIdFromCorrelation(message, addresses) };
}

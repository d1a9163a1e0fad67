import type { AmqpMessage } from '@dragoman/amqp';
import { MappingError } from '../errors';
import type { Addresses, DecodedControl } from '../types';
import { decodePubrel } from './pubrel';
import { decodeClose, decodeList, decodeSessionExpiry } from './session';
import { SUBJECTS } from './subjects';
import { decodeSubscribe, decodeSubscriptions, decodeUnsubscribe } from './subscriptions';
import { decodeWill } from './will';

/**
 * Any of the spec's control messages, by subject. Throws `MappingError('unexpected-subject')` for a message
 * without a control subject (e.g. an AMQP_PUBLISH), and the decoder's own `MappingError` for a malformed one.
 */
export function decodeControl(message: AmqpMessage, addresses: Addresses): DecodedControl {
  const subject = message.properties?.subject;
  switch (subject) {
    case SUBJECTS.will:
      return { subject, will: decodeWill(message) };
    case SUBJECTS.willClear:
      return { subject };
    case SUBJECTS.list:
      return { subject, list: decodeList(message, addresses) };
    case SUBJECTS.subscriptions:
      return { subject, subscriptions: decodeSubscriptions(message) };
    case SUBJECTS.close:
      return { subject, close: decodeClose(message, addresses) };
    case SUBJECTS.subscribe:
      return { subject, subscribe: decodeSubscribe(message, addresses) };
    case SUBJECTS.unsubscribe:
      return { subject, unsubscribe: decodeUnsubscribe(message, addresses) };
    case SUBJECTS.pubrel:
      return { subject, pubrel: decodePubrel(message) };
    case SUBJECTS.sessionExpiry:
      return { subject, sessionExpiry: decodeSessionExpiry(message, addresses) };
    default:
      throw new MappingError(
        'unexpected-subject',
        `not a control message (subject ${subject === undefined ? 'absent' : `'${subject}'`})`,
        { field: 'properties.subject' },
      );
  }
}

import { type AmqpMessage, binaryMessage } from '../src/index';

/** A data message with every header and properties field set, some at sizes that need the wide encodings. */
export const EVERY_HEADER_AND_PROPERTY_FIELD: AmqpMessage = binaryMessage(Buffer.alloc(300, 7), {
  header: { durable: false, priority: 9, ttl: 60_000, firstAcquirer: true, deliveryCount: 3 },
  properties: {
    messageId: 'id-1',
    userId: Buffer.from('user'),
    to: 'x'.repeat(300),
    subject: 'subject ü',
    replyTo: 'reply',
    correlationId: 7_000_000_000,
    contentType: 'application/octet-stream',
    contentEncoding: 'gzip',
    absoluteExpiryTime: new Date(1_700_000_000_000),
    creationTime: new Date(1_600_000_000_123),
    groupId: 'g',
    groupSequence: 70_000,
    replyToGroupId: 'rg',
  },
});

/** The fields of a message's properties section, in wire order (AMQP 1.0, 3.2.4), as AmqpProperties names them. */
export const PROPERTY_FIELDS = [
  'messageId',
  'userId',
  'to',
  'subject',
  'replyTo',
  'correlationId',
  'contentType',
  'contentEncoding',
  'absoluteExpiryTime',
  'creationTime',
  'groupId',
  'groupSequence',
  'replyToGroupId',
] as const;

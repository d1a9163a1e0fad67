// Codec
export { DEFAULT_MAX_PACKET_SIZE, MQTT_MAX_PACKET_SIZE, MqttDecoder } from './decoder';
export { DEFAULT_WRITE_HIGH_WATER_MARK, encodePacket, MqttWriter } from './encoder';
// Server endpoint
export { MqttEndpoint } from './endpoint';
// Errors and reason codes
export {
  MqttConnectionClosedError,
  MqttProtocolError,
  MqttPublishError,
  type MqttPublishErrorCode,
} from './errors';
export { InboundPublish, InboundSubscribe, InboundUnsubscribe } from './inbound';
export {
  ConnackReturnCode,
  fromConnackReturnCode,
  ReasonCode,
  toConnackReturnCode,
  toSubackReturnCode,
} from './reason-codes';
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_OUTBOUND_WINDOW,
  DEFAULT_RECEIVE_MAXIMUM,
  DEFAULT_TOPIC_ALIAS_MAXIMUM,
  MqttServer,
} from './server';
// Topics: validation, shared subscriptions, matching
export {
  isSharedSubscription,
  parseSharedSubscription,
  parseSubscriptionFilter,
  SHARED_SUBSCRIPTION_PREFIX,
} from './shared-subscription';
export { filterMatchesTopic } from './topic-match';
export { type TopicMatchVisitor, TopicTree, type TopicTreeOptions } from './topic-tree';
export type * from './topic-types';
export {
  assertTopicFilter,
  assertTopicName,
  DEFAULT_MAX_TOPIC_LEVELS,
  DEFAULT_TOPIC_LIMITS,
  hasWildcard,
  isValidTopicFilter,
  isValidTopicName,
  MQTT_MAX_TOPIC_LENGTH,
  resolveTopicLimits,
  validateTopicFilter,
  validateTopicName,
} from './topic-validation';
export type * from './types';

// Foundation: addresses, errors, stores (mappings and dialects follow below)

// The MQTT front end as an @dragoman/adapter Adapter
export {
  createMqttAdapter,
  DEFAULT_MQTT_ADAPTER_MAX_CONNECTIONS,
  DEFAULT_MQTT_ADAPTER_PORT,
  MqttAdapter,
  type MqttAdapterOptions,
} from './adapter/mqtt-adapter';
export { CLIENT_ID_PLACEHOLDER, createAddresses, DEFAULT_ADDRESS_OPTIONS } from './addresses';
// Authorization: the hook's types and the ACL file
export {
  type Acl,
  type AclAccess,
  type AclRule,
  aclAuthorizer,
  covers,
  isAllowed,
  parseAcl,
} from './authz/acl';
export { AclSyntaxError } from './authz/errors';
export { isValidTenant, type TenantResolver, TenantScope, tenantFromUsernamePrefix } from './authz/tenants';
export type {
  AuthorizationDenial,
  AuthorizeAction,
  AuthorizeDecision,
  AuthorizeRequest,
  Authorizer,
  ClientIdentity,
  DenialCause,
} from './authz/types';
// Back end: Will service, Subscription service, embedded backend
export {
  Backend,
  createBackend,
  DEFAULT_CONTROL_REPLY_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_PER_NATIVE_RECEIVER,
  DEFAULT_PUBLISH_CREDIT_WINDOW,
  DEFAULT_REFUSED_SUBSCRIPTION_REASON_CODE,
  DEFAULT_SLOW_SUBSCRIBER_TIMEOUT_MS,
  LIMIT_INFO_KEY,
  PUBLISHER_ID_KEY,
  REASON_CODE_INFO_KEY,
} from './backend/backend';
export type { BackendEvents, BackendOptions, BackendStats, SlowSubscriberPolicy } from './backend/types';
export {
  DEFAULT_MAX_UNRELEASED_QOS2,
  DEFAULT_MAX_UNRELEASED_QOS2_PER_CLIENT,
} from './backend/unreleased-qos2';
// Gateway bridge (front end): one bridge per MQTT client over a pool of AMQP connections
export type { ClientBridge } from './bridge/bridge';
export {
  BridgeStepError,
  type BridgeStepFailure,
  GatewayClosedError,
  ReservedTopicError,
} from './bridge/errors';
export { BridgeGateway, createBridgeGateway } from './bridge/gateway';
export {
  DEFAULT_AUTHORIZE_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS as DEFAULT_BRIDGE_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_KEEP_ALIVE_SECONDS,
  DEFAULT_MAX_PUBLISH_LINKS_PER_CLIENT,
  DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT,
  DEFAULT_MAX_TOPIC_LENGTH,
  DEFAULT_MAX_TOPIC_LEVELS,
  DEFAULT_POOL_SIZE,
  DEFAULT_STEP_TIMEOUT_MS as DEFAULT_BRIDGE_STEP_TIMEOUT_MS,
} from './bridge/options';
export type {
  AmqpConnectionMode,
  BridgeCloseOptions,
  BridgeLimit,
  BridgeState,
  BridgeStats,
  CredentialsMode,
  GatewayBridgeOptions,
  GatewayStats,
  MessageCounts,
} from './bridge/types';
export {
  ARTEMIS_QOS_PROPERTY,
  ARTEMIS_RETAIN_PROPERTY,
  type AzureDialectOptions,
  artemisDialect,
  azureDialect,
  DIALECT_NAMES,
  ENMASSE_QOS_ANNOTATION,
  ENMASSE_RETAIN_ANNOTATION,
  enmasseDialect,
  HONO_RETAIN_ANNOTATION,
  honoDialect,
  RABBITMQ_ROUTING_KEY_ANNOTATION,
  type RabbitmqDialectOptions,
  rabbitmqDialect,
  resolveDialect,
} from './dialects/index';
export {
  ConfigurationError,
  MappingError,
  type MappingErrorCode,
  StoreClosedError,
  type StoreLimit,
  StoreLimitError,
} from './errors';
export {
  type AmqpNumericType,
  AmqpTypedNumber,
  amqpInt,
  amqpUbyte,
  amqpUint,
  booleanOf,
  integerOf,
} from './mapping/amqp-values';
export { decodeControl } from './mapping/control';
export {
  clientLinks,
  controlLink,
  linkName,
  publishLink,
  pubrelLink,
  subscriptionServiceLink,
  topicLink,
  willLink,
} from './mapping/links';
export { decodePublish, encodePublish } from './mapping/publish';
export {
  decodePublishReleased,
  encodePublishReleased,
  PUBLISH_RELEASED_SUBJECT,
} from './mapping/publish-released';
export {
  decodePubrel,
  decodePubrelRequest,
  encodePubrel,
  encodePubrelRequest,
  isPubrelRequest,
  type PubrelRequest,
} from './mapping/pubrel';
export {
  decodeClose,
  decodeList,
  decodeSessionExpiry,
  encodeClose,
  encodeList,
  encodeSessionExpiry,
  withSessionExpiry,
} from './mapping/session';
export { ANNOTATIONS, isControlSubject, SUBJECTS } from './mapping/subjects';
export {
  decodeSubscribe,
  decodeSubscriptions,
  decodeUnsubscribe,
  encodeSubscribe,
  encodeSubscriptions,
  encodeUnsubscribe,
  type SubscribeInput,
  type UnsubscribeInput,
} from './mapping/subscriptions';
export { decodeWill, decodeWillClear, encodeWill, encodeWillClear } from './mapping/will';
export type { PendingDelivery } from './services/client-session';
export type { Outlet, OutletOutcome } from './services/outlet';
export {
  DEFAULT_MAX_IN_MEMORY_PER_CLIENT,
  type PublishOutcome,
  type SubscribeOutcome,
  type SubscriptionAuthorizer,
  SubscriptionService,
  type SubscriptionServiceOptions,
} from './services/subscription-service';
export type { SubscriptionServiceStats, WillServiceStats } from './services/types';
export {
  DEFAULT_RESTART_GRACE_MS,
  type WillLinkToken,
  WillService,
  type WillServiceOptions,
} from './services/will-service';
export { createMemoryStores, openLmdbStores } from './store/index';
export { DEFAULT_STORE_LIMITS } from './store/options';
export {
  createMemoryQos2Store,
  openLmdbQos2Store,
  type Qos2Entry,
  type Qos2Store,
} from './store/qos2-store';
export { SESSION_NEVER_EXPIRES } from './store/session-store';
export type * from './types';

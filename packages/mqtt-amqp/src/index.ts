// Foundation: addresses, errors, stores (mappings and dialects follow below)
export { CLIENT_ID_PLACEHOLDER, createAddresses, DEFAULT_ADDRESS_OPTIONS } from './addresses';
// Back end: Will service, Subscription service, embedded backend
export {
  Backend,
  createBackend,
  DEFAULT_CONTROL_REPLY_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_PER_NATIVE_RECEIVER,
  DEFAULT_PUBLISH_CREDIT_WINDOW,
  DEFAULT_REFUSED_SUBSCRIPTION_REASON_CODE,
  PUBLISHER_ID_KEY,
  REASON_CODE_INFO_KEY,
} from './backend/backend';
export type { BackendEvents, BackendOptions, BackendStats } from './backend/types';
export {
  ConfigurationError,
  MappingError,
  type MappingErrorCode,
  StoreClosedError,
  type StoreLimit,
  StoreLimitError,
} from './errors';
export type { PendingDelivery } from './services/client-session';
export type { Outlet, OutletOutcome } from './services/outlet';
export {
  DEFAULT_MAX_IN_MEMORY_PER_CLIENT,
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
export { SESSION_NEVER_EXPIRES } from './store/session-store';
export type * from './types';

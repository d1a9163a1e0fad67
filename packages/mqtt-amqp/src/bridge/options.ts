import { type ConnectOptions, DEFAULT_MAX_MESSAGE_SIZE } from '@dragoman/amqp';
import { type TenantResolver, tenantFromUsernamePrefix } from '../authz/tenants';
import type { AuthorizationDenial, Authorizer } from '../authz/types';
import { ConfigurationError } from '../errors';
import { isSubackFailureCode } from './reason-codes';
import type { AmqpConnectionMode, BridgeLimit, CredentialsMode, GatewayBridgeOptions } from './types';

export const DEFAULT_POOL_SIZE = 2;
export const DEFAULT_CONNECT_TIMEOUT_MS = 8_000;
export const DEFAULT_STEP_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_PUBLISH_LINKS_PER_CLIENT = 32;
export const DEFAULT_MAX_KEEP_ALIVE_SECONDS = 3_600;
/** No cap: 0xFFFFFFFF is MQTT 5's "never expires". */
export const DEFAULT_MAX_SESSION_EXPIRY_SECONDS = 0xffff_ffff;
export const DEFAULT_SUBSCRIBE_FAILURE_REASON_CODE = 0x80;
export const DEFAULT_POOLED_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_AUTHORIZE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT = 100;
export const DEFAULT_MAX_TOPIC_LENGTH = 1_024;
export const DEFAULT_MAX_TOPIC_LEVELS = 32;

export interface ResolvedBridgeOptions {
  readonly amqp: ConnectOptions;
  readonly connectionMode: AmqpConnectionMode;
  readonly poolSize: number;
  readonly credentials: CredentialsMode;
  readonly connectTimeoutMs: number;
  readonly stepTimeoutMs: number;
  readonly maxMessageSize: number;
  readonly maxPublishLinksPerClient: number;
  readonly maxKeepAliveSeconds: number;
  readonly maxSessionExpirySeconds: number;
  readonly subscribeFailureReasonCode: number;
  readonly sendWillClear: boolean;
  readonly outboundTopicAliases: boolean;
  readonly idleTimeoutMs: number;
  readonly authorize: Authorizer | undefined;
  readonly authorizeTimeoutMs: number;
  readonly onDenied: (denial: AuthorizationDenial) => void;
  readonly tenantOf: TenantResolver | undefined;
  readonly maxSubscriptionsPerClient: number;
  readonly maxTopicLength: number;
  readonly maxTopicLevels: number;
  readonly onLimit: (limit: BridgeLimit) => void;
}

function integer(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(option, `${option} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** Fills in defaults and checks ranges; throws `ConfigurationError` naming the bad option. */
export function resolveBridgeOptions(options: GatewayBridgeOptions): ResolvedBridgeOptions {
  if (options === null || typeof options !== 'object' || options.amqp === undefined) {
    throw new ConfigurationError('amqp', 'amqp (the AMQP connect options) is required');
  }
  const connectionMode = options.connectionMode ?? 'pooled';
  if (connectionMode !== 'pooled' && connectionMode !== 'per-client') {
    throw new ConfigurationError('connectionMode', `connectionMode must be 'pooled' or 'per-client'`);
  }
  const credentials = options.credentials ?? 'gateway';
  if (credentials !== 'gateway' && credentials !== 'client' && credentials !== 'client-identity') {
    throw new ConfigurationError(
      'credentials',
      `credentials must be 'gateway', 'client' or 'client-identity'`,
    );
  }
  if (credentials !== 'gateway' && connectionMode !== 'per-client') {
    throw new ConfigurationError(
      'credentials',
      `credentials '${credentials}' needs connectionMode 'per-client'`,
    );
  }
  const subscribeFailureReasonCode =
    options.subscribeFailureReasonCode ?? DEFAULT_SUBSCRIBE_FAILURE_REASON_CODE;
  if (!isSubackFailureCode(subscribeFailureReasonCode)) {
    throw new ConfigurationError(
      'subscribeFailureReasonCode',
      `subscribeFailureReasonCode must be a SUBACK failure code (0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)`,
    );
  }
  return {
    amqp: options.amqp,
    connectionMode,
    poolSize: integer('poolSize', options.poolSize ?? DEFAULT_POOL_SIZE, 1, 1024),
    credentials,
    connectTimeoutMs: integer(
      'connectTimeoutMs',
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      1,
      3_600_000,
    ),
    stepTimeoutMs: integer('stepTimeoutMs', options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS, 1, 3_600_000),
    maxMessageSize: integer(
      'maxMessageSize',
      options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    maxPublishLinksPerClient: integer(
      'maxPublishLinksPerClient',
      options.maxPublishLinksPerClient ?? DEFAULT_MAX_PUBLISH_LINKS_PER_CLIENT,
      1,
      65_535,
    ),
    maxKeepAliveSeconds: integer(
      'maxKeepAliveSeconds',
      options.maxKeepAliveSeconds ?? DEFAULT_MAX_KEEP_ALIVE_SECONDS,
      0,
      65_535,
    ),
    maxSessionExpirySeconds: integer(
      'maxSessionExpirySeconds',
      options.maxSessionExpirySeconds ?? DEFAULT_MAX_SESSION_EXPIRY_SECONDS,
      0,
      DEFAULT_MAX_SESSION_EXPIRY_SECONDS,
    ),
    subscribeFailureReasonCode,
    sendWillClear: options.sendWillClear === true,
    outboundTopicAliases: options.outboundTopicAliases === true,
    idleTimeoutMs: integer(
      'idleTimeoutMs',
      options.idleTimeoutMs ?? DEFAULT_POOLED_IDLE_TIMEOUT_MS,
      0,
      3_600_000,
    ),
    authorize: authorizerOption(options.authorize),
    authorizeTimeoutMs: integer(
      'authorizeTimeoutMs',
      options.authorizeTimeoutMs ?? DEFAULT_AUTHORIZE_TIMEOUT_MS,
      1,
      3_600_000,
    ),
    onDenied: typeof options.onDenied === 'function' ? options.onDenied : () => {},
    tenantOf: tenantOption(options.tenantFrom),
    maxSubscriptionsPerClient: integer(
      'maxSubscriptionsPerClient',
      options.maxSubscriptionsPerClient ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT,
      1,
      1_000_000,
    ),
    maxTopicLength: integer('maxTopicLength', options.maxTopicLength ?? DEFAULT_MAX_TOPIC_LENGTH, 1, 65_535),
    maxTopicLevels: integer('maxTopicLevels', options.maxTopicLevels ?? DEFAULT_MAX_TOPIC_LEVELS, 1, 65_535),
    onLimit: typeof options.onLimit === 'function' ? options.onLimit : () => {},
  };
}

function tenantOption(value: unknown): TenantResolver | undefined {
  if (value === undefined) return undefined;
  if (value === 'username-prefix') return tenantFromUsernamePrefix;
  if (typeof value === 'function') return value as TenantResolver;
  throw new ConfigurationError(
    'tenantFrom',
    `tenantFrom must be 'username-prefix' or a function (identity) => tenant`,
  );
}

function authorizerOption(value: unknown): Authorizer | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new ConfigurationError(
      'authorize',
      'authorize must be a function (request) => boolean | reason code',
    );
  }
  return value as Authorizer;
}

/**
 * The table of every setting: its flag, environment variable, config file key, default and help. The parser,
 * the environment and file readers and `--help` are all driven by it, so they cannot disagree.
 */
import type { GatewayOptions } from '../types';

export type OptionKey = keyof GatewayOptions;
/** How a raw value is read: `string` as is, `integer` as a whole number. */
export type OptionKind = 'string' | 'integer';

export interface OptionSpec {
  readonly key: OptionKey;
  /** Flag without the dashes. */
  readonly flag: string;
  readonly env: string;
  readonly kind: OptionKind;
  /** Placeholder in the help text. */
  readonly value: string;
  /** The default as shown to users. */
  readonly defaultText: string;
  readonly help: string;
}

function spec(
  key: OptionKey,
  flag: string,
  kind: OptionKind,
  value: string,
  defaultText: string,
  help: string,
): OptionSpec {
  return {
    key,
    flag,
    env: `DRAGOMAN_${flag.toUpperCase().replace(/-/g, '_')}`,
    kind,
    value,
    defaultText,
    help,
  };
}

export const OPTION_SPECS: readonly OptionSpec[] = [
  spec(
    'mqtt',
    'mqtt',
    'string',
    'HOST:PORT',
    '127.0.0.1:1883',
    'MQTT over TCP (TLS with --mqtt-cert/--mqtt-key); off disables it',
  ),
  spec(
    'ws',
    'ws',
    'string',
    'HOST:PORT',
    '127.0.0.1:8083',
    'MQTT over WebSocket (WSS with --ws-cert/--ws-key); off disables it',
  ),
  spec('wsPath', 'ws-path', 'string', 'PATH', '/mqtt', 'HTTP path of the WebSocket endpoint'),
  spec(
    'amqpListen',
    'amqp-listen',
    'string',
    'HOST:PORT',
    '127.0.0.1:5672',
    'where the embedded AMQP 1.0 backend listens',
  ),
  spec(
    'amqp',
    'amqp',
    'string',
    'URL',
    '(embedded backend)',
    'use an external AMQP 1.0 network (amqp:// or amqps://) instead',
  ),
  spec('metrics', 'metrics', 'string', 'HOST:PORT', 'off', 'serve Prometheus /metrics and /health over HTTP'),
  spec(
    'dialect',
    'dialect',
    'string',
    'NAME',
    'enmasse',
    'how MQTT QoS/retain/topics are spelled on AMQP: enmasse | hono | azure | artemis | rabbitmq | rabbitmq-v1',
  ),
  spec(
    'store',
    'store',
    'string',
    'PATH',
    '(in memory)',
    'durable LMDB store directory of the embedded backend',
  ),
  spec('mqttCert', 'mqtt-cert', 'string', 'FILE', '-', 'PEM certificate (chain) for MQTT over TLS'),
  spec('mqttKey', 'mqtt-key', 'string', 'FILE', '-', 'PEM private key for MQTT over TLS'),
  spec('wsCert', 'ws-cert', 'string', 'FILE', '-', 'PEM certificate (chain) for MQTT over secure WebSocket'),
  spec('wsKey', 'ws-key', 'string', 'FILE', '-', 'PEM private key for MQTT over secure WebSocket'),
  spec(
    'amqpListenCert',
    'amqp-listen-cert',
    'string',
    'FILE',
    '-',
    'PEM certificate (chain) for the embedded backend (amqps)',
  ),
  spec(
    'amqpListenKey',
    'amqp-listen-key',
    'string',
    'FILE',
    '-',
    'PEM private key for the embedded backend (amqps)',
  ),
  spec(
    'amqpCert',
    'amqp-cert',
    'string',
    'FILE',
    '-',
    "the gateway's PEM client certificate for an amqps:// external network (then SASL EXTERNAL)",
  ),
  spec('amqpKey', 'amqp-key', 'string', 'FILE', '-', 'PEM private key of --amqp-cert'),
  spec(
    'amqpIdentity',
    'amqp-identity',
    'string',
    'WHO',
    'gateway',
    'gateway | device: with --amqp-cert, act as the gateway (pooled) or as each device (one connection each, SASL EXTERNAL authzid = its identity)',
  ),
  spec(
    'clientCa',
    'client-ca',
    'string',
    'FILE',
    '-',
    'PEM CA certificates that sign device certificates (MQTT TLS and secure WebSocket listeners)',
  ),
  spec(
    'clientCert',
    'client-cert',
    'string',
    'MODE',
    'require with --client-ca, else none',
    'none | request (fall back to user name and password) | require (no valid certificate: TLS handshake fails)',
  ),
  spec(
    'certIdentity',
    'cert-identity',
    'string',
    'WHAT',
    'cn',
    "cn | dn: the identity a device certificate gives (subject CN, or the subject DN as 'CN=…,O=…')",
  ),
  spec(
    'amqpCa',
    'amqp-ca',
    'string',
    'FILE',
    "(Node's CAs)",
    'PEM CA certificates trusted for an amqps:// external network',
  ),
  spec('auth', 'auth', 'string', 'MODE', 'none (users with --users)', 'none | users | pass-through'),
  spec('users', 'users', 'string', 'FILE', '-', 'JSON users file of scrypt hashes (see hash-password)'),
  spec(
    'authModule',
    'auth-module',
    'string',
    'FILE',
    '-',
    'ES module whose default export is an authentication hook (password checks, MQTT 5 AUTH methods)',
  ),
  spec(
    'acl',
    'acl',
    'string',
    'FILE',
    '(everything allowed)',
    'ACL file deciding publish/subscribe per user and topic (user/topic/pattern lines, %u %c)',
  ),
  spec(
    'tenantFrom',
    'tenant-from',
    'string',
    'MODE',
    'none',
    "none | username-prefix (identities <tenant>/<user>) | users-file (the entry's tenant field); tenants are isolated",
  ),
  spec(
    'maxConnectionsPerTenant',
    'max-connections-per-tenant',
    'integer',
    'N',
    '0 (no limit)',
    'open MQTT connections of one tenant; more get CONNACK 0x97 (3.1.1: 3); 0 = no limit',
  ),
  spec(
    'maxConnections',
    'max-connections',
    'integer',
    'N',
    '10000',
    'open MQTT connections (TCP and WebSocket); more are closed',
  ),
  spec(
    'maxConnectionsPerAddress',
    'max-connections-per-address',
    'integer',
    'N',
    '1000',
    'open MQTT connections from one source address; more get CONNACK 0x97 (3.1.1: 3)',
  ),
  spec(
    'connectRate',
    'connect-rate',
    'integer',
    'N',
    '2000',
    'new connections per second, whole gateway (token bucket); more get CONNACK 0x9F (3.1.1: 3); 0 = no limit',
  ),
  spec(
    'connectRatePerAddress',
    'connect-rate-per-address',
    'integer',
    'N',
    '500',
    'new connections per second from one source address; more get CONNACK 0x9F (3.1.1: 3); 0 = no limit',
  ),
  spec(
    'connectTimeout',
    'connect-timeout',
    'integer',
    'MS',
    '10000',
    'time a new connection has to send CONNECT (and be answered)',
  ),
  spec(
    'maxRetained',
    'max-retained',
    'integer',
    'N',
    '10000',
    'retained messages kept in total (embedded backend); more are refused (MQTT 5 PUBACK 0x97)',
  ),
  spec(
    'maxSessionExpiry',
    'max-session-expiry',
    'integer',
    'SECONDS',
    '4294967295',
    'longest MQTT 5 session expiry interval granted (announced in CONNACK); 4294967295 = no cap',
  ),
  spec(
    'maxSubscriptions',
    'max-subscriptions',
    'integer',
    'N',
    '100',
    'subscriptions per client (session); more get SUBACK 0x97 (3.1.1: 0x80)',
  ),
  spec(
    'maxTopicLength',
    'max-topic-length',
    'integer',
    'BYTES',
    '1024',
    'longest topic name or filter; longer: PUBACK 0x90 / SUBACK 0x8F (3.1.1: dropped / 0x80)',
  ),
  spec(
    'maxTopicLevels',
    'max-topic-levels',
    'integer',
    'N',
    '32',
    'most /-separated levels in a topic or filter; more: as for --max-topic-length',
  ),
  spec('maxPacketSize', 'max-packet-size', 'integer', 'BYTES', '1048576', 'largest MQTT packet accepted'),
  spec(
    'maxInflight',
    'max-inflight',
    'integer',
    'N',
    '1000',
    'QoS 1/2 messages in flight to each MQTT client',
  ),
  spec(
    'receiveMaximum',
    'receive-maximum',
    'integer',
    'N',
    '64',
    'QoS 1/2 messages from each MQTT client awaiting AMQP',
  ),
  spec(
    'receiveMaximumExceeded',
    'receive-maximum-exceeded',
    'string',
    'POLICY',
    'disconnect',
    'disconnect | pushback: an MQTT 5 client over its receive maximum gets DISCONNECT 0x93, or is not read',
  ),
  spec(
    'maxOfflineMessages',
    'max-offline-messages',
    'integer',
    'N',
    '1000',
    'messages queued per offline session (embedded backend)',
  ),
  spec('poolSize', 'pool-size', 'integer', 'N', '2', 'shared AMQP connections of the bridge'),
  spec(
    'logLevel',
    'log-level',
    'string',
    'LEVEL',
    'info',
    'fatal | error | warn | info | debug | trace | silent',
  ),
  spec('logFormat', 'log-format', 'string', 'FORMAT', 'auto', 'json | text | auto (text on a terminal)'),
  spec(
    'maxSemiSpace',
    'max-semi-space',
    'integer',
    'MIB',
    '16',
    "V8's young generation per semi-space, MiB (0, 1, 2, 4, 8, 16…; 0: V8's own sizing; the CLI applies it)",
  ),
  spec(
    'heapGrowth',
    'heap-growth',
    'integer',
    'PERCENT',
    '50',
    "how far V8's old generation grows past its live size before a full collection (10–300; 0: V8's own; the CLI applies it)",
  ),
  spec(
    'shutdownTimeout',
    'shutdown-timeout',
    'integer',
    'MS',
    '10000',
    'how long shutdown waits for in-flight work',
  ),
];

/** The config file option: a flag and environment variable, not a file key. */
export const CONFIG_FLAG = 'config';
export const CONFIG_ENV = 'DRAGOMAN_CONFIG';

export const SPEC_BY_KEY: ReadonlyMap<string, OptionSpec> = new Map(OPTION_SPECS.map((s) => [s.key, s]));
export const SPEC_BY_ENV: ReadonlyMap<string, OptionSpec> = new Map(OPTION_SPECS.map((s) => [s.env, s]));
export const SPEC_BY_FLAG: ReadonlyMap<string, OptionSpec> = new Map(OPTION_SPECS.map((s) => [s.flag, s]));

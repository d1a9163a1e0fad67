/**
 * Validation: `GatewayOptions` (from a host application, or merged from flags, environment and file) to a
 * `GatewayConfig` with every default filled in, or one `ConfigError`.
 */
import { DEFAULT_MAX_PACKET_SIZE, MQTT_MAX_PACKET_SIZE } from '@dragoman/mqtt';
import { ConfigError } from '../errors';
import type { ClientCertConfig, GatewayConfig, GatewayOptions, TlsFiles } from '../types';
import { type OptionKey, SPEC_BY_KEY } from './options';
import {
  AMQP_IDENTITY_MODES,
  AUTH_MODES,
  CERT_IDENTITY_MODES,
  CLIENT_CERT_MODES,
  DIALECTS,
  heapGrowthPercent,
  LOG_FORMATS,
  LOG_LEVELS,
  parseAmqpUrl,
  parseChoice,
  parseHostPort,
  parseInteger,
  parseListener,
  parsePath,
  powerOfTwoOrZero,
  RECEIVE_MAXIMUM_POLICIES,
  TENANT_MODES,
} from './values';

export const DEFAULTS = {
  mqtt: '127.0.0.1:1883',
  ws: '127.0.0.1:8083',
  wsPath: '/mqtt',
  amqpListen: '127.0.0.1:5672',
  metrics: 'off',
  dialect: 'enmasse',
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1_000,
  connectRate: 2_000,
  connectRatePerAddress: 500,
  connectTimeout: 10_000,
  maxRetained: 10_000,
  maxSubscriptions: 100,
  maxSessionExpiry: 0xffff_ffff,
  maxTopicLength: 1_024,
  maxTopicLevels: 32,
  maxConnectionsPerTenant: 0,
  certIdentity: 'cn',
  maxPacketSize: DEFAULT_MAX_PACKET_SIZE,
  maxInflight: 1_000,
  receiveMaximum: 64,
  receiveMaximumExceeded: 'disconnect',
  maxOfflineMessages: 1_000,
  poolSize: 2,
  logLevel: 'info',
  logFormat: 'auto',
  shutdownTimeout: 10_000,
  maxSemiSpace: 16,
  heapGrowth: 50,
} as const;

/** How an option is named in messages: by default its config key; the CLI names the flag or variable used. */
export type DescribeOption = (key: OptionKey) => string;

export function resolveConfig(
  options: GatewayOptions,
  describe: DescribeOption = (key) => key,
): GatewayConfig {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options must be an object');
  for (const key of Object.keys(options)) {
    if (!SPEC_BY_KEY.has(key)) throw new ConfigError(`unknown option '${key}'`, { option: key });
  }
  const str = (key: OptionKey): string | undefined => {
    const value: unknown = options[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string')
      throw new ConfigError(`${describe(key)}: expected a string`, { option: describe(key) });
    return value;
  };
  const int = (key: OptionKey, fallback: number, min: number, max: number): number => {
    const value: unknown = options[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ConfigError(`${describe(key)}: expected a whole number`, { option: describe(key) });
    }
    return parseInteger(describe(key), value, min, max);
  };
  const tls = (certKey: OptionKey, keyKey: OptionKey): TlsFiles | undefined => {
    const cert = str(certKey);
    const key = str(keyKey);
    if (cert === undefined && key === undefined) return undefined;
    if (cert === undefined || key === undefined) {
      const missing = cert === undefined ? certKey : keyKey;
      const given = cert === undefined ? keyKey : certKey;
      throw new ConfigError(`${describe(given)} needs ${describe(missing)} too`, {
        option: describe(missing),
      });
    }
    return { cert, key };
  };

  const mqttAddress = parseListener(describe('mqtt'), str('mqtt') ?? DEFAULTS.mqtt);
  const wsAddress = parseListener(describe('ws'), str('ws') ?? DEFAULTS.ws);
  const mqttTls = tls('mqttCert', 'mqttKey');
  const wsTls = tls('wsCert', 'wsKey');
  if (mqttAddress === undefined && wsAddress === undefined) {
    throw new ConfigError(`${describe('mqtt')} and ${describe('ws')} are both off: nothing to listen on`, {
      option: describe('mqtt'),
    });
  }

  const clientCert = resolveClientCert(
    { mqtt: mqttAddress !== undefined, mqttTls: mqttTls !== undefined },
    { ws: wsAddress !== undefined, wsTls: wsTls !== undefined },
    str('clientCa'),
    str('clientCert'),
    str('certIdentity'),
    describe,
  );

  const external = str('amqp');
  const amqpListenText = str('amqpListen');
  const listenTls = tls('amqpListenCert', 'amqpListenKey');
  const store = str('store');
  const ca = str('amqpCa');
  let amqp: GatewayConfig['amqp'];
  if (external !== undefined) {
    for (const key of ['amqpListen', 'amqpListenCert', 'store'] as const) {
      if (options[key] !== undefined) {
        throw new ConfigError(
          `${describe(key)} is for the embedded backend; it cannot be used with ${describe('amqp')}`,
          {
            option: describe(key),
          },
        );
      }
    }
    const url = parseAmqpUrl(describe('amqp'), external);
    const clientTls = tls('amqpCert', 'amqpKey');
    if (clientTls !== undefined) {
      const parsed = new URL(url);
      if (parsed.protocol !== 'amqps:') {
        throw new ConfigError(`${describe('amqpCert')} needs an amqps:// ${describe('amqp')} URL`, {
          option: describe('amqpCert'),
        });
      }
      if (parsed.username !== '' || parsed.password !== '') {
        throw new ConfigError(
          `${describe('amqpCert')} authenticates with SASL EXTERNAL: leave the user name and password out of ${describe('amqp')}`,
          { option: describe('amqp') },
        );
      }
    }
    const identity = parseChoice(
      describe('amqpIdentity'),
      str('amqpIdentity') ?? 'gateway',
      AMQP_IDENTITY_MODES,
    );
    if (identity === 'device' && clientTls === undefined) {
      throw new ConfigError(
        `${describe('amqpIdentity')} device acts through the gateway's certificate: it needs ${describe('amqpCert')}`,
        { option: describe('amqpIdentity') },
      );
    }
    amqp = { kind: 'external', url, ca, tls: clientTls, identity };
  } else {
    for (const key of ['amqpCert', 'amqpKey', 'amqpIdentity'] as const) {
      if (options[key] !== undefined) {
        throw new ConfigError(`${describe(key)} is for an external network; it needs ${describe('amqp')}`, {
          option: describe(key),
        });
      }
    }
    if (ca !== undefined) {
      throw new ConfigError(
        `${describe('amqpCa')} is for an external network; it needs ${describe('amqp')}`,
        {
          option: describe('amqpCa'),
        },
      );
    }
    if (store !== undefined && store.trim() === '') {
      throw new ConfigError(`${describe('store')}: expected a directory path`, { option: describe('store') });
    }
    amqp = {
      kind: 'embedded',
      listen: parseHostPort(describe('amqpListen'), amqpListenText ?? DEFAULTS.amqpListen),
      tls: listenTls,
      store,
    };
  }

  const users = str('users');
  const authText = str('auth');
  const auth =
    authText !== undefined
      ? parseChoice(describe('auth'), authText, AUTH_MODES)
      : users !== undefined
        ? 'users'
        : 'none';
  if (auth === 'users' && users === undefined) {
    throw new ConfigError(`${describe('auth')} users needs ${describe('users')} FILE`, {
      option: describe('users'),
    });
  }
  if (auth === 'pass-through' && amqp.kind === 'embedded' && users === undefined) {
    throw new ConfigError(
      `${describe('auth')} pass-through with the embedded backend needs ${describe('users')} FILE (the backend checks the credentials)`,
      { option: describe('users') },
    );
  }
  if (auth === 'pass-through' && amqp.kind === 'external' && amqp.identity === 'device') {
    throw new ConfigError(
      `${describe('auth')} pass-through sends the clients' passwords; ${describe('amqpIdentity')} device acts through the gateway's certificate — choose one`,
      { option: describe('amqpIdentity') },
    );
  }
  if (auth === 'none' && users !== undefined) {
    throw new ConfigError(`${describe('users')} is given but ${describe('auth')} is none`, {
      option: describe('auth'),
    });
  }

  const tenantFrom = parseChoice(describe('tenantFrom'), str('tenantFrom') ?? 'none', TENANT_MODES);
  if (tenantFrom === 'users-file' && users === undefined) {
    throw new ConfigError(`${describe('tenantFrom')} users-file needs ${describe('users')} FILE`, {
      option: describe('users'),
    });
  }
  const maxConnectionsPerTenant = int(
    'maxConnectionsPerTenant',
    DEFAULTS.maxConnectionsPerTenant,
    0,
    10_000_000,
  );
  if (maxConnectionsPerTenant > 0 && tenantFrom === 'none') {
    throw new ConfigError(
      `${describe('maxConnectionsPerTenant')} needs tenants (${describe('tenantFrom')} username-prefix or users-file)`,
      { option: describe('maxConnectionsPerTenant') },
    );
  }
  const authModule = str('authModule');
  if (authModule !== undefined && authModule.trim() === '') {
    throw new ConfigError(`${describe('authModule')}: expected a file path`, {
      option: describe('authModule'),
    });
  }

  const metricsText = str('metrics') ?? DEFAULTS.metrics;
  const wsPath = parsePath(describe('wsPath'), str('wsPath') ?? DEFAULTS.wsPath);
  return {
    mqtt: mqttAddress === undefined ? undefined : { ...mqttAddress, tls: mqttTls },
    ws: wsAddress === undefined ? undefined : { ...wsAddress, tls: wsTls, path: wsPath },
    amqp,
    metrics: parseListener(describe('metrics'), metricsText),
    dialect: parseChoice(describe('dialect'), str('dialect') ?? DEFAULTS.dialect, DIALECTS),
    auth,
    users,
    acl: str('acl'),
    tenantFrom,
    clientCert,
    authModule,
    limits: {
      maxConnections: int('maxConnections', DEFAULTS.maxConnections, 1, 10_000_000),
      maxPacketSize: int('maxPacketSize', DEFAULTS.maxPacketSize, 16, MQTT_MAX_PACKET_SIZE),
      maxInflight: int('maxInflight', DEFAULTS.maxInflight, 1, 65_535),
      receiveMaximum: int('receiveMaximum', DEFAULTS.receiveMaximum, 1, 65_535),
      receiveMaximumExceeded: parseChoice(
        describe('receiveMaximumExceeded'),
        str('receiveMaximumExceeded') ?? DEFAULTS.receiveMaximumExceeded,
        RECEIVE_MAXIMUM_POLICIES,
      ),
      maxOfflineMessages: int('maxOfflineMessages', DEFAULTS.maxOfflineMessages, 1, 100_000_000),
      poolSize: int('poolSize', DEFAULTS.poolSize, 1, 1024),
      maxConnectionsPerAddress: int(
        'maxConnectionsPerAddress',
        DEFAULTS.maxConnectionsPerAddress,
        1,
        10_000_000,
      ),
      connectRate: int('connectRate', DEFAULTS.connectRate, 0, 1_000_000),
      connectRatePerAddress: int('connectRatePerAddress', DEFAULTS.connectRatePerAddress, 0, 1_000_000),
      connectTimeout: int('connectTimeout', DEFAULTS.connectTimeout, 1_000, 600_000),
      maxRetained: int('maxRetained', DEFAULTS.maxRetained, 1, 100_000_000),
      maxSubscriptions: int('maxSubscriptions', DEFAULTS.maxSubscriptions, 1, 1_000_000),
      maxSessionExpiry: int('maxSessionExpiry', DEFAULTS.maxSessionExpiry, 0, 0xffff_ffff),
      maxTopicLength: int('maxTopicLength', DEFAULTS.maxTopicLength, 1, 65_535),
      maxTopicLevels: int('maxTopicLevels', DEFAULTS.maxTopicLevels, 1, 65_535),
      maxConnectionsPerTenant,
    },
    logLevel: parseChoice(describe('logLevel'), str('logLevel') ?? DEFAULTS.logLevel, LOG_LEVELS),
    logFormat: parseChoice(describe('logFormat'), str('logFormat') ?? DEFAULTS.logFormat, LOG_FORMATS),
    shutdownTimeout: int('shutdownTimeout', DEFAULTS.shutdownTimeout, 0, 3_600_000),
    maxSemiSpace: powerOfTwoOrZero(
      describe('maxSemiSpace'),
      int('maxSemiSpace', DEFAULTS.maxSemiSpace, 0, 1024),
    ),
    heapGrowth: heapGrowthPercent(describe('heapGrowth'), int('heapGrowth', DEFAULTS.heapGrowth, 0, 1000)),
  };
}

/**
 * `clientCa` / `clientCert` / `certIdentity`: a mode other than `none` needs the CA and a TLS listener, and
 * `require` needs TLS on every MQTT listener that is on (a plain one would let clients around it).
 */
function resolveClientCert(
  mqtt: { readonly mqtt: boolean; readonly mqttTls: boolean },
  ws: { readonly ws: boolean; readonly wsTls: boolean },
  ca: string | undefined,
  modeText: string | undefined,
  identityText: string | undefined,
  describe: DescribeOption,
): ClientCertConfig | undefined {
  const mode =
    modeText !== undefined
      ? parseChoice(describe('clientCert'), modeText, CLIENT_CERT_MODES)
      : ca !== undefined
        ? 'require'
        : 'none';
  const identity = parseChoice(
    describe('certIdentity'),
    identityText ?? DEFAULTS.certIdentity,
    CERT_IDENTITY_MODES,
  );
  if (mode === 'none') {
    if (ca !== undefined) {
      throw new ConfigError(`${describe('clientCa')} is given but ${describe('clientCert')} is none`, {
        option: describe('clientCert'),
      });
    }
    return undefined;
  }
  if (ca === undefined) {
    throw new ConfigError(`${describe('clientCert')} ${mode} needs ${describe('clientCa')} FILE`, {
      option: describe('clientCa'),
    });
  }
  if (!(mqtt.mqtt && mqtt.mqttTls) && !(ws.ws && ws.wsTls)) {
    throw new ConfigError(
      `${describe('clientCert')} ${mode} needs a TLS listener (${describe('mqttCert')} or ${describe('wsCert')})`,
      { option: describe('clientCert') },
    );
  }
  if (mode === 'require') {
    const plain = mqtt.mqtt && !mqtt.mqttTls ? 'mqtt' : ws.ws && !ws.wsTls ? 'ws' : undefined;
    if (plain !== undefined) {
      throw new ConfigError(
        `${describe('clientCert')} require: ${describe(plain)} is plain (no TLS), so clients could connect without a certificate; give it TLS or turn it off`,
        { option: describe(plain) },
      );
    }
  }
  return { mode, ca, identity };
}

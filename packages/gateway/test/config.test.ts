/**
 * Configuration: parsing of each kind of value, the precedence flags > environment > file > defaults, and the
 * errors, each naming the setting as the user wrote it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  hashPassword,
  loadUsers,
  mergeSettings,
  OPTION_SPECS,
  parseCommandLine,
  readEnvironment,
  resolveConfig,
  verifyPassword,
} from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'dragoman-config-'));

function configFile(content: unknown): string {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function settings(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const merged = mergeSettings(parseCommandLine(argv), readEnvironment(env));
  return { ...merged, config: resolveConfig(merged.options, merged.describe) };
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('listen on loopback: MQTT 1883, WebSocket 8083 /mqtt, embedded AMQP 5672, metrics off, in-memory store', () => {
    const config = resolveConfig({});
    expect(config.mqtt).toEqual({ host: '127.0.0.1', port: 1883, tls: undefined });
    expect(config.ws).toEqual({ host: '127.0.0.1', port: 8083, tls: undefined, path: '/mqtt' });
    expect(config.amqp).toEqual({
      kind: 'embedded',
      listen: { host: '127.0.0.1', port: 5672 },
      tls: undefined,
      store: undefined,
    });
    expect(config.metrics).toBeUndefined();
    expect(config.auth).toBe('none');
    expect(config.shutdownTimeout).toBe(10_000);
    expect(config.logLevel).toBe('info');
  });
});

describe('authorization, tenants and limits', () => {
  it('default to no ACL, no tenants and the documented limits', () => {
    const config = resolveConfig({});
    expect(config.acl).toBeUndefined();
    expect(config.tenantFrom).toBe('none');
    expect(config.limits).toMatchObject({
      maxConnectionsPerAddress: 1_000,
      connectRate: 2_000,
      connectRatePerAddress: 500,
      connectTimeout: 10_000,
      maxRetained: 10_000,
      maxSubscriptions: 100,
      maxTopicLength: 1_024,
      maxTopicLevels: 32,
    });
  });

  it('read from strings (flags, variables) and refuse bad values naming the option', () => {
    const config = resolveConfig({
      tenantFrom: 'username-prefix',
      connectRate: '0',
      maxTopicLevels: '4',
    } as never);
    expect(config.tenantFrom).toBe('username-prefix');
    expect(config.limits.connectRate).toBe(0);
    expect(config.limits.maxTopicLevels).toBe(4);
    expect(configError(() => resolveConfig({ tenantFrom: 'realm' as never })).option).toBe('tenantFrom');
    expect(configError(() => resolveConfig({ connectTimeout: 10 })).option).toBe('connectTimeout');
    expect(configError(() => resolveConfig({ maxSubscriptions: 0 })).option).toBe('maxSubscriptions');
  });

  it("bounds V8's young generation at 16 MiB per semi-space unless told otherwise: 0 or a power of two", () => {
    expect(resolveConfig({}).maxSemiSpace).toBe(16);
    expect(settings(['--max-semi-space', '8']).config.maxSemiSpace).toBe(8);
    expect(settings([], { DRAGOMAN_MAX_SEMI_SPACE: '0' }).config.maxSemiSpace).toBe(0);
    const error = configError(() => settings(['--max-semi-space', '3']));
    expect(error.message).toMatch(/--max-semi-space '3': expected 0 or a power of two/);
  });

  it("lets V8's old generation grow 50 % past its live size unless told otherwise: 0 or 10–300", () => {
    expect(resolveConfig({}).heapGrowth).toBe(50);
    expect(settings(['--heap-growth', '25']).config.heapGrowth).toBe(25);
    expect(settings([], { DRAGOMAN_HEAP_GROWTH: '0' }).config.heapGrowth).toBe(0);
    const error = configError(() => settings(['--heap-growth', '5']));
    expect(error.message).toMatch(/--heap-growth '5': expected 0 or a percentage from 10 to 300/);
    expect(configError(() => resolveConfig({ heapGrowth: 301 })).option).toBe('heapGrowth');
  });
});

describe('precedence: flags > environment > file > defaults', () => {
  it('takes each value from the strongest source that has it', () => {
    const file = configFile({
      mqtt: '127.0.0.1:1001',
      ws: '127.0.0.1:1002',
      metrics: '127.0.0.1:1003',
      maxInflight: 7,
    });
    const { config } = settings(['--config', file, '--mqtt', '127.0.0.1:3001'], {
      DRAGOMAN_MQTT: '127.0.0.1:2001',
      DRAGOMAN_WS: '127.0.0.1:2002',
    });
    expect(config.mqtt?.port).toBe(3001); // flag over env and file
    expect(config.ws?.port).toBe(2002); // env over file
    expect(config.metrics?.port).toBe(1003); // file over default
    expect(config.limits.maxInflight).toBe(7);
    expect(config.amqp.kind === 'embedded' && config.amqp.listen.port).toBe(5672); // default
  });

  it('reads the config file named by DRAGOMAN_CONFIG, the flag winning over it', () => {
    const a = configFile({ logLevel: 'debug' });
    const b = configFile({ logLevel: 'warn' });
    expect(settings([], { DRAGOMAN_CONFIG: a }).config.logLevel).toBe('debug');
    expect(settings(['--config', b], { DRAGOMAN_CONFIG: a }).config.logLevel).toBe('warn');
  });

  it('names the source of a bad value: flag, variable or file key', () => {
    expect(configError(() => settings(['--max-inflight', '0'])).message).toMatch(/^--max-inflight '0'/);
    expect(configError(() => settings([], { DRAGOMAN_MAX_INFLIGHT: 'x' })).message).toMatch(
      /^DRAGOMAN_MAX_INFLIGHT 'x'/,
    );
    const file = configFile({ maxInflight: 1e6 });
    expect(configError(() => settings(['--config', file])).message).toContain(
      `${file}: maxInflight '1000000'`,
    );
  });
});

describe('every option has a flag, a variable and a file key', () => {
  it('is consistent across the table', () => {
    for (const spec of OPTION_SPECS) {
      expect(spec.env).toBe(`DRAGOMAN_${spec.flag.toUpperCase().replaceAll('-', '_')}`);
      expect(spec.flag).toBe(spec.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
    }
  });
});

describe('values', () => {
  it.each([
    ['127.0.0.1:1883', { host: '127.0.0.1', port: 1883 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['localhost:8883', { host: 'localhost', port: 8883 }],
    ['[::1]:1883', { host: '::1', port: 1883 }],
  ])('HOST:PORT %s', (text, expected) => {
    expect(resolveConfig({ mqtt: text }).mqtt).toMatchObject(expected);
  });

  it.each([
    '1883',
    'localhost',
    ':1883',
    '127.0.0.1:65536',
    '127.0.0.1:-1',
    'a b:1',
    '[localhost]:1',
    '::1:1883',
  ])('rejects HOST:PORT %s', (text) => {
    expect(configError(() => resolveConfig({ mqtt: text })).message).toMatch(
      /^mqtt '.*': .*expected HOST:PORT/,
    );
  });

  it('off disables a listener, but not both MQTT listeners', () => {
    expect(resolveConfig({ ws: 'off' }).ws).toBeUndefined();
    expect(configError(() => resolveConfig({ ws: 'off', mqtt: 'off' })).message).toMatch(/both off/);
  });

  it.each(['amqp//x', 'not a url', 'amqp://', 'http://broker:5672'])('rejects AMQP URL %s', (url) => {
    expect(() => resolveConfig({ amqp: url })).toThrow(ConfigError);
  });

  it('an external network excludes the embedded backend settings', () => {
    expect(resolveConfig({ amqp: 'amqps://u:p@broker:5671' }).amqp).toEqual({
      kind: 'external',
      url: 'amqps://u:p@broker:5671',
      ca: undefined,
      identity: 'gateway',
    });
    expect(configError(() => resolveConfig({ amqp: 'amqp://b', store: '/tmp/x' })).message).toMatch(
      /embedded backend/,
    );
    expect(configError(() => resolveConfig({ amqpCa: '/ca.pem' })).message).toMatch(/needs amqp/);
  });

  it('dialects', () => {
    expect(resolveConfig({}).dialect).toBe('enmasse');
    expect(resolveConfig({ dialect: 'rabbitmq-v1' }).dialect).toBe('rabbitmq-v1');
    expect(() => resolveConfig({ dialect: 'kafka' as 'hono' })).toThrow(
      /dialect 'kafka': expected one of enmasse/,
    );
  });

  it('a certificate needs its key', () => {
    expect(configError(() => resolveConfig({ mqttCert: 'c.pem' })).message).toBe(
      'mqttCert needs mqttKey too',
    );
  });

  it('authentication modes', () => {
    expect(resolveConfig({ users: 'u.json' }).auth).toBe('users');
    expect(configError(() => resolveConfig({ auth: 'users' })).message).toMatch(/needs users FILE/);
    expect(configError(() => resolveConfig({ auth: 'pass-through' })).message).toMatch(
      /embedded backend needs users/,
    );
    expect(resolveConfig({ auth: 'pass-through', amqp: 'amqp://broker' }).auth).toBe('pass-through');
    expect(() => resolveConfig({ auth: 'ldap' as 'none' })).toThrow(
      /expected one of none, users, pass-through/,
    );
  });

  it('unknown keys and environment variables are errors, not silently ignored', () => {
    expect(configError(() => resolveConfig({ mqttPort: 1 } as never)).message).toBe(
      "unknown option 'mqttPort'",
    );
    expect(configError(() => readEnvironment({ DRAGOMAN_MQT: 'x' })).message).toMatch(
      /unknown environment variable DRAGOMAN_MQT/,
    );
    expect(configError(() => settings(['--config', configFile({ mqtt_port: 1 })])).message).toMatch(
      /unknown setting 'mqtt_port'/,
    );
    expect(configError(() => settings(['--config', configFile({ mqtt: 1883 })])).message).toMatch(
      /must be a string/,
    );
    expect(configError(() => settings(['--config', configFile([1])])).message).toMatch(
      /expected a JSON object/,
    );
  });

  it('command line: missing value, unexpected argument', () => {
    expect(configError(() => parseCommandLine(['--mqtt'])).message).toMatch(/--mqtt/);
    expect(parseCommandLine(['hash-password']).positionals).toEqual(['hash-password']);
  });
});

describe('users file', () => {
  it('stores scrypt hashes that verify the right password only', async () => {
    const entry = await hashPassword('s3cret');
    expect(entry).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(entry).not.toContain('s3cret');
    expect(await verifyPassword('s3cret', entry)).toBe(true);
    expect(await verifyPassword('s3cret!', entry)).toBe(false);
    const users = loadUsers(configFile({ alice: entry }));
    expect(await users.verify('alice', 's3cret')).toBe(true);
    expect(await users.verify('alice', 'nope')).toBe(false);
    expect(await users.verify('bob', 's3cret')).toBe(false);
    expect(await users.verify(undefined, undefined)).toBe(false);
  });

  it('refuses plain passwords and hashes asking for too much memory', () => {
    expect(configError(() => loadUsers(configFile({ alice: 'password' }))).message).toMatch(
      /user 'alice' has no valid scrypt hash/,
    );
    const greedy = `scrypt$${2 ** 24}$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
    expect(() => loadUsers(configFile({ alice: greedy }))).toThrow(ConfigError);
    expect(configError(() => loadUsers(join(dir, 'missing.json'))).message).toMatch(
      /cannot read the file \(ENOENT\)/,
    );
  });
});

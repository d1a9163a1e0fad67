/**
 * The security settings of this version — device certificates, the authentication module, users-file tenants,
 * the per-tenant quota and the gateway's own AMQP certificate — from flags, variables and the file: defaults,
 * and the combinations that are refused with a ConfigError naming the setting.
 */
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  type GatewayOptions,
  mergeSettings,
  parseCommandLine,
  readEnvironment,
  resolveConfig,
} from '../src/index';

const tls = { mqttCert: '/c.pem', mqttKey: '/k.pem', ws: 'off' } as const;

function configError(options: GatewayOptions): ConfigError {
  try {
    resolveConfig(options);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('device certificates', () => {
  it('are off by default; a CA makes them required, identified by the subject CN', () => {
    expect(resolveConfig({}).clientCert).toBeUndefined();
    expect(resolveConfig({ ...tls, clientCa: '/ca.pem' }).clientCert).toEqual({
      mode: 'require',
      ca: '/ca.pem',
      identity: 'cn',
    });
    expect(
      resolveConfig({ ...tls, clientCa: '/ca.pem', clientCert: 'request', certIdentity: 'dn' }).clientCert,
    ).toEqual({ mode: 'request', ca: '/ca.pem', identity: 'dn' });
  });

  it('come from flags and DRAGOMAN_* variables', () => {
    const merged = mergeSettings(
      parseCommandLine([
        '--mqtt-cert',
        '/c.pem',
        '--mqtt-key',
        '/k.pem',
        '--ws',
        'off',
        '--client-ca',
        '/ca.pem',
      ]),
      readEnvironment({ DRAGOMAN_CLIENT_CERT: 'request', DRAGOMAN_CERT_IDENTITY: 'dn' }),
    );
    expect(resolveConfig(merged.options, merged.describe).clientCert).toEqual({
      mode: 'request',
      ca: '/ca.pem',
      identity: 'dn',
    });
  });

  it('refuse what cannot work', () => {
    expect(configError({ ...tls, clientCert: 'require' }).option).toBe('clientCa');
    expect(configError({ ...tls, clientCa: '/ca.pem', clientCert: 'none' }).option).toBe('clientCert');
    expect(configError({ ...tls, clientCa: '/ca.pem', certIdentity: 'email' as never }).option).toBe(
      'certIdentity',
    );
    // No TLS listener at all: nobody could present a certificate.
    expect(configError({ ws: 'off', clientCa: '/ca.pem' }).message).toMatch(/needs a TLS listener/);
    // Required, but the WebSocket listener is plain: clients would go around it.
    expect(configError({ mqttCert: '/c.pem', mqttKey: '/k.pem', clientCa: '/ca.pem' }).option).toBe('ws');
    // Only requested: a plain listener beside it is fine.
    expect(
      resolveConfig({ mqttCert: '/c.pem', mqttKey: '/k.pem', clientCa: '/ca.pem', clientCert: 'request' })
        .clientCert?.mode,
    ).toBe('request');
  });
});

describe('tenants and quotas', () => {
  it('users-file tenants need a users file; the quota is off by default and needs tenants', () => {
    expect(resolveConfig({}).limits.maxConnectionsPerTenant).toBe(0);
    expect(
      resolveConfig({ users: '/u.json', tenantFrom: 'users-file', maxConnectionsPerTenant: 50 }).limits
        .maxConnectionsPerTenant,
    ).toBe(50);
    expect(configError({ tenantFrom: 'users-file' }).option).toBe('users');
    expect(configError({ maxConnectionsPerTenant: 5 }).option).toBe('maxConnectionsPerTenant');
    expect(configError({ tenantFrom: 'username-prefix', maxConnectionsPerTenant: -1 }).option).toBe(
      'maxConnectionsPerTenant',
    );
  });
});

describe('authentication module and the AMQP client certificate', () => {
  it('come from flags and DRAGOMAN_* variables', () => {
    const merged = mergeSettings(
      parseCommandLine([
        '--auth-module',
        './auth.mjs',
        '--users',
        '/u.json',
        '--tenant-from',
        'users-file',
        '--amqp',
        'amqps://broker',
        '--amqp-cert',
        '/g.pem',
      ]),
      readEnvironment({ DRAGOMAN_AMQP_KEY: '/g-key.pem', DRAGOMAN_MAX_CONNECTIONS_PER_TENANT: '7' }),
    );
    const config = resolveConfig(merged.options, merged.describe);
    expect(config.authModule).toBe('./auth.mjs');
    expect(config.tenantFrom).toBe('users-file');
    expect(config.limits.maxConnectionsPerTenant).toBe(7);
    expect(config.amqp).toMatchObject({ tls: { cert: '/g.pem', key: '/g-key.pem' } });
  });

  it('authModule is a path; amqpCert needs amqps without credentials in the URL', () => {
    expect(resolveConfig({ authModule: './auth.mjs' }).authModule).toBe('./auth.mjs');
    expect(configError({ authModule: ' ' }).option).toBe('authModule');
    expect(
      resolveConfig({ amqp: 'amqps://broker', amqpCert: '/g.pem', amqpKey: '/g-key.pem' }).amqp,
    ).toMatchObject({ kind: 'external', tls: { cert: '/g.pem', key: '/g-key.pem' } });
    expect(configError({ amqp: 'amqp://broker', amqpCert: '/g.pem', amqpKey: '/k' }).option).toBe('amqpCert');
    expect(configError({ amqp: 'amqps://u:p@broker', amqpCert: '/g.pem', amqpKey: '/k' }).option).toBe(
      'amqp',
    );
    expect(configError({ amqpCert: '/g.pem', amqpKey: '/k' }).option).toBe('amqpCert');
  });
});

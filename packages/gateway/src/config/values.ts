/**
 * Parsers for single option values. Each returns the parsed value or throws a `ConfigError` that names the
 * option as the user spelled it (`name`).
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors';
import { isHeapGrowthPercent, MAX_HEAP_GROWTH_PERCENT, MIN_HEAP_GROWTH_PERCENT } from '../old-generation';
import type {
  AmqpIdentityMode,
  AuthMode,
  CertIdentityMode,
  ClientCertMode,
  GatewayDialect,
  HostPort,
  LogFormat,
  LogLevel,
  ReceiveMaximumPolicy,
  TenantMode,
} from '../types';
import { isSemiSpaceBound } from '../young-generation';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text', 'auto'];
export const DIALECTS: readonly GatewayDialect[] = [
  'enmasse',
  'hono',
  'azure',
  'artemis',
  'rabbitmq',
  'rabbitmq-v1',
];
export const AUTH_MODES: readonly AuthMode[] = ['none', 'users', 'pass-through'];
export const TENANT_MODES: readonly TenantMode[] = ['none', 'username-prefix', 'users-file'];
export const RECEIVE_MAXIMUM_POLICIES: readonly ReceiveMaximumPolicy[] = ['disconnect', 'pushback'];
export const AMQP_IDENTITY_MODES: readonly AmqpIdentityMode[] = ['gateway', 'device'];
export const CLIENT_CERT_MODES: readonly ClientCertMode[] = ['none', 'request', 'require'];
export const CERT_IDENTITY_MODES: readonly CertIdentityMode[] = ['cn', 'dn'];

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** `HOST:PORT`, `[IPv6]:PORT`; port 0 asks the OS for a free one. */
export function parseHostPort(name: string, value: string): HostPort {
  const bad = (why: string): ConfigError =>
    new ConfigError(`${name} '${value}': ${why} (expected HOST:PORT, e.g. 127.0.0.1:1883)`, { option: name });
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value.trim());
  if (match === null) throw bad('not a HOST:PORT');
  const host = match[1] ?? match[2] ?? '';
  if (host === '') throw bad('missing host');
  if (match[1] !== undefined && isIP(host) !== 6) throw bad('not an IPv6 address in brackets');
  if (match[1] === undefined && isIP(host) === 0 && !HOST_NAME.test(host)) throw bad('invalid host');
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port > 65_535) throw bad('port must be 0 to 65535');
  return { host, port };
}

/** A `HOST:PORT` listener address, or `off`. */
export function parseListener(name: string, value: string): HostPort | undefined {
  return value.trim().toLowerCase() === 'off' ? undefined : parseHostPort(name, value);
}

/** An `amqp://` or `amqps://` URL with a host. */
export function parseAmqpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `${name} '${redact(value)}': malformed URL (expected amqp://HOST:PORT or amqps://HOST:PORT)`,
      {
        option: name,
      },
    );
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    throw new ConfigError(
      `${name} '${redact(value)}': unsupported scheme '${url.protocol}' (use amqp: or amqps:)`,
      {
        option: name,
      },
    );
  }
  if (url.hostname === '')
    throw new ConfigError(`${name} '${redact(value)}': missing host`, { option: name });
  return value;
}

/** The URL without its password, for messages and logs. */
export function redact(value: string): string {
  try {
    const url = new URL(value);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** A whole number within [min, max]. */
export function parseInteger(name: string, value: string | number, min: number, max: number): number {
  const n = typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} '${value}': expected a whole number from ${min} to ${max}`, {
      option: name,
    });
  }
  return n;
}

/** 0 or a power of two (a size that V8 doubles). */
export function powerOfTwoOrZero(name: string, value: number): number {
  if (!isSemiSpaceBound(value)) {
    throw new ConfigError(`${name} '${value}': expected 0 or a power of two (1, 2, 4, 8, 16, …)`, {
      option: name,
    });
  }
  return value;
}

/** 0 (V8's own factor) or a percentage from 10 to 300 (`--heap-growth`). */
export function heapGrowthPercent(name: string, value: number): number {
  if (!isHeapGrowthPercent(value)) {
    throw new ConfigError(
      `${name} '${value}': expected 0 or a percentage from ${MIN_HEAP_GROWTH_PERCENT} to ${MAX_HEAP_GROWTH_PERCENT}`,
      { option: name },
    );
  }
  return value;
}

/** One of `choices`. */
export function parseChoice<T extends string>(name: string, value: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === value.trim().toLowerCase());
  if (found === undefined) {
    throw new ConfigError(`${name} '${value}': expected one of ${choices.join(', ')}`, { option: name });
  }
  return found;
}

/** An HTTP path starting with `/`. */
export function parsePath(name: string, value: string): string {
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(value)) {
    throw new ConfigError(`${name} '${value}': expected an HTTP path starting with / (e.g. /mqtt)`, {
      option: name,
    });
  }
  return value;
}

import { ConfigurationError } from '../errors';
import type { Dialect, DialectName } from '../types';
import { artemisDialect } from './artemis';
import { azureDialect } from './azure';
import { enmasseDialect } from './enmasse';
import { honoDialect } from './hono';
import { rabbitmqDialect } from './rabbitmq';

export const DIALECT_NAMES: readonly DialectName[] = Object.freeze([
  'enmasse',
  'hono',
  'azure',
  'artemis',
  'rabbitmq',
]);

const BUILT_IN: Readonly<Record<DialectName, () => Dialect>> = {
  enmasse: enmasseDialect,
  hono: honoDialect,
  azure: () => azureDialect(),
  artemis: artemisDialect,
  rabbitmq: () => rabbitmqDialect(),
};

const cache = new Map<DialectName, Dialect>();

/**
 * The dialect for a name (with its default options), or the given dialect itself; `enmasse` (the spec) when
 * undefined. Throws `ConfigurationError` for an unknown name.
 */
export function resolveDialect(dialect: DialectName | Dialect | undefined): Dialect {
  if (dialect === undefined) return resolveDialect('enmasse');
  if (typeof dialect !== 'string') return dialect;
  const factory = BUILT_IN[dialect];
  if (factory === undefined) {
    throw new ConfigurationError(
      'dialect',
      `unknown dialect '${String(dialect)}' (one of ${DIALECT_NAMES.join(', ')})`,
    );
  }
  let resolved = cache.get(dialect);
  if (resolved === undefined) {
    resolved = Object.freeze(factory());
    cache.set(dialect, resolved);
  }
  return resolved;
}

export { ARTEMIS_QOS_PROPERTY, ARTEMIS_RETAIN_PROPERTY, artemisDialect } from './artemis';
export { type AzureDialectOptions, azureDialect } from './azure';
export { ENMASSE_QOS_ANNOTATION, ENMASSE_RETAIN_ANNOTATION, enmasseDialect } from './enmasse';
export { HONO_RETAIN_ANNOTATION, honoDialect } from './hono';
export { RABBITMQ_ROUTING_KEY_ANNOTATION, type RabbitmqDialectOptions, rabbitmqDialect } from './rabbitmq';

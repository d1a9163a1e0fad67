/**
 * The load generator's clients (mqtt.js, mqtt-packet, rhea) call their `debug` loggers several times per
 * message even when nothing is enabled: each call gathers its arguments and reads `enabled`, 6–8 % of the
 * generator's CPU when it receives over AMQP. Imported first, this module makes `require('debug')` hand out
 * a do-nothing logger for every namespace that DEBUG does not enable when the logger is made, so the
 * generator measures its target rather than its own logging. DEBUG still works for what it names at start.
 */
import { createRequire } from 'node:module';

/** The parts of the `debug` package's factory this module uses. */
interface DebugFactory {
  (namespace: string): DebugLogger;
  enabled(namespace: string): boolean;
}

interface DebugLogger {
  (...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
  extend(namespace: string, delimiter?: string): DebugLogger;
}

/** A factory that answers `create` for enabled namespaces and a silent logger for the others. */
function quietFactory(create: DebugFactory): DebugFactory {
  const quiet = ((namespace: string): DebugLogger => {
    if (create.enabled(namespace)) return create(namespace);
    const silent = (() => {}) as unknown as DebugLogger;
    silent.enabled = false;
    silent.namespace = namespace;
    silent.extend = (suffix, delimiter = ':') => quiet(`${namespace}${delimiter}${suffix}`);
    return silent;
  }) as DebugFactory;
  // The rest of the package's API (enable, formatters, humanize, …) stays the package's own.
  return Object.assign(quiet, create, { enabled: create.enabled, debug: quiet, default: quiet });
}

const require = createRequire(import.meta.url);
const debugPath = require.resolve('debug');
require(debugPath);
const loaded = require.cache[debugPath];
if (loaded !== undefined) loaded.exports = quietFactory(loaded.exports as DebugFactory);

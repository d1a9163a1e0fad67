// @dragoman/gateway — the runnable composition behind the `dragoman` command: MQTT listeners (TCP, TLS,
// WebSocket), the MQTT ⇄ AMQP bridge, the embedded AMQP backend or an external network, configuration,
// logs, metrics, health and graceful shutdown.

export {
  CONFIG_ENV,
  CONFIG_FLAG,
  OPTION_SPECS,
  type OptionKey,
  type OptionKind,
  type OptionSpec,
} from './config/options';
export { DEFAULTS, type DescribeOption, resolveConfig } from './config/resolve';
export {
  type CommandLine,
  type EnvironmentSettings,
  type MergedSettings,
  mergeSettings,
  parseCommandLine,
  readConfigFile,
  readEnvironment,
} from './config/sources';
export { CONFIG_ERROR_EXIT_CODE, ConfigError } from './errors';
export { startGateway } from './gateway';
export { createLogger } from './logger';
export type { Direction, ErrorReason, Transport } from './metrics';
export type { ProcessStart } from './node-options';
export { limitOldGenerationGrowth, type OldGenerationGrowth } from './old-generation';
export type * from './types';
export {
  DEFAULT_SCRYPT,
  hashPassword,
  loadUsers,
  type ScryptParameters,
  UserDirectory,
  type UserEntry,
  verifyPassword,
} from './users';
export { limitYoungGeneration, type YoungGenerationLimit } from './young-generation';

/**
 * Where settings come from: command-line flags, `DRAGOMAN_*` environment variables and a JSON config file.
 * Precedence: flags > environment > file > defaults. Each value remembers its source, so an error names the
 * flag, variable or file key the user actually wrote.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, errorCode } from '../errors';
import type { GatewayOptions } from '../types';
import {
  CONFIG_ENV,
  CONFIG_FLAG,
  OPTION_SPECS,
  type OptionKey,
  SPEC_BY_ENV,
  SPEC_BY_FLAG,
  SPEC_BY_KEY,
} from './options';
import type { DescribeOption } from './resolve';

export interface CommandLine {
  /** Positional words (a subcommand such as `hash-password`). */
  readonly positionals: readonly string[];
  readonly help: boolean;
  readonly version: boolean;
  readonly config: string | undefined;
  readonly values: Partial<Record<OptionKey, string>>;
}

/** Parses argv (without node and the script) strictly: an unknown flag or a missing value is a `ConfigError`. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    [CONFIG_FLAG]: { type: 'string', short: 'c' },
  };
  for (const spec of OPTION_SPECS) options[spec.flag] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw toConfigError(error);
  }
  const values: Partial<Record<OptionKey, string>> = {};
  for (const [flag, value] of Object.entries(parsed.values)) {
    const spec = SPEC_BY_FLAG.get(flag);
    if (spec !== undefined && typeof value === 'string') values[spec.key] = value;
  }
  const config = parsed.values[CONFIG_FLAG];
  return {
    positionals: parsed.positionals,
    help: parsed.values.help === true,
    version: parsed.values.version === true,
    config: typeof config === 'string' ? config : undefined,
    values,
  };
}

function toConfigError(error: unknown): ConfigError {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^'\s]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    return new ConfigError(`unknown option ${option ?? message} (see dragoman --help)`, {
      option,
      cause: error,
    });
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--([a-z-]+)/.exec(message)?.[0];
    const text =
      flag !== undefined && message.includes('argument missing')
        ? `${flag} needs a value`
        : message.split('\n')[0];
    return new ConfigError(`${text} (see dragoman --help)`, { option: flag, cause: error });
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return new ConfigError(
      `unexpected argument${option !== undefined ? ` ${option}` : ''} (see dragoman --help)`,
      {
        cause: error,
      },
    );
  }
  return new ConfigError(message.split('\n')[0] ?? 'invalid arguments', { cause: error });
}

export interface EnvironmentSettings {
  readonly config: string | undefined;
  readonly values: Partial<Record<OptionKey, string>>;
}

/** Reads `DRAGOMAN_*` variables; an unknown one (a typo) is a `ConfigError`. Empty values count as unset. */
export function readEnvironment(env: NodeJS.ProcessEnv): EnvironmentSettings {
  const values: Partial<Record<OptionKey, string>> = {};
  let config: string | undefined;
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('DRAGOMAN_') || value === undefined || value === '') continue;
    if (name === CONFIG_ENV) {
      config = value;
      continue;
    }
    const spec = SPEC_BY_ENV.get(name);
    if (spec === undefined)
      throw new ConfigError(`unknown environment variable ${name} (see dragoman --help)`, { option: name });
    values[spec.key] = value;
  }
  return { config, values };
}

/** Reads a JSON config file: an object whose keys are option keys, values strings (or numbers for numbers). */
export function readConfigFile(
  path: string,
  name = CONFIG_FLAG,
): Partial<Record<OptionKey, string | number>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${name} ${path}: cannot read the file (${errorCode(error)})`, {
      option: name,
      cause: error,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${name} ${path}: not valid JSON (${why})`, { option: name, cause: error });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`${name} ${path}: expected a JSON object of settings`, { option: name });
  }
  const values: Partial<Record<OptionKey, string | number>> = {};
  for (const [key, value] of Object.entries(data)) {
    const spec = SPEC_BY_KEY.get(key);
    if (spec === undefined) throw new ConfigError(`${path}: unknown setting '${key}'`, { option: key });
    if (typeof value === 'string' || (spec.kind === 'integer' && typeof value === 'number')) {
      values[spec.key] = value;
    } else {
      const expected = spec.kind === 'integer' ? 'a number' : 'a string';
      throw new ConfigError(`${path}: setting '${key}' must be ${expected}`, { option: key });
    }
  }
  return values;
}

export interface MergedSettings {
  readonly options: GatewayOptions;
  readonly describe: DescribeOption;
}

/** Merges the three sources (flags > environment > file) and remembers where each value came from. */
export function mergeSettings(argv: CommandLine, env: EnvironmentSettings): MergedSettings {
  const configPath = argv.config ?? env.config;
  const configName = argv.config !== undefined ? `--${CONFIG_FLAG}` : CONFIG_ENV;
  const file = configPath !== undefined ? readConfigFile(configPath, configName) : {};
  const options: Record<string, string | number> = {};
  const origin = new Map<OptionKey, string>();
  for (const spec of OPTION_SPECS) {
    const flagValue = argv.values[spec.key];
    const envValue = env.values[spec.key];
    const fileValue = file[spec.key];
    if (flagValue !== undefined) {
      options[spec.key] = flagValue;
      origin.set(spec.key, `--${spec.flag}`);
    } else if (envValue !== undefined) {
      options[spec.key] = envValue;
      origin.set(spec.key, spec.env);
    } else if (fileValue !== undefined) {
      options[spec.key] = fileValue;
      origin.set(spec.key, `${configPath}: ${spec.key}`);
    }
  }
  return {
    options: options as GatewayOptions,
    describe: (key) => origin.get(key) ?? `--${SPEC_BY_KEY.get(key)?.flag ?? key}`,
  };
}

/**
 * Errors of the gateway composition.
 */

/** Exit code of the `dragoman` command for bad configuration. */
export const CONFIG_ERROR_EXIT_CODE = 2;

/**
 * A configuration the gateway cannot run with: an unknown option, a malformed value, an unreadable file, a port
 * already in use. `message` is one line meant for the operator; `option` names the setting (a flag, an
 * environment variable or a config file key, whichever the value came from) when there is one.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly option: string | undefined;
  /** What the `dragoman` command exits with for this error. */
  readonly exitCode = CONFIG_ERROR_EXIT_CODE;

  constructor(message: string, options: { option?: string; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.option = options.option;
  }
}

/** The error code (`ENOENT`, `EADDRINUSE`, …) of a system error, else its message. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}

import type { AdapterLogger } from './types';

const discard = (): void => undefined;

/** A logger that writes nothing: the default when the host gives none. */
export const noopLogger: AdapterLogger = Object.freeze({
  debug: discard,
  info: discard,
  warn: discard,
  error: discard,
  child: () => noopLogger,
});

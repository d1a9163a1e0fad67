/** How the process was started: the options given to Node on its command line and in NODE_OPTIONS. */
export interface ProcessStart {
  readonly execArgv: readonly string[];
  readonly nodeOptions: string | undefined;
}

/** This process's start. */
export function thisProcess(): ProcessStart {
  return { execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS };
}

/**
 * Whether Node was given V8 option `name` (`--max-semi-space-size`, say), with or without a value, spelt with
 * dashes or with underscores as V8 also reads it: the operator chose, and the gateway leaves the option alone.
 */
export function startedWith(name: string, started: ProcessStart): boolean {
  const spellings = [name, `--${name.slice(2).replaceAll('-', '_')}`];
  const given = (arg: string): boolean =>
    spellings.some((spelling) => arg === spelling || arg.startsWith(`${spelling}=`));
  return started.execArgv.some(given) || (started.nodeOptions ?? '').split(/\s+/).some(given);
}

/** Signals carry `Error`s: wrap anything else a source throws. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** §1.9 / §2.13: a null or undefined argument is a TypeError thrown to the caller. */
export function requireArgument<T>(value: T | null | undefined, rule: string, what: string): T {
  if (value === null || value === undefined) throw new TypeError(`${rule}: ${what} must not be null`);
  return value;
}

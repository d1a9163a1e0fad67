import type { AuthorizationDenial, AuthorizeRequest, Authorizer, DenialCause } from './types';

/** "Not authorized" (MQTT 5). */
export const NOT_AUTHORIZED = 0x87;

/** Allowed, or denied with a reason code and why. */
export type AuthorizationResult =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly reasonCode: number;
      readonly cause: DenialCause;
      readonly error?: unknown;
    };

const ALLOWED: AuthorizationResult = { allowed: true };

/**
 * Asks `authorizer`, bounded by `timeoutMs`: a hook that throws, rejects, answers something that is neither a
 * boolean nor a reason code, or does not answer in time denies (0x87). Never rejects.
 */
export async function decide(
  authorizer: Authorizer,
  request: AuthorizeRequest,
  timeoutMs: number,
): Promise<AuthorizationResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = authorizer(request);
    const decision =
      typeof answer === 'object' && answer !== null
        ? await Promise.race([
            answer,
            new Promise<'timeout'>((resolve) => {
              timer = setTimeout(() => resolve('timeout'), timeoutMs);
            }),
          ])
        : answer;
    if (decision === 'timeout') return { allowed: false, reasonCode: NOT_AUTHORIZED, cause: 'timeout' };
    if (decision === true) return ALLOWED;
    if (typeof decision === 'number' && Number.isInteger(decision) && decision >= 0 && decision <= 0xff) {
      return decision < 0x80 ? ALLOWED : { allowed: false, reasonCode: decision, cause: 'denied' };
    }
    if (decision === false) return { allowed: false, reasonCode: NOT_AUTHORIZED, cause: 'denied' };
    return {
      allowed: false,
      reasonCode: NOT_AUTHORIZED,
      cause: 'error',
      error: new TypeError(`the authorization hook answered ${String(decision)}`),
    };
  } catch (error) {
    return { allowed: false, reasonCode: NOT_AUTHORIZED, cause: 'error', error };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** The denial report for a result that is a denial. */
export function denialOf(
  request: AuthorizeRequest,
  result: Exclude<AuthorizationResult, { allowed: true }>,
): AuthorizationDenial {
  return {
    request,
    cause: result.cause,
    reasonCode: result.reasonCode,
    ...(result.error !== undefined ? { error: result.error } : {}),
  };
}

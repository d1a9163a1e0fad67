import { IllegalDemandError } from './errors';
import { type SubscriberErrorHandler, UNBOUNDED } from './types';

/**
 * Validates a `request(n)` argument (§3.9): returns the demand to add (saturated at UNBOUNDED, §3.17) or an
 * IllegalDemandError to signal.
 */
export function checkRequest(n: number): number | IllegalDemandError {
  if (n === Number.POSITIVE_INFINITY) return UNBOUNDED;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) return new IllegalDemandError(n);
  return Math.min(n, UNBOUNDED);
}

/** Adds demand, saturating at UNBOUNDED (§3.17). Unbounded demand stays unbounded. */
export function addDemand(current: number, n: number): number {
  if (current >= UNBOUNDED) return UNBOUNDED;
  return Math.min(current + n, UNBOUNDED);
}

/** Consumes one unit of demand; unbounded demand is never consumed. */
export function takeDemand(current: number): number {
  return current >= UNBOUNDED ? UNBOUNDED : current - 1;
}

/** Default report for §2.13 violations: a process warning, because throwing would crash the host. */
export const warnSubscriberError: SubscriberErrorHandler = (error) => {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)), 'SubscriberViolation');
};

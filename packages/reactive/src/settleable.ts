import type { Settleable } from './types';

/** True for elements that end with settlement (deliveries): their credit returns when they are settled. */
export function isSettleable(element: unknown): element is Settleable {
  if (typeof element !== 'object' || element === null || !('settled' in element)) return false;
  const settled = (element as { settled: unknown }).settled;
  return (
    typeof settled === 'object' &&
    settled !== null &&
    typeof (settled as PromiseLike<unknown>).then === 'function'
  );
}

/** Calls `release` once the element no longer holds its share of credit. */
export function whenDone(element: unknown, release: () => void): void {
  if (isSettleable(element)) {
    element.settled.then(release, release);
  } else {
    release();
  }
}

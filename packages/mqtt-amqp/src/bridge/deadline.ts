import { BridgeStepError } from './errors';

/**
 * Waits for `promise`, giving up after `timeoutMs` or when `signal` aborts. Used for every AMQP step of the
 * connect sequence so that a silent peer gives the client a CONNACK instead of a hang. The underlying
 * operation is not cancelled; the caller tears down its links, which ends it.
 */
export function withDeadline<T>(
  step: string,
  promise: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      promise.catch(() => {});
      reject(new BridgeStepError(step, 'aborted', { cause: signal.reason }));
      return;
    }
    const timer = setTimeout(() => {
      cleanup();
      reject(new BridgeStepError(step, 'timeout'));
    }, timeoutMs);
    const onAbort = (): void => {
      cleanup();
      reject(new BridgeStepError(step, 'aborted', { cause: signal.reason }));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}

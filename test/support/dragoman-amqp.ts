import type { Delivery, Receiver } from '@dragoman/amqp';
import { withTimeout } from './wait';

/** Receives exactly `count` deliveries (without settling them), failing after `timeoutMs` in total. */
export async function receiveDeliveries(
  receiver: Receiver,
  count: number,
  timeoutMs = 20_000,
): Promise<Delivery[]> {
  const signal = AbortSignal.timeout(timeoutMs);
  const deliveries: Delivery[] = [];
  while (deliveries.length < count) {
    let delivery: Delivery | undefined;
    try {
      delivery = await receiver.receive({ signal });
    } catch (error) {
      if (signal.aborted) {
        throw new Error(`timed out after ${timeoutMs} ms: got ${deliveries.length} of ${count} deliveries`);
      }
      throw error;
    }
    if (delivery === undefined)
      throw new Error(`receiver closed after ${deliveries.length} of ${count} deliveries`);
    deliveries.push(delivery);
  }
  return deliveries;
}

/** Every AMQP condition found on `error` and along its `cause` chain, outermost first. */
export function conditionsOf(error: unknown): string[] {
  const conditions: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    const condition = (current as { condition?: unknown }).condition;
    if (typeof condition === 'string') conditions.push(condition);
    current = (current as { cause?: unknown }).cause;
  }
  return conditions;
}

/** Resolves with the rejection reason of `promise`; fails if it fulfils or does not settle in time. */
export async function rejectionOf(promise: Promise<unknown>, timeoutMs = 20_000): Promise<unknown> {
  const settled = await withTimeout(
    promise.then(
      (value) => ({ fulfilled: true as const, value }),
      (error: unknown) => ({ fulfilled: false as const, error }),
    ),
    timeoutMs,
    'the promise to reject',
  );
  if (settled.fulfilled) throw new Error(`expected a rejection, got ${JSON.stringify(settled.value)}`);
  return settled.error;
}

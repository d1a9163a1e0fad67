import { ConfigurationError } from '../errors';
import type { BacklogPolicy, StoreLimits, StoreOptions } from '../types';

/** The limits' defaults: generous for a gateway, small enough that a misbehaving client cannot exhaust memory. */
export const DEFAULT_STORE_LIMITS: Readonly<Required<StoreLimits>> = Object.freeze({
  maxPayloadBytes: 1_048_576,
  maxRetained: 10_000,
  maxBacklogPerSession: 1_000,
  maxSessions: 100_000,
  maxSubscriptionsPerSession: 1_000,
  maxWills: 100_000,
});

export interface ResolvedStoreOptions extends Required<StoreLimits> {
  readonly backlogPolicy: BacklogPolicy;
  readonly queueQos0: boolean;
  readonly now: () => number;
}

/** Fills in defaults and checks every limit is a positive integer (`ConfigurationError` otherwise). */
export function resolveStoreOptions(options: StoreOptions = {}): ResolvedStoreOptions {
  const limits = { ...DEFAULT_STORE_LIMITS };
  for (const key of Object.keys(DEFAULT_STORE_LIMITS) as Array<keyof StoreLimits>) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigurationError(key, `${key} must be a positive integer, got ${String(value)}`);
    }
    limits[key] = value;
  }
  const backlogPolicy = options.backlogPolicy ?? 'drop-oldest';
  if (backlogPolicy !== 'drop-oldest' && backlogPolicy !== 'refuse') {
    throw new ConfigurationError('backlogPolicy', `backlogPolicy must be 'drop-oldest' or 'refuse'`);
  }
  return {
    ...limits,
    backlogPolicy,
    queueQos0: options.queueQos0 ?? false,
    now: options.now ?? Date.now,
  };
}

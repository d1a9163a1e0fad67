/**
 * Tenants of the gateway: how a client's tenant is derived from its identity (`--tenant-from`), and the open
 * connections each tenant holds (`--max-connections-per-tenant`).
 */
import { type TenantResolver, tenantFromUsernamePrefix } from '@dragoman/mqtt-amqp';
import type { TenantMode } from './types';
import type { UserDirectory } from './users';

/** The resolver for the bridge (and for counting), or undefined without tenants. */
export function tenantResolver(
  mode: TenantMode,
  users: UserDirectory | undefined,
): TenantResolver | undefined {
  if (mode === 'username-prefix') return tenantFromUsernamePrefix;
  if (mode === 'users-file') {
    return (identity) => {
      const tenant = users?.tenantOf(identity.username);
      if (tenant === undefined)
        throw new Error(`'${identity.username ?? ''}' has no tenant in the users file`);
      return tenant;
    };
  }
  return undefined;
}

/** Open connections per tenant, bounded by `max` (0: no bound); a tenant with none is forgotten. */
export class TenantConnections {
  readonly #open = new Map<string, number>();
  constructor(readonly max: number) {}

  /** Counts one more connection of `tenant`, or returns false when it already holds `max`. */
  tryAcquire(tenant: string): boolean {
    const open = this.#open.get(tenant) ?? 0;
    if (this.max > 0 && open >= this.max) return false;
    this.#open.set(tenant, open + 1);
    return true;
  }

  release(tenant: string): void {
    const open = this.#open.get(tenant) ?? 0;
    if (open <= 1) this.#open.delete(tenant);
    else this.#open.set(tenant, open - 1);
  }

  /** Open connections of `tenant`. */
  open(tenant: string): number {
    return this.#open.get(tenant) ?? 0;
  }
}

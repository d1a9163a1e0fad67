/**
 * Multi-tenancy: a tenant derived from each client's identity scopes every AMQP name the client touches, so
 * that tenants sharing one gateway and one AMQP network never see each other's messages, retained messages,
 * wills or sessions (README, "Tenants").
 */
import type { ClientIdentity } from './types';

/** Derives a client's tenant from its identity. Throwing (or an invalid name) refuses the CONNECT. */
export type TenantResolver = (identity: ClientIdentity) => string;

/** Characters a tenant name may not contain: topic separators and wildcards, `$`, the `:` of client ids. */
const TENANT_FORBIDDEN = /[/+#:$\s]/;

/** A tenant name is non-empty, at most 64 characters, without `/ + # : $`, white space or NUL. */
export function isValidTenant(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= 64 &&
    !TENANT_FORBIDDEN.test(name) &&
    !name.includes('\u0000')
  );
}

/**
 * `tenantFrom: 'username-prefix'`: the user name is `<tenant>/<user>`; the tenant is the part before the first
 * `/`. A client without a user name, or with one without `/`, has no tenant and is refused.
 */
export const tenantFromUsernamePrefix: TenantResolver = (identity) => {
  const username = identity.username;
  const slash = username?.indexOf('/') ?? -1;
  if (username === undefined || slash <= 0 || slash === username.length - 1) {
    throw new Error(`user name must be <tenant>/<user>, got '${username ?? ''}'`);
  }
  return username.slice(0, slash);
};

/**
 * How one client's names are scoped on AMQP. Without a tenant everything is unchanged. With tenant `A`:
 * client id `c` → `A:c` (registry, link names, service requests, per-client addresses), topic `t` → `A/t`,
 * filter `f` → `A/f` (so `#` becomes `A/#` and never leaves the tenant), shared `$share/g/f` →
 * `$share/A:g/A/f`; topics delivered to the client lose their `A/`.
 */
export class TenantScope {
  readonly tenant: string | undefined;
  private readonly prefix: string;

  constructor(tenant: string | undefined) {
    this.tenant = tenant;
    this.prefix = tenant === undefined ? '' : `${tenant}/`;
  }

  clientId(clientId: string): string {
    return this.tenant === undefined ? clientId : `${this.tenant}:${clientId}`;
  }

  topic(topic: string): string {
    return this.prefix + topic;
  }

  /** A subscription filter as the client sent it (`$share/<group>/<filter>` or `<filter>`), parsed. */
  filter(filter: string, group: string | undefined): string {
    if (this.tenant === undefined) return group === undefined ? filter : `$share/${group}/${filter}`;
    return group === undefined
      ? this.prefix + filter
      : `$share/${this.tenant}:${group}/${this.prefix}${filter}`;
  }

  /** The topic the client sees for an AMQP topic; undefined when it is not in the tenant. */
  unscope(topic: string): string | undefined {
    if (this.tenant === undefined) return topic;
    return topic.startsWith(this.prefix) ? topic.slice(this.prefix.length) : undefined;
  }
}

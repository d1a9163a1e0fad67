/** Tenant names, the user-name-prefix resolver and how a scope rewrites names. */
import { describe, expect, it } from 'vitest';
import { isValidTenant, TenantScope, tenantFromUsernamePrefix } from '../../src/authz/tenants';

describe('tenants', () => {
  it('accepts plain names and refuses separators, wildcards, $, : and empty names', () => {
    expect(isValidTenant('acme-1')).toBe(true);
    for (const bad of ['', 'a/b', 'a+', '#', '$x', 'a:b', 'a b', 'x'.repeat(65), 42]) {
      expect(isValidTenant(bad)).toBe(false);
    }
  });

  it('derives the tenant from <tenant>/<user>', () => {
    expect(tenantFromUsernamePrefix({ clientId: 'c', username: 'acme/alice' })).toBe('acme');
    expect(tenantFromUsernamePrefix({ clientId: 'c', username: 'acme/a/b' })).toBe('acme');
    for (const username of [undefined, 'alice', '/alice', 'acme/']) {
      expect(() => tenantFromUsernamePrefix({ clientId: 'c', username })).toThrow(/tenant/);
    }
  });

  it('scopes client ids, topics and filters, and strips the prefix on the way back', () => {
    const scope = new TenantScope('A');
    expect(scope.clientId('dev')).toBe('A:dev');
    expect(scope.topic('t/x')).toBe('A/t/x');
    expect(scope.filter('#', undefined)).toBe('A/#');
    expect(scope.filter('+/x', undefined)).toBe('A/+/x');
    expect(scope.filter('s/#', 'g')).toBe('$share/A:g/A/s/#');
    expect(scope.unscope('A/t/x')).toBe('t/x');
    expect(scope.unscope('B/t/x')).toBeUndefined();
    const none = new TenantScope(undefined);
    expect([none.clientId('dev'), none.topic('t'), none.unscope('t')]).toEqual(['dev', 't', 't']);
  });
});

/** The ACL file format and its matching rules (the pieces the end-to-end tests build on). */
import { describe, expect, it } from 'vitest';
import { aclAuthorizer, covers, isAllowed, parseAcl } from '../../src/authz/acl';
import { decide } from '../../src/authz/decide';
import { AclSyntaxError } from '../../src/authz/errors';
import type { AuthorizeRequest } from '../../src/authz/types';

function request(
  action: 'publish' | 'subscribe',
  topic: string,
  username?: string,
  clientId = 'c',
): AuthorizeRequest {
  return { identity: { clientId, username }, action, topic, qos: 1, retain: false };
}

describe('covers', () => {
  it.each([
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/#', 'a/+/c', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/+', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a/b/c', false],
    ['a/b', 'a/+', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['#', 'anything/at/all', true],
  ])('rule %s covers %s: %s', (rule, filter, expected) => {
    expect(covers(rule, filter)).toBe(expected);
  });
});

describe('parseAcl', () => {
  it('reads users, topics, patterns, comments and the default access', () => {
    const acl = parseAcl('# c\n\ntopic read pub/#\nuser alice\ntopic alice/#\npattern write d/%u/%c\n');
    expect(acl.anonymous).toEqual([{ access: 'read', filter: 'pub/#' }]);
    expect(acl.users.get('alice')).toEqual([{ access: 'readwrite', filter: 'alice/#' }]);
    expect(acl.patterns).toEqual([{ access: 'write', filter: 'd/%u/%c' }]);
  });

  it.each([
    ['frobnicate a', 1],
    ['topic read a/#/b', 1],
    ['user alice\ntopic read a+', 2],
    ['user', 1],
  ])('rejects %j naming line %i', (text, line) => {
    let caught: unknown;
    try {
      parseAcl(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AclSyntaxError);
    expect((caught as AclSyntaxError).line).toBe(line);
  });
});

describe('isAllowed', () => {
  const acl = parseAcl('topic read pub/#\nuser alice\ntopic write alice/#\npattern readwrite d/%u/%c/#\n');

  it('separates read and write, anonymous and named users', () => {
    expect(isAllowed(acl, request('subscribe', 'pub/x'))).toBe(true);
    expect(isAllowed(acl, request('publish', 'pub/x'))).toBe(false);
    expect(isAllowed(acl, request('subscribe', 'pub/x', 'alice'))).toBe(false);
    expect(isAllowed(acl, request('publish', 'alice/x', 'alice'))).toBe(true);
    expect(isAllowed(acl, request('subscribe', 'alice/x', 'alice'))).toBe(false);
  });

  it('does not apply a pattern whose substitution is missing or would widen it', () => {
    expect(isAllowed(acl, request('publish', 'd/bob/c/t', 'bob', 'c'))).toBe(true);
    expect(isAllowed(acl, request('publish', 'd/bob/c/t', undefined, 'c'))).toBe(false);
    expect(isAllowed(acl, request('subscribe', 'd/+/c/#', '+', 'c'))).toBe(false);
    expect(isAllowed(acl, request('publish', 'd/a/b/c/t', 'a/b', 'c'))).toBe(false);
    expect(isAllowed(acl, request('subscribe', 'd/#', '#', '#'))).toBe(false);
  });
});

describe('decide', () => {
  const req = request('publish', 't');
  it('maps answers to allow / deny', async () => {
    expect(await decide(() => true, req, 1_000)).toEqual({ allowed: true });
    expect(await decide(() => 0, req, 1_000)).toEqual({ allowed: true });
    expect(await decide(() => false, req, 1_000)).toMatchObject({ allowed: false, reasonCode: 0x87 });
    expect(await decide(() => 0x97, req, 1_000)).toMatchObject({ allowed: false, reasonCode: 0x97 });
    expect(await decide(() => 'yes' as unknown as boolean, req, 1_000)).toMatchObject({ cause: 'error' });
    expect(await decide(aclAuthorizer(acl()), req, 1_000)).toMatchObject({ allowed: false });
  });
});

function acl() {
  return parseAcl('');
}

describe('isAllowed with tenants', () => {
  it('reads %u without the tenant prefix and user lines with it', () => {
    const acl = parseAcl('user A/admin\ntopic readwrite #\npattern write d/%u/#\n');
    const identity = (username: string) => ({ clientId: 'c', username, tenant: 'A' });
    const req = (username: string, topic: string): AuthorizeRequest => ({
      identity: identity(username),
      action: 'publish',
      topic,
      qos: 0,
      retain: false,
    });
    expect(isAllowed(acl, req('A/bob', 'd/bob/x'))).toBe(true);
    expect(isAllowed(acl, req('A/bob', 'd/A/bob/x'))).toBe(false);
    expect(isAllowed(acl, req('A/admin', 'any/thing'))).toBe(true);
  });
});

/**
 * A rule file for the authorization hook, in the spirit of mosquitto's `acl_file`. Allow-list semantics:
 * a request is allowed when at least one rule that applies to the client grants the access and its filter
 * covers the topic; everything else is denied. The format (documented in the README, "Authorization"):
 *
 * ```
 * # comment; blank lines are ignored
 * topic read sensors/#          # before any `user` line: clients without a user name
 * user alice                    # the `topic` lines that follow are alice's
 * topic readwrite alice/#
 * pattern write devices/%u/%c/# # every client; %u = user name, %c = client id
 * ```
 *
 * The access word may be left out (`topic <filter>` = readwrite). Publishing needs `write` and a filter
 * matching the topic name; subscribing needs `read` and a filter covering every topic the subscription
 * filter can match (rule `a/#` covers `a/+/b`, rule `a/+` does not cover `a/#`). A rule starting with a
 * wildcard does not cover `$` topics (the MQTT matching rule). A `pattern` whose `%u` or `%c` would be
 * replaced by an empty value or one containing `/`, `+` or `#` does not apply, so an identity cannot widen
 * its own rules. With tenants, `user` lines name the whole user name (`A/alice`), `%u` is the user name
 * without its `<tenant>/` prefix, and every filter is read inside the client's tenant.
 */
import { AclSyntaxError } from './errors';
import type { AuthorizeRequest, Authorizer } from './types';

export type AclAccess = 'read' | 'write' | 'readwrite';

export interface AclRule {
  readonly access: AclAccess;
  readonly filter: string;
}

/** A parsed ACL file. */
export interface Acl {
  /** `topic` lines before any `user` line: clients without a user name. */
  readonly anonymous: readonly AclRule[];
  /** `topic` lines after `user <name>`. */
  readonly users: ReadonlyMap<string, readonly AclRule[]>;
  /** `pattern` lines, for every client, with `%u` / `%c` substituted. */
  readonly patterns: readonly AclRule[];
}

const ACCESS_WORDS: ReadonlySet<string> = new Set(['read', 'write', 'readwrite']);

/** Reads the text of an ACL file. Throws `AclSyntaxError` naming the first bad line. */
export function parseAcl(text: string): Acl {
  const anonymous: AclRule[] = [];
  const users = new Map<string, AclRule[]>();
  const patterns: AclRule[] = [];
  let current: AclRule[] = anonymous;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const line = (lines[index] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const [keyword = '', ...rest] = line.split(/\s+/);
    if (keyword === 'user') {
      const name = line.slice(keyword.length).trim();
      if (name === '') throw new AclSyntaxError(lineNumber, '`user` needs a user name');
      current = users.get(name) ?? [];
      users.set(name, current);
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      throw new AclSyntaxError(lineNumber, `expected 'user', 'topic' or 'pattern', got '${keyword}'`);
    }
    let access: AclAccess = 'readwrite';
    let filterWords = rest;
    if (rest.length > 1 && ACCESS_WORDS.has(rest[0] ?? '')) {
      access = rest[0] as AclAccess;
      filterWords = rest.slice(1);
    }
    const filter = filterWords.join(' ');
    const problem = filterProblem(filter);
    if (problem !== undefined) throw new AclSyntaxError(lineNumber, problem);
    (keyword === 'topic' ? current : patterns).push({ access, filter });
  }
  return { anonymous, users, patterns };
}

function filterProblem(filter: string): string | undefined {
  if (filter === '') return 'a rule needs a topic filter';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `'#' must be a whole level and the last one: '${filter}'`;
    }
    if (level.includes('+') && level !== '+') return `'+' must be a whole level: '${filter}'`;
  }
  return undefined;
}

/** An `Authorizer` over a parsed ACL (synchronous, no I/O). */
export function aclAuthorizer(acl: Acl): Authorizer {
  return (request) => isAllowed(acl, request);
}

/** Whether the ACL allows `request` (see the module comment for the rules). */
export function isAllowed(acl: Acl, request: AuthorizeRequest): boolean {
  const need = request.action === 'publish' ? 'write' : 'read';
  const { username, clientId } = request.identity;
  const own = username === undefined ? acl.anonymous : (acl.users.get(username) ?? []);
  for (const rule of own) {
    if (grants(rule.access, need) && covers(rule.filter, request.topic)) return true;
  }
  const tenant = request.identity.tenant;
  // With `<tenant>/<user>` user names, %u is the user within the tenant (the topics are the tenant's too).
  const patternUser =
    tenant !== undefined && username?.startsWith(`${tenant}/`) ? username.slice(tenant.length + 1) : username;
  for (const rule of acl.patterns) {
    if (!grants(rule.access, need)) continue;
    const filter = substitute(rule.filter, patternUser, clientId);
    if (filter !== undefined && covers(filter, request.topic)) return true;
  }
  return false;
}

function grants(access: AclAccess, need: 'read' | 'write'): boolean {
  return access === 'readwrite' || access === need;
}

/** `%u` / `%c` replaced; undefined when a value is missing or could widen the filter. */
function substitute(filter: string, username: string | undefined, clientId: string): string | undefined {
  let out = filter;
  if (out.includes('%u')) {
    if (!safeLevelValue(username)) return undefined;
    out = out.replaceAll('%u', username);
  }
  if (out.includes('%c')) {
    if (!safeLevelValue(clientId)) return undefined;
    out = out.replaceAll('%c', clientId);
  }
  return out;
}

function safeLevelValue(value: string | undefined): value is string {
  return value !== undefined && value !== '' && !/[/+#]/.test(value);
}

/**
 * Whether every topic `filter` can match is matched by `rule` (for a topic name: whether `rule` matches it).
 * Exported for tests.
 */
export function covers(rule: string, filter: string): boolean {
  const ruleLevels = rule.split('/');
  const levels = filter.split('/');
  const dollar = filter.startsWith('$');
  for (let i = 0; i < ruleLevels.length; i++) {
    const r = ruleLevels[i] as string;
    if (r === '#') return !(i === 0 && dollar);
    if (i >= levels.length) return false;
    const f = levels[i] as string;
    if (r === '+') {
      if (f === '#' || (i === 0 && dollar)) return false;
      continue;
    }
    if (f !== r) return false;
  }
  return levels.length === ruleLevels.length;
}

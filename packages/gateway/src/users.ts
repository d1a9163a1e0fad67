/**
 * The users file: a JSON object from user name to an scrypt hash (`scrypt$N$r$p$salt$hash`, base64 salt and
 * hash), or to an object `{ "hash": "scrypt$…", "tenant": "acme" }` (both fields optional: an entry without a
 * hash cannot log in with a password, only name the tenant of a certificate or hook identity). Plain
 * passwords are never stored; `hashPassword` makes the entries (`dragoman hash-password`).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isValidTenant } from '@dragoman/mqtt-amqp';
import { ConfigError, errorCode } from './errors';

export interface ScryptParameters {
  /** CPU/memory cost, a power of two. Default 16 384. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParameters = { N: 16_384, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Bounds on what a users file may ask for, so a hostile file cannot make one login cost gigabytes. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

interface ParsedHash extends ScryptParameters {
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function derive(password: string, salt: Buffer, params: ScryptParameters, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const maxmem = 128 * params.N * params.r * 2 + 1024 * 1024;
    scrypt(password, salt, length, { N: params.N, r: params.r, p: params.p, maxmem }, (error, key) =>
      error === null ? resolve(key) : reject(error),
    );
  });
}

/** An entry for the users file: `scrypt$16384$8$1$<salt>$<hash>`. */
export async function hashPassword(
  password: string,
  params: ScryptParameters = DEFAULT_SCRYPT,
): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const hash = await derive(password, salt, params, KEY_LENGTH);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function parseHash(text: string): ParsedHash | undefined {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const hash = Buffer.from(parts[5] ?? '', 'base64');
  const powerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N) return undefined;
  if (!Number.isInteger(r) || r < 1 || r > MAX_R || !Number.isInteger(p) || p < 1 || p > MAX_P)
    return undefined;
  if (salt.length < 8 || hash.length < 16) return undefined;
  return { N, r, p, salt, hash };
}

/** Checks a password against an entry made by `hashPassword`. */
export async function verifyPassword(password: string, entry: string): Promise<boolean> {
  const parsed = parseHash(entry);
  if (parsed === undefined) return false;
  const key = await derive(password, parsed.salt, parsed, parsed.hash.length);
  return timingSafeEqual(key, parsed.hash);
}

/** One user of the users file. */
export interface UserEntry {
  /** scrypt hash; undefined: no password login. */
  readonly hash?: string | undefined;
  readonly tenant?: string | undefined;
}

/** The users of a users file. */
export class UserDirectory {
  readonly #entries: ReadonlyMap<string, UserEntry>;
  readonly #decoy: Promise<string>;

  /** Entries by user name: an scrypt hash, or a `UserEntry`. */
  constructor(entries: ReadonlyMap<string, string | UserEntry>) {
    this.#entries = new Map(
      [...entries].map(([name, entry]) => [name, typeof entry === 'string' ? { hash: entry } : entry]),
    );
    // Unknown names are checked against a decoy, so the time taken does not tell which names exist.
    this.#decoy = hashPassword(randomBytes(16).toString('hex'));
  }

  get size(): number {
    return this.#entries.size;
  }

  async verify(username: string | undefined, password: string | undefined): Promise<boolean> {
    if (username === undefined || password === undefined) return false;
    const entry = this.#entries.get(username)?.hash;
    const ok = await verifyPassword(password, entry ?? (await this.#decoy));
    return ok && entry !== undefined;
  }

  /** The `tenant` field of a user's entry (undefined: no such user, or no tenant). */
  tenantOf(username: string | undefined): string | undefined {
    return username === undefined ? undefined : this.#entries.get(username)?.tenant;
  }
}

/** Reads and checks a users file; a problem is a `ConfigError` naming the file and the entry. */
export function loadUsers(path: string, name = 'users'): UserDirectory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${name} ${path}: cannot read the file (${errorCode(error)})`, {
      option: name,
      cause: error,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${name} ${path}: not valid JSON`, { option: name, cause: error });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`${name} ${path}: expected a JSON object { "user": "scrypt$…" }`, { option: name });
  }
  const entries = new Map<string, UserEntry>();
  for (const [user, entry] of Object.entries(data)) {
    const problem = (why: string): ConfigError =>
      new ConfigError(`${name} ${path}: user '${user}' ${why}`, { option: name });
    const noHash = 'has no valid scrypt hash (make one with: dragoman hash-password)';
    if (typeof entry === 'string') {
      if (parseHash(entry) === undefined) throw problem(noHash);
      entries.set(user, { hash: entry });
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw problem(noHash);
    const { hash, tenant, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw problem(`has an unknown field '${unknown}' (expected hash, tenant)`);
    if (hash !== undefined && (typeof hash !== 'string' || parseHash(hash) === undefined))
      throw problem(noHash);
    if (tenant !== undefined && !isValidTenant(tenant)) {
      throw problem(
        `has an invalid tenant ${JSON.stringify(tenant)} (1 to 64 characters, none of / + # : $ or white space)`,
      );
    }
    entries.set(user, { hash: hash as string | undefined, tenant: tenant as string | undefined });
  }
  return new UserDirectory(entries);
}

/**
 * The users file: a JSON object from user name to an scrypt hash (`scrypt$N$r$p$salt$hash`, base64 salt and
 * hash). Plain passwords are never stored; `hashPassword` makes the entries (`dragoman hash-password`).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

/** The users of a users file. */
export class UserDirectory {
  readonly #entries: ReadonlyMap<string, string>;
  readonly #decoy: Promise<string>;

  constructor(entries: ReadonlyMap<string, string>) {
    this.#entries = entries;
    // Unknown names are checked against a decoy, so the time taken does not tell which names exist.
    this.#decoy = hashPassword(randomBytes(16).toString('hex'));
  }

  get size(): number {
    return this.#entries.size;
  }

  async verify(username: string | undefined, password: string | undefined): Promise<boolean> {
    if (username === undefined || password === undefined) return false;
    const entry = this.#entries.get(username);
    const ok = await verifyPassword(password, entry ?? (await this.#decoy));
    return ok && entry !== undefined;
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
  const entries = new Map<string, string>();
  for (const [user, entry] of Object.entries(data)) {
    if (typeof entry !== 'string' || parseHash(entry) === undefined) {
      throw new ConfigError(
        `${name} ${path}: user '${user}' has no valid scrypt hash (make one with: dragoman hash-password)`,
        { option: name },
      );
    }
    entries.set(user, entry);
  }
  return new UserDirectory(entries);
}

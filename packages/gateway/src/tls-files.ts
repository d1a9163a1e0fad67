/**
 * Reading certificate and key files, with a `ConfigError` naming the option for a file that cannot be read or
 * that is not a PEM certificate and matching key.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, errorCode } from './errors';
import type { TlsFiles } from './types';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export function readPemFile(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${option} ${path}: cannot read the file (${errorCode(error)})`, {
      option,
      cause: error,
    });
  }
}

/** Reads a certificate and key and checks that TLS can use them together. */
export function readTlsFiles(files: TlsFiles, certOption: string, keyOption: string): TlsMaterial {
  const cert = readPemFile(files.cert, certOption);
  const key = readPemFile(files.key, keyOption);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      `${certOption} ${files.cert} / ${keyOption} ${files.key}: not a usable PEM certificate and key (${why})`,
      {
        option: certOption,
        cause: error,
      },
    );
  }
  return { cert, key };
}

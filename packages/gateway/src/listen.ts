/**
 * Binding a server to HOST:PORT, with the OS's refusal turned into a one-line `ConfigError`.
 */
import type { AddressInfo, Server } from 'node:net';
import { ConfigError, errorCode } from './errors';
import type { HostPort } from './types';

const WHY: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name could not be resolved',
};

/** A one-line reason for a listen failure. */
export function listenFailure(option: string, at: HostPort, error: unknown): ConfigError {
  const code = errorCode(error);
  return new ConfigError(`${option} ${formatHostPort(at)}: ${WHY[code] ?? code}`, { option, cause: error });
}

export function listenOn(server: Server, at: HostPort, option: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(listenFailure(option, at, error));
    server.once('error', onError);
    server.listen(at.port, at.host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function formatHostPort(at: HostPort): string {
  return at.host.includes(':') ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
}

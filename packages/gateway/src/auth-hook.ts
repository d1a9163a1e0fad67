/**
 * The gateway's authentication hook (`AuthenticationHook`): loading it from `--auth-module`, checking its shape,
 * and adapting its enhanced-authentication methods to `@dragoman/mqtt`'s `authenticate` hook of one connection.
 */
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type AuthenticateHook,
  type AuthenticationOutcome,
  type MqttEndpoint,
  ReasonCode,
} from '@dragoman/mqtt';
import { ConfigError } from './errors';
import type {
  AuthenticationExchangeOutcome,
  AuthenticationHook,
  ClientCertificate,
  ConnectingClient,
} from './types';

/** Imports `path` (an ES module) and checks that its default export is an `AuthenticationHook`. */
export async function loadAuthModule(path: string, option: string): Promise<AuthenticationHook> {
  let loaded: unknown;
  try {
    loaded = await import(pathToFileURL(resolvePath(path)).href);
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(`${option} ${path}: cannot load the module (${why})`, { option, cause: error });
  }
  return checkAuthenticationHook((loaded as { default?: unknown }).default, `${option} ${path}`, option);
}

/** Checks a hook's shape once, at start, so a typo fails there and not at a client's CONNECT. */
export function checkAuthenticationHook(value: unknown, name: string, option: string): AuthenticationHook {
  const bad = (why: string): ConfigError => new ConfigError(`${name}: ${why}`, { option });
  if (typeof value !== 'object' || value === null) {
    throw bad('the default export must be an object { checkPassword?, methods? }');
  }
  const { checkPassword, methods, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw bad(`unknown field '${unknown}' (expected checkPassword, methods)`);
  if (checkPassword !== undefined && typeof checkPassword !== 'function') {
    throw bad('checkPassword must be a function');
  }
  if (methods !== undefined) {
    if (typeof methods !== 'object' || methods === null) throw bad('methods must be an object of functions');
    for (const [method, handler] of Object.entries(methods)) {
      if (method === '' || typeof handler !== 'function') {
        throw bad(`methods['${method}'] must be a function (step) => outcome`);
      }
    }
  }
  if (checkPassword === undefined && methods === undefined) throw bad('neither checkPassword nor methods');
  return value as AuthenticationHook;
}

/** What the hook learns about a client: the CONNECT as sent (not the identity presented later). */
export function connectingClient(
  endpoint: MqttEndpoint,
  certificate: ClientCertificate | undefined,
): ConnectingClient {
  const connect = endpoint.connect;
  return {
    clientId: endpoint.clientId,
    username: connect.username,
    password: connect.password,
    protocolVersion: endpoint.protocolVersion,
    certificate,
  };
}

/** The identity an enhanced-authentication exchange at CONNECT settled on (undefined: the method named none). */
export type ExchangeIdentities = WeakMap<MqttEndpoint, { readonly identity: string | undefined }>;

/**
 * `@dragoman/mqtt`'s `authenticate` hook for one connection: dispatches each step to the method the CONNECT
 * named; a method nobody handles fails with 0x8C. Undefined when the hook has no methods (the endpoint then
 * answers 0x8C itself).
 */
export function enhancedAuthentication(
  hook: AuthenticationHook | undefined,
  certificate: ClientCertificate | undefined,
  identities: ExchangeIdentities,
): AuthenticateHook | undefined {
  const methods = hook?.methods;
  if (methods === undefined) return undefined;
  return async (step): Promise<AuthenticationOutcome> => {
    const method = Object.hasOwn(methods, step.method) ? methods[step.method] : undefined;
    if (method === undefined) {
      return {
        result: 'failure',
        reasonCode: ReasonCode.BadAuthenticationMethod,
        reasonString: `authentication method ${step.method} is not supported`,
      };
    }
    const outcome: AuthenticationExchangeOutcome = await method({
      kind: step.kind,
      method: step.method,
      data: step.data,
      step: step.step,
      state: step.state,
      userProperties: step.userProperties,
      client: connectingClient(step.endpoint, certificate),
      signal: step.signal,
    });
    if (outcome?.result !== 'success') return outcome as AuthenticationOutcome;
    const identity = outcome.identity;
    if (identity !== undefined && (typeof identity !== 'string' || identity === '')) {
      return { result: 'failure', reasonString: 'the authentication method named an empty identity' };
    }
    if (step.kind === 're-authenticate') {
      // endpoint.username is the identity presented since CONNECT.
      if (identity !== undefined && identity !== step.endpoint.username) {
        return { result: 'failure', reasonString: 're-authentication cannot change the identity' };
      }
    } else {
      identities.set(step.endpoint, { identity });
    }
    return {
      result: 'success',
      ...(outcome.data !== undefined ? { data: outcome.data } : {}),
      ...(outcome.reasonString !== undefined ? { reasonString: outcome.reasonString } : {}),
    };
  };
}

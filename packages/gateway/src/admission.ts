/**
 * Who may connect, and as whom: after a CONNECT (and any MQTT 5 enhanced-authentication exchange) the
 * gateway settles the client's identity — from the exchange, its certificate, the authentication hook's
 * password check or the `auth` mode — then its tenant and the tenant's connection quota. The identity is what
 * the bridge, the ACL (`%u`), tenants and logs see afterwards.
 */
import { type MqttEndpoint, ReasonCode } from '@dragoman/mqtt';
import type { TenantResolver } from '@dragoman/mqtt-amqp';
import type { Logger } from 'pino';
import { connectingClient, type ExchangeIdentities } from './auth-hook';
import type { PeerCertificate } from './client-certificates';
import type { GatewayMetrics } from './metrics';
import type { TenantConnections } from './tenant-quota';
import type { AuthenticationHook, AuthMode, PasswordDecision } from './types';
import type { UserDirectory } from './users';

export interface AdmissionOptions {
  readonly auth: AuthMode;
  readonly users: UserDirectory | undefined;
  readonly hook: AuthenticationHook | undefined;
  /** Identities settled by enhanced-authentication exchanges (filled by the endpoint's authenticate hook). */
  readonly exchanges: ExchangeIdentities;
  readonly tenantOf: TenantResolver | undefined;
  readonly tenants: TenantConnections;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
}

/** Refusals the gateway answers with, and how they are counted. */
interface Refusal {
  readonly reasonCode: number;
  readonly why: string;
  readonly reasonString?: string | undefined;
}

export class Admission {
  constructor(private readonly options: AdmissionOptions) {}

  /**
   * Decides about a client whose CONNECT arrived. Resolves to true when it may be handed to the bridge (its
   * identity is then presented as its user name); false when it was refused (CONNACK written) or went away.
   */
  async admit(endpoint: MqttEndpoint, peer: PeerCertificate | undefined): Promise<boolean> {
    let identity: string | undefined | Refusal;
    try {
      identity = await this.#identify(endpoint, peer);
    } catch (error) {
      this.options.logger.warn(
        { err: error, clientId: endpoint.clientId },
        'MQTT client refused: the authentication hook failed',
      );
      return this.#refuse(endpoint, {
        reasonCode: ReasonCode.UnspecifiedError,
        why: 'authentication hook failed',
      });
    }
    if (typeof identity === 'object') return this.#refuse(endpoint, identity);
    if (endpoint.state !== 'connecting') return false;

    const tenant = this.#tenant(endpoint.clientId, identity);
    if (typeof tenant === 'object') return this.#refuse(endpoint, tenant);
    if (tenant !== undefined) {
      const { tenants, metrics, logger } = this.options;
      if (!tenants.tryAcquire(tenant)) {
        metrics.limitHit('connections-per-tenant');
        logger.info(
          { clientId: endpoint.clientId, tenant, max: tenants.max },
          'MQTT client refused: the tenant has its maximum of connections',
        );
        endpoint.reject(ReasonCode.QuotaExceeded, {
          properties: { reasonString: 'connection quota of the tenant exceeded' },
        });
        return false;
      }
      endpoint.once('close', () => tenants.release(tenant));
    }
    if (identity !== endpoint.username) presentIdentity(endpoint, identity);
    return true;
  }

  /** The client's identity, or why it is refused. */
  async #identify(
    endpoint: MqttEndpoint,
    peer: PeerCertificate | undefined,
  ): Promise<string | undefined | Refusal> {
    const { auth, users, hook, exchanges } = this.options;
    const username = endpoint.username;
    const certificate = peer?.kind === 'identified' ? peer.certificate : undefined;
    const exchange = exchanges.get(endpoint);
    if (exchange !== undefined) return exchange.identity ?? certificate?.identity ?? username;
    if (peer?.kind === 'unusable') {
      return { reasonCode: ReasonCode.NotAuthorized, why: `client certificate ${peer.subject}: ${peer.why}` };
    }
    if (certificate !== undefined) {
      // The certificate is the credential; a CONNECT claiming another name is refused, not silently renamed.
      if (username !== undefined && username !== certificate.identity) {
        return {
          reasonCode: ReasonCode.NotAuthorized,
          why: `user name '${username}' is not the certificate's identity '${certificate.identity}'`,
          reasonString: 'user name does not match the client certificate',
        };
      }
      return certificate.identity;
    }
    const decision: PasswordDecision =
      hook?.checkPassword !== undefined
        ? await hook.checkPassword(connectingClient(endpoint, undefined))
        : { result: 'next' };
    if (decision?.result === 'allow') {
      if (
        decision.identity !== undefined &&
        (typeof decision.identity !== 'string' || decision.identity === '')
      )
        throw new TypeError('checkPassword allowed an empty identity');
      return decision.identity ?? username;
    }
    if (decision?.result === 'deny') {
      const code = decision.reasonCode;
      return {
        reasonCode:
          code !== undefined && Number.isInteger(code) && code >= 0x80 && code <= 0xff
            ? code
            : ReasonCode.BadUserNameOrPassword,
        why: 'refused by the authentication hook',
        reasonString: decision.reasonString,
      };
    }
    if (decision?.result !== 'next')
      throw new TypeError(`checkPassword answered ${JSON.stringify(decision)}`);
    if (auth === 'users' && users !== undefined) {
      const ok = await users.verify(username, endpoint.password?.toString('utf8'));
      if (!ok) return { reasonCode: ReasonCode.BadUserNameOrPassword, why: 'bad user name or password' };
    }
    return username;
  }

  /** The tenant of an identity, or the refusal when tenants are on and it has none. */
  #tenant(clientId: string, identity: string | undefined): string | undefined | Refusal {
    const resolve = this.options.tenantOf;
    if (resolve === undefined) return undefined;
    try {
      return resolve({ clientId, username: identity });
    } catch (error) {
      return {
        reasonCode: ReasonCode.NotAuthorized,
        why: `no tenant: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  #refuse(endpoint: MqttEndpoint, refusal: Refusal): false {
    if (endpoint.state !== 'connecting') return false;
    this.options.metrics.error('auth-failed');
    this.options.logger.info(
      { clientId: endpoint.clientId, username: endpoint.username, reasonCode: refusal.reasonCode },
      `MQTT client refused: ${refusal.why}`,
    );
    endpoint.reject(
      refusal.reasonCode,
      refusal.reasonString !== undefined ? { properties: { reasonString: refusal.reasonString } } : {},
    );
    return false;
  }
}

/**
 * Makes the endpoint report `identity` as its user name. The bridge (`@dragoman/mqtt-amqp`) takes a client's
 * identity — for the ACL, tenants and pass-through credentials — from `endpoint.username` and has no other way
 * to be told; the CONNECT packet itself (`endpoint.connect`) keeps what the client sent.
 */
function presentIdentity(endpoint: MqttEndpoint, identity: string | undefined): void {
  Object.defineProperty(endpoint, 'username', { value: identity, configurable: true, enumerable: true });
}

/**
 * Public types of the gateway: its options (the same keys as the config file), the resolved configuration and
 * the running gateway.
 */
import type { Adapter } from '@dragoman/adapter';
import type { AuthenticationStep } from '@dragoman/mqtt';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export type GatewayDialect = 'enmasse' | 'hono' | 'azure' | 'artemis' | 'rabbitmq' | 'rabbitmq-v1';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/** `json`: one JSON object per line (pino). `text`: one readable line per record. `auto`: text on a terminal. */
export type LogFormat = 'json' | 'text' | 'auto';
/**
 * Who checks MQTT credentials.
 * - `none`: nobody; every client is let in (the AMQP side sees the gateway's identity).
 * - `users`: the gateway, against the users file (scrypt hashes); the embedded backend then also requires
 *   SASL PLAIN from AMQP clients, checked against the same file.
 * - `pass-through`: the AMQP network; each MQTT client gets its own AMQP connection carrying its user name
 *   and password as SASL PLAIN (the embedded backend checks them against the users file).
 */
export type AuthMode = 'none' | 'users' | 'pass-through';

/**
 * Multi-tenancy: `none` (default), `username-prefix` — identities are `<tenant>/<user>` — or `users-file` — the
 * `tenant` field of the identity's entry in the users file. Every AMQP address a client touches is then scoped
 * to its tenant (@dragoman/mqtt-amqp README, "Tenants").
 */
export type TenantMode = 'none' | 'username-prefix' | 'users-file';
/**
 * What happens to an MQTT 5 client with more unacknowledged QoS 1/2 PUBLISHes than its receive maximum:
 * `disconnect` (DISCONNECT 0x93, as MQTT 5 requires) or `pushback` (its socket is not read until answers
 * free room: for clients that do not count, e.g. mqtt.js 5).
 */
export type ReceiveMaximumPolicy = 'disconnect' | 'pushback';
/**
 * Towards an external network with the gateway's certificate (SASL EXTERNAL): `gateway` — pooled connections
 * as the gateway itself; `device` — one AMQP connection per MQTT client, asking to act as the client's
 * identity (SASL EXTERNAL authorization identity: the device certificate's identity, or the user name).
 */
export type AmqpIdentityMode = 'gateway' | 'device';

/**
 * Client certificates on the MQTT TLS and secure WebSocket listeners (`clientCa`):
 * - `none`: not asked for;
 * - `request`: asked for; a client without one, or with one `clientCa` did not sign, falls back to user name
 *   and password;
 * - `require`: a client without a certificate signed by `clientCa` fails the TLS handshake.
 */
export type ClientCertMode = 'none' | 'request' | 'require';

/** What identity a client certificate gives: its subject's common name, or its whole subject DN (RFC 4514). */
export type CertIdentityMode = 'cn' | 'dn';

/**
 * What `startGateway` accepts; every field is optional and has a default. The keys are the config file's keys;
 * addresses are `HOST:PORT` strings (`off` disables a listener), sizes in bytes, times in milliseconds.
 */
export interface GatewayOptions {
  /** MQTT over TCP (or TLS with `mqttCert`/`mqttKey`). Default `127.0.0.1:1883`; `off` disables it. */
  readonly mqtt?: string;
  /** MQTT over WebSocket (or WSS with `wsCert`/`wsKey`). Default `127.0.0.1:8083`; `off` disables it. */
  readonly ws?: string;
  /** HTTP path of the WebSocket endpoint. Default `/mqtt`. */
  readonly wsPath?: string;
  /** Where the embedded AMQP backend listens. Default `127.0.0.1:5672`. Not with `amqp`. */
  readonly amqpListen?: string;
  /** `amqp://` or `amqps://` URL of an external AMQP 1.0 network to use instead of the embedded backend. */
  readonly amqp?: string;
  /**
   * How MQTT QoS, retain and topics are spelled on AMQP messages and addresses (see @dragoman/mqtt-amqp's
   * dialects): `enmasse` (default, the spec), `hono`, `azure`, `artemis`, `rabbitmq` (RabbitMQ 4 addresses) or
   * `rabbitmq-v1` (RabbitMQ 3.x addresses).
   */
  readonly dialect?: GatewayDialect;
  /** Prometheus metrics (`/metrics`) and health (`/health`) over HTTP. Default `off`. */
  readonly metrics?: string;
  /** Directory of the durable (LMDB) store of the embedded backend. Default: in memory. */
  readonly store?: string;
  readonly mqttCert?: string;
  readonly mqttKey?: string;
  readonly wsCert?: string;
  readonly wsKey?: string;
  readonly amqpListenCert?: string;
  readonly amqpListenKey?: string;
  /** PEM file of the certificate authorities trusted for an `amqps://` external network. Default: Node's. */
  readonly amqpCa?: string;
  /** Default `none`, or `users` when `users` is set. */
  readonly auth?: AuthMode;
  /** JSON users file: `{ "name": "scrypt$…" }` (see `hashPassword`). */
  readonly users?: string;
  /**
   * ACL file: which user may publish / subscribe to which topics (`user`, `topic`, `pattern` lines with `%u`
   * and `%c`; format in the @dragoman/mqtt-amqp README, "Authorization"). Default: everything allowed.
   */
  readonly acl?: string;
  /**
   * Default `none`. `username-prefix`: tenants from `<tenant>/<user>` identities; `users-file`: from the
   * `tenant` field of the identity's users-file entry.
   */
  readonly tenantFrom?: TenantMode;
  /** Open MQTT connections of one tenant; more get CONNACK 0x97 (3.1.1: 3). 0 (default): no per-tenant limit. */
  readonly maxConnectionsPerTenant?: number;
  /** PEM file of the certificate authorities that sign device certificates (MQTT TLS and secure WebSocket). */
  readonly clientCa?: string;
  /** Default `require` when `clientCa` is set, else `none`. */
  readonly clientCert?: ClientCertMode;
  /** Default `cn`. */
  readonly certIdentity?: CertIdentityMode;
  /** The gateway's own client certificate for an `amqps://` external network; it then uses SASL EXTERNAL. */
  readonly amqpCert?: string;
  readonly amqpKey?: string;
  /** With `amqpCert`: whose identity each AMQP connection asks to act as. Default `gateway`. */
  readonly amqpIdentity?: AmqpIdentityMode;
  /**
   * An ES module (`.mjs` / `.js`) whose default export is an `AuthenticationHook`: password checks and MQTT 5
   * enhanced-authentication methods (docs/security.md, "Authentication hook").
   */
  readonly authModule?: string;
  /** Open MQTT connections (TCP and WebSocket together); more are closed at once. Default 10 000. */
  readonly maxConnections?: number;
  /** Open MQTT connections from one source address; more get CONNACK 0x97 (3.1.1: 3). Default 1 000. */
  readonly maxConnectionsPerAddress?: number;
  /** New connections per second to the gateway (token bucket); more get CONNACK 0x9F (3.1.1: 3). 0 = none. Default 2 000. */
  readonly connectRate?: number;
  /** New connections per second from one source address; as `connectRate`. Default 500. */
  readonly connectRatePerAddress?: number;
  /** Time a new connection has to send CONNECT and be answered, ms. Default 10 000. */
  readonly connectTimeout?: number;
  /** Retained messages kept in total by the embedded backend. Default 10 000. */
  readonly maxRetained?: number;
  /** Subscriptions per client (session); more get SUBACK 0x97 (3.1.1: 0x80). Default 100. */
  readonly maxSubscriptions?: number;
  /** Longest MQTT 5 session expiry interval granted, seconds (announced in CONNACK). Default 4 294 967 295 (no cap). */
  readonly maxSessionExpiry?: number;
  /** Longest topic name or filter, UTF-8 bytes. Default 1 024. */
  readonly maxTopicLength?: number;
  /** Most levels in a topic name or filter. Default 32. */
  readonly maxTopicLevels?: number;
  /** Largest MQTT packet accepted, bytes. Default 1 MiB. */
  readonly maxPacketSize?: number;
  /**
   * QoS 1/2 messages in flight towards each MQTT client (MQTT 5: at most its receive maximum). Default 1 000. On the
   * embedded backend also at most `maxOfflineMessages`, as what is in flight stays in the client's session.
   */
  readonly maxInflight?: number;
  /** QoS 1/2 messages from each MQTT client waiting for their AMQP outcome. Default 64. */
  readonly receiveMaximum?: number;
  /** An MQTT 5 client over its receive maximum. Default `disconnect`. */
  readonly receiveMaximumExceeded?: ReceiveMaximumPolicy;
  /** Messages queued per offline session in the embedded backend. Default 1 000. */
  readonly maxOfflineMessages?: number;
  /** Shared AMQP connections of the bridge (not with `auth: pass-through`). Default 2. */
  readonly poolSize?: number;
  /** Default `info`. */
  readonly logLevel?: LogLevel;
  /** Default `auto`. */
  readonly logFormat?: LogFormat;
  /** How long `close()` waits for in-flight work by default, ms. Default 10 000. */
  readonly shutdownTimeout?: number;
  /**
   * V8's young generation per semi-space, MiB: 0 or a power of two. Default 16. Process-wide, so `startGateway`
   * only resolves it: the `dragoman` CLI applies it with `limitYoungGeneration`, and a host embedding the
   * gateway may do the same for its own process.
   */
  readonly maxSemiSpace?: number;
  /**
   * How far V8's old generation may grow past what survived the last full collection, percent: 0 (V8's own
   * factor, 10–300 %) or 10–300. Default 50. Process-wide like `maxSemiSpace`: the `dragoman` CLI applies it
   * with `limitOldGenerationGrowth`.
   */
  readonly heapGrowth?: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

/** Device certificates on the MQTT listeners, resolved. */
export interface ClientCertConfig {
  readonly mode: 'request' | 'require';
  /** PEM file of the trusted CAs. */
  readonly ca: string;
  readonly identity: CertIdentityMode;
}

/** Options after validation and defaults. */
export interface GatewayConfig {
  readonly mqtt: (HostPort & { readonly tls: TlsFiles | undefined }) | undefined;
  readonly ws: (HostPort & { readonly tls: TlsFiles | undefined; readonly path: string }) | undefined;
  /** The embedded backend, or the external network. */
  readonly amqp:
    | {
        readonly kind: 'embedded';
        readonly listen: HostPort;
        readonly tls: TlsFiles | undefined;
        readonly store: string | undefined;
      }
    | {
        readonly kind: 'external';
        readonly url: string;
        readonly ca: string | undefined;
        /** The gateway's client certificate (SASL EXTERNAL). */
        readonly tls: TlsFiles | undefined;
        /** `device`: per-client connections acting as each client's identity (needs `tls`). */
        readonly identity: AmqpIdentityMode;
      };
  readonly metrics: HostPort | undefined;
  readonly dialect: GatewayDialect;
  readonly auth: AuthMode;
  readonly users: string | undefined;
  readonly acl: string | undefined;
  readonly tenantFrom: TenantMode;
  /** Device certificates on the MQTT TLS / WSS listeners; undefined: not asked for. */
  readonly clientCert: ClientCertConfig | undefined;
  readonly authModule: string | undefined;
  readonly limits: {
    readonly maxConnections: number;
    readonly maxPacketSize: number;
    readonly maxInflight: number;
    readonly receiveMaximum: number;
    readonly receiveMaximumExceeded: ReceiveMaximumPolicy;
    readonly maxOfflineMessages: number;
    readonly poolSize: number;
    readonly maxConnectionsPerAddress: number;
    readonly connectRate: number;
    readonly connectRatePerAddress: number;
    readonly connectTimeout: number;
    readonly maxRetained: number;
    readonly maxSubscriptions: number;
    readonly maxSessionExpiry: number;
    readonly maxTopicLength: number;
    readonly maxTopicLevels: number;
    /** 0: no per-tenant limit. */
    readonly maxConnectionsPerTenant: number;
  };
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly shutdownTimeout: number;
  /** MiB per semi-space, 0 or a power of two (0: V8's own sizing). */
  readonly maxSemiSpace: number;
  /** Percent, 0 (V8's own factor) or 10–300. */
  readonly heapGrowth: number;
}

/** One bound listener: the address the OS gave (port 0 resolved) and its URL. */
export interface ListenerAddress extends HostPort {
  readonly url: string;
}

export interface GatewayAddresses {
  readonly mqtt: ListenerAddress | undefined;
  readonly ws: ListenerAddress | undefined;
  /** The embedded backend's listener, or the external network (URL without credentials). */
  readonly amqp: ListenerAddress & { readonly embedded: boolean };
  readonly metrics: ListenerAddress | undefined;
}

export interface GatewayHealth {
  readonly status: 'ok' | 'unavailable' | 'stopping';
  readonly mqtt: 'up' | 'down' | 'off';
  readonly ws: 'up' | 'down' | 'off';
  readonly amqp: 'up' | 'down';
}

/** What a host application passes besides the options. */
export interface StartDependencies {
  /** Logger to use (a pino logger); default one built from `logLevel` / `logFormat`, writing to stdout. */
  readonly logger?: Logger;
  /**
   * More `@dragoman/adapter` adapters (other device protocols) to run beside the MQTT front end: same AMQP
   * side (`context.amqp`), logger and metrics registry; started after it, stopped before it within the same
   * shutdown deadline. None by default.
   */
  readonly adapters?: readonly Adapter[];
  /**
   * Authentication hook: password checks and MQTT 5 enhanced-authentication methods (the same as the default
   * export of an `authModule`, which it excludes). None by default.
   */
  readonly authenticate?: AuthenticationHook;
}

// ---------------------------------------------------------------------------------------------
// Authentication hook
// ---------------------------------------------------------------------------------------------

/** A device certificate the TLS handshake verified against `clientCa`. */
export interface ClientCertificate {
  /** What `certIdentity` takes from it: the subject CN, or the subject DN. */
  readonly identity: string;
  /** Subject DN in RFC 4514 form, most specific first (`CN=device-1,O=Acme,C=DE`). */
  readonly subject: string;
  /** SHA-256 fingerprint, `AB:CD:…`. */
  readonly fingerprint256: string;
}

/** What the gateway knows of a client while it authenticates it. */
export interface ConnectingClient {
  readonly clientId: string;
  /** The CONNECT's user name. */
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  /** 3 (MQTT 3.1), 4 (3.1.1) or 5. */
  readonly protocolVersion: number;
  /** Its verified TLS client certificate, if it presented one. */
  readonly certificate: ClientCertificate | undefined;
}

/**
 * A hook's answer to a CONNECT without an authentication method:
 * - `allow`: let it in; `identity` (default: the CONNECT's user name) is who the ACL, tenants and logs see;
 * - `deny`: CONNACK `reasonCode` (default 0x86 bad user name or password; 3.1.1: the closest return code);
 * - `next`: the gateway's own check (`auth`: users file, pass-through or none) decides.
 */
export type PasswordDecision =
  | { readonly result: 'allow'; readonly identity?: string }
  | { readonly result: 'deny'; readonly reasonCode?: number; readonly reasonString?: string }
  | { readonly result: 'next' };

/**
 * One step of an MQTT 5 enhanced-authentication exchange (AUTH packets), as an authentication method sees it:
 * the endpoint's step (`kind`, `method`, `data`, `step`, `state`, `userProperties`, `signal`; aborted when the
 * exchange is abandoned — the connection closed or `connectTimeout` ran out), with the client as the gateway
 * knows it instead of the endpoint.
 */
export interface AuthenticationExchangeStep extends Omit<AuthenticationStep, 'endpoint'> {
  readonly client: ConnectingClient;
}

/**
 * A method's answer to one step: `continue` sends AUTH 0x18 with `data` and waits for the client's answer;
 * `success` ends the exchange (CONNACK / AUTH 0x00 with `data`), `identity` naming who the client is (default:
 * its certificate's identity, else the CONNECT's user name; a re-authentication cannot change it); `failure`
 * refuses it with `reasonCode` (default 0x87 not authorized; 0x86 and 0x8C are other choices).
 */
export type AuthenticationExchangeOutcome =
  | { readonly result: 'continue'; readonly data?: Buffer; readonly reasonString?: string }
  | {
      readonly result: 'success';
      readonly data?: Buffer;
      readonly identity?: string;
      readonly reasonString?: string;
    }
  | { readonly result: 'failure'; readonly reasonCode?: number; readonly reasonString?: string };

export type AuthenticationMethod = (
  step: AuthenticationExchangeStep,
) => AuthenticationExchangeOutcome | Promise<AuthenticationExchangeOutcome>;

/**
 * How an operator or host plugs authentication into the gateway (`authModule`'s default export, or
 * `startGateway(options, { authenticate })`). Both parts are optional.
 */
export interface AuthenticationHook {
  /** Asked for every CONNECT without an authentication method and without a client certificate. */
  readonly checkPassword?: (client: ConnectingClient) => PasswordDecision | Promise<PasswordDecision>;
  /**
   * MQTT 5 enhanced authentication, by method name (the CONNECT's authentication method). A method not listed
   * gets CONNACK 0x8C bad authentication method.
   */
  readonly methods?: Readonly<Record<string, AuthenticationMethod>>;
}

export interface RunningGateway {
  readonly addresses: GatewayAddresses;
  /** The gateway's own Prometheus registry (not prom-client's global one). */
  readonly metrics: Registry;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  health(): GatewayHealth;
  /**
   * Stops accepting, disconnects MQTT clients (MQTT 5: DISCONNECT 0x8B), waits up to `deadlineMs` (default
   * `shutdownTimeout`) for their in-flight work, then closes the AMQP side and every listener. Resolves to
   * `true` when everything finished within the deadline, `false` when connections had to be dropped.
   */
  close(deadlineMs?: number): Promise<boolean>;
}

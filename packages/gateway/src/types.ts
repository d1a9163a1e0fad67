/**
 * Public types of the gateway: its options (the same keys as the config file), the resolved configuration and
 * the running gateway.
 */
import type { Adapter } from '@dragoman/adapter';
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
 * Multi-tenancy: `none` (default) or `username-prefix` — user names are `<tenant>/<user>` and every AMQP
 * address a client touches is scoped to its tenant (@dragoman/mqtt-amqp README, "Tenants").
 */
export type TenantMode = 'none' | 'username-prefix';

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
  /** Default `none`. `username-prefix`: tenants from `<tenant>/<user>` user names. */
  readonly tenantFrom?: TenantMode;
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
  /** Longest topic name or filter, UTF-8 bytes. Default 1 024. */
  readonly maxTopicLength?: number;
  /** Most levels in a topic name or filter. Default 32. */
  readonly maxTopicLevels?: number;
  /** Largest MQTT packet accepted, bytes. Default 1 MiB. */
  readonly maxPacketSize?: number;
  /** QoS 1/2 messages in flight towards each MQTT client. Default 32. */
  readonly maxInflight?: number;
  /** QoS 1/2 messages from each MQTT client waiting for their AMQP outcome. Default 64. */
  readonly receiveMaximum?: number;
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
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
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
    | { readonly kind: 'external'; readonly url: string; readonly ca: string | undefined };
  readonly metrics: HostPort | undefined;
  readonly dialect: GatewayDialect;
  readonly auth: AuthMode;
  readonly users: string | undefined;
  readonly acl: string | undefined;
  readonly tenantFrom: TenantMode;
  readonly limits: {
    readonly maxConnections: number;
    readonly maxPacketSize: number;
    readonly maxInflight: number;
    readonly receiveMaximum: number;
    readonly maxOfflineMessages: number;
    readonly poolSize: number;
    readonly maxConnectionsPerAddress: number;
    readonly connectRate: number;
    readonly connectRatePerAddress: number;
    readonly connectTimeout: number;
    readonly maxRetained: number;
    readonly maxSubscriptions: number;
    readonly maxTopicLength: number;
    readonly maxTopicLevels: number;
  };
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly shutdownTimeout: number;
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

/**
 * Public types of authorization: the hook the bridge asks before it does any AMQP work for a PUBLISH or a
 * SUBSCRIBE, and the identity it is asked about.
 */

/** Who is asking: what the client's CONNECT (and the transport) said about it. */
export interface ClientIdentity {
  /** The MQTT client id as the client sent it (without any tenant prefix). */
  readonly clientId: string;
  readonly username: string | undefined;
  /** The client's tenant when multi-tenancy is on. */
  readonly tenant?: string | undefined;
  /** Subject of the client's TLS certificate, when the host passes one. */
  readonly certificateSubject?: string | undefined;
}

export type AuthorizeAction = 'publish' | 'subscribe';

export interface AuthorizeRequest {
  readonly identity: ClientIdentity;
  readonly action: AuthorizeAction;
  /** The topic name (publish) or topic filter (subscribe), as the client sent it. */
  readonly topic: string;
  /** The QoS of the PUBLISH, or the maximum QoS asked for in the subscription. */
  readonly qos: 0 | 1 | 2;
  /** The PUBLISH's retain flag (always false for subscribe). */
  readonly retain: boolean;
}

/**
 * The hook's answer: `true` or a reason code below 0x80 allows; `false` denies with "not authorized" (0x87);
 * a reason code of 0x80 or more denies with that code (MQTT 5 clients see it when PUBACK / PUBREC / SUBACK
 * allow it, else 0x87).
 */
export type AuthorizeDecision = boolean | number;

/** Decides whether an identity may publish to a topic or subscribe to a filter. May be asynchronous. */
export type Authorizer = (request: AuthorizeRequest) => AuthorizeDecision | Promise<AuthorizeDecision>;

/** Why a request was denied: the hook said no, threw (or rejected), or did not answer in time. */
export type DenialCause = 'denied' | 'error' | 'timeout';

/** Reported for every denied request (the gateway logs it and counts it). */
export interface AuthorizationDenial {
  readonly request: AuthorizeRequest;
  readonly cause: DenialCause;
  /** The reason code the bridge chose (before the MQTT 3.1.1 fallbacks). */
  readonly reasonCode: number;
  /** The hook's error, for `error`. */
  readonly error?: unknown;
}

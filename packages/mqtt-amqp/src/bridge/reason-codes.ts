/**
 * How AMQP refusals become MQTT 5 reason codes. AMQP conditions are symbols; the few with an MQTT
 * counterpart map to it, everything else becomes the caller's fallback (0x80 "unspecified error" unless
 * configured). The table is documented in the README ("Bridge", "Errors").
 */

/** MQTT 5 reason codes the bridge writes (numbers from the MQTT 5.0 specification, 2.4). */
export const BridgeReasonCode = {
  UnspecifiedError: 0x80,
  ImplementationSpecificError: 0x83,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  ServerShuttingDown: 0x8b,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  QuotaExceeded: 0x97,
  PayloadFormatInvalid: 0x99,
} as const;

/** AMQP condition → MQTT 5 reason code for PUBACK / PUBREC (the codes those packets allow). */
const PUBLISH_REFUSAL: Readonly<Record<string, number>> = {
  'amqp:unauthorized-access': BridgeReasonCode.NotAuthorized,
  'amqp:not-allowed': BridgeReasonCode.NotAuthorized,
  'amqp:resource-limit-exceeded': BridgeReasonCode.QuotaExceeded,
  'amqp:not-found': BridgeReasonCode.TopicNameInvalid,
  'amqp:decode-error': BridgeReasonCode.PayloadFormatInvalid,
  'amqp:link:message-size-exceeded': BridgeReasonCode.QuotaExceeded,
};

/** AMQP condition → MQTT 5 reason code for SUBACK (the codes SUBACK allows). */
const SUBSCRIBE_REFUSAL: Readonly<Record<string, number>> = {
  'amqp:unauthorized-access': BridgeReasonCode.NotAuthorized,
  'amqp:not-allowed': BridgeReasonCode.NotAuthorized,
  'amqp:resource-limit-exceeded': BridgeReasonCode.QuotaExceeded,
};

/** The PUBACK/PUBREC reason code for an AMQP delivery refused with `condition` (undefined: released/modified). */
export function publishRefusalCode(condition: string | undefined): number {
  return (
    (condition !== undefined ? PUBLISH_REFUSAL[condition] : undefined) ?? BridgeReasonCode.UnspecifiedError
  );
}

/** SUBACK failure codes MQTT 5 allows. */
const SUBACK_FAILURES: ReadonlySet<number> = new Set([0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2]);

export function isSubackFailureCode(code: unknown): code is number {
  return typeof code === 'number' && SUBACK_FAILURES.has(code);
}

/**
 * The SUBACK reason code for an AMQP_SUBSCRIBE refused with `condition`: the code the Subscription service
 * named in the rejection (error info `reason-code`) when it is a SUBACK failure code, else the condition's
 * counterpart, else `fallback`.
 */
export function subscribeRefusalCode(
  condition: string | undefined,
  fallback: number,
  named?: unknown,
): number {
  if (isSubackFailureCode(named)) return named;
  return (condition !== undefined ? SUBSCRIBE_REFUSAL[condition] : undefined) ?? fallback;
}

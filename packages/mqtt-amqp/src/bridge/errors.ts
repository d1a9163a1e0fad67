/** How an AMQP step of a client's bridge failed. */
export type BridgeStepFailure =
  /** The step did not complete within the configured time. */
  | 'timeout'
  /** The bridge ended (client gone, taken over, gateway closing) while the step was under way. */
  | 'aborted'
  /** The peer answered with an outcome other than `accepted` (see `outcome`). */
  | 'refused';

/**
 * An AMQP step of the bridge (attaching a link, sending a control message, waiting for a reply) failed.
 * During CONNECT it becomes CONNACK "server unavailable" (3.1.1 return code 3, MQTT 5 0x88).
 */
export class BridgeStepError extends Error {
  override readonly name = 'BridgeStepError';
  /** What the bridge was doing, e.g. `will`, `list`, `attach $mqtt.willservice`. */
  readonly step: string;
  readonly failure: BridgeStepFailure;
  /** The peer's outcome state for `refused`. */
  readonly outcome: string | undefined;

  constructor(
    step: string,
    failure: BridgeStepFailure,
    options: { outcome?: string; cause?: unknown; detail?: string } = {},
  ) {
    const what = failure === 'refused' ? `refused (${options.outcome ?? 'unknown outcome'})` : failure;
    super(`bridge step '${step}' ${what}${options.detail ? `: ${options.detail}` : ''}`, {
      cause: options.cause,
    });
    this.step = step;
    this.failure = failure;
    this.outcome = options.outcome;
  }
}

/** The gateway was closed: it accepts no more clients. */
export class GatewayClosedError extends Error {
  override readonly name = 'GatewayClosedError';
  constructor() {
    super('the gateway is closed');
  }
}

/**
 * A client published to a topic whose AMQP address is one of the spec's own (a service, or another client's
 * control, publish or pubrel address). Refused so that no MQTT client can talk to the services or reach
 * another client's queue behind the subscriptions: MQTT 5 PUBACK / PUBREC 0x87, 3.1.1 a closed connection.
 */
export class ReservedTopicError extends Error {
  override readonly name = 'ReservedTopicError';
  readonly reasonCode = 0x87;
  readonly address: string;
  constructor(address: string) {
    super(`'${address}' is a reserved MQTT-over-AMQP address`);
    this.address = address;
  }
}

import type { CloseReason } from './types';

/**
 * The peer broke the protocol or sent bytes that do not decode. `reasonCode` is the MQTT 5 reason code
 * that applies (0x81 malformed packet, 0x82 protocol error, 0x95 packet too large, ...);
 * `connackReturnCode` is set when a 3.1 / 3.1.1 CONNACK return code applies (e.g. 0x01 for an
 * unsupported protocol level).
 */
export class MqttProtocolError extends Error {
  override readonly name = 'MqttProtocolError';
  readonly reasonCode: number;
  readonly connackReturnCode: number | undefined;

  constructor(
    message: string,
    reasonCode: number,
    options?: { connackReturnCode?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reasonCode = reasonCode;
    this.connackReturnCode = options?.connackReturnCode;
  }
}

export type MqttPublishErrorCode =
  /** The in-flight window is full: wait for endpoint.canPublish / the 'windowOpen' event. */
  | 'window-full'
  /** The encoded PUBLISH exceeds the maximum packet size the client announced; it was not sent. */
  | 'packet-too-large'
  /** The message is invalid (bad topic name, QoS, packet identifier outside 1..65535, ...). */
  | 'invalid-message'
  /** The packet identifier the host chose (PublishOptions.messageId, resend) is in flight on this connection. */
  | 'packet-id-in-use'
  /** The endpoint has not been accepted yet. */
  | 'not-connected'
  /** options.signal was aborted. */
  | 'aborted';

/** An outbound publish that could not be sent or waited for. */
export class MqttPublishError extends Error {
  override readonly name = 'MqttPublishError';
  readonly code: MqttPublishErrorCode;

  constructor(code: MqttPublishErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** The connection closed before the operation completed (e.g. an outbound QoS 1 message was not acknowledged). */
export class MqttConnectionClosedError extends Error {
  override readonly name = 'MqttConnectionClosedError';
  readonly reason: CloseReason;

  constructor(reason: CloseReason) {
    super(`MQTT connection closed (${reason.kind})`);
    this.reason = reason;
  }
}

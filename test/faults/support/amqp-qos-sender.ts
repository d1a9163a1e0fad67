/**
 * A plain AMQP sender (rhea used directly) whose messages carry their MQTT QoS the way the spec spells it
 * (`x-opt-mqtt-qos` message annotation, `durable` for QoS > 0): without the annotation the backend reads a
 * durable message as QoS 1, so a QoS 2 stream from AMQP needs it.
 */
import type { Connection, Message } from 'rhea';
import { withTimeout } from '../../support/wait';

export interface QosSendResult {
  readonly accepted: number;
  readonly other: readonly string[];
}

/** Sends every body (unsettled) on a new session and link, and waits for all outcomes. */
export function sendWithQos(
  connection: Connection,
  address: string,
  bodies: readonly Buffer[],
  qos: 1 | 2,
  timeoutMs: number,
): Promise<QosSendResult> {
  const session = connection.create_session();
  session.begin();
  const sender = session.attach_sender({ target: { address } });
  let sent = 0;
  let accepted = 0;
  const other: string[] = [];
  const done = new Promise<QosSendResult>((resolve, reject) => {
    const settled = (): void => {
      if (accepted + other.length === bodies.length) {
        sender.close();
        session.close();
        resolve({ accepted, other });
      }
    };
    sender.on('sendable', () => {
      while (sent < bodies.length && sender.sendable()) {
        const message: Message = {
          body: bodies[sent],
          durable: true,
          message_annotations: { 'x-opt-mqtt-qos': qos },
        };
        sender.send(message);
        sent += 1;
      }
    });
    sender.on('accepted', () => {
      accepted += 1;
      settled();
    });
    for (const outcome of ['rejected', 'released', 'modified'] as const) {
      sender.on(outcome, () => {
        other.push(outcome);
        settled();
      });
    }
    sender.on('sender_error', () =>
      reject(new Error(`sender on ${address} failed: ${String(sender.error)}`)),
    );
    connection.once('disconnected', () => reject(new Error('the AMQP connection went away')));
  });
  return withTimeout(done, timeoutMs, `outcomes for ${bodies.length} message(s) to ${address}`);
}

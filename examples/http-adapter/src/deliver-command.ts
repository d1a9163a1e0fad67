import type { ServerResponse } from 'node:http';
import type { Command } from '@dragoman/adapter';
import { payloadOf } from '@dragoman/amqp';

/**
 * Answers a long poll with `command`: 200 with its payload, `content-type` from the message and
 * `x-message-id`. The command is accepted once the response has been written out, and released when the
 * client is gone before that (the AMQP peer can then hand it to the next poll). A body that is not bytes
 * cannot be given to a device: the command is rejected (`amqp:decode-error`) and the poll answered 502.
 * `onSettleError` hears of a settlement that failed because the link is already gone (the peer then gets
 * the command back on its own).
 */
export function deliverCommand(
  response: ServerResponse,
  command: Command,
  onSettleError: (error: unknown) => void = () => undefined,
): void {
  let settled = false;
  const settle = (outcome: () => void): void => {
    if (settled) return;
    settled = true;
    try {
      outcome();
    } catch (error) {
      onSettleError(error);
    }
  };
  if (response.destroyed) {
    settle(() => command.release());
    return;
  }
  let payload: Buffer;
  try {
    payload = payloadOf(command.message);
  } catch {
    settle(() =>
      command.reject({ condition: 'amqp:decode-error', description: 'command body is not binary' }),
    );
    const text = JSON.stringify({ error: 'undeliverable-command' });
    response.writeHead(502, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
    return;
  }
  response.once('close', () => {
    if (!response.writableFinished) settle(() => command.release());
  });
  const properties = command.message.properties;
  const messageId = properties?.messageId;
  response.writeHead(200, {
    'content-type': properties?.contentType ?? 'application/octet-stream',
    'content-length': payload.length,
    ...(typeof messageId === 'string' || typeof messageId === 'number'
      ? { 'x-message-id': String(messageId) }
      : {}),
  });
  // Node may call this back for a response that failed too: only a finished one counts as delivered.
  response.end(payload, () =>
    settle(() => (response.writableFinished ? command.accept() : command.release())),
  );
}

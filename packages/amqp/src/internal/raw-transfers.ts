// rhea decodes the payload of every transfer of message format 0 (a standard AMQP message) into its typed-value
// tree and flat message object before any 'message' listener runs, and hands over the payload bytes as they
// are for any other format. On the connections this package creates, the first transfer of each delivery of
// format 0 is marked with a format no peer can send (-1; the field is a uint on the wire) just before rhea's
// session reads it, so its 'message' event carries the payload bytes; the Receiver then restores the format
// and decodes the message itself (message-decoder.ts, rhea's decoder for what that does not cover). Nothing
// else changes: the frame was decoded and is acted on by rhea as before, and other formats pass untouched.
// The frame then goes to its session's `on_transfer` as rhea's connection would send it, but without rhea's
// way there: its connection builds the method's name ('on_' + 'transfer') afresh for every frame.
import type { RheaConnection } from './rhea-types';

/** The message format a marked delivery carries until the Receiver restores it to 0. */
export const RAW_STANDARD_FORMAT = -1;

interface TransferFrame {
  channel: number;
  performative: { message_format?: unknown };
}

interface SessionInternals {
  on_transfer(frame: TransferFrame): void;
}

interface ConnectionInternals {
  remote_channel_map: Record<number, SessionInternals | undefined>;
}

type TransferHandler = (this: ConnectionInternals, frame: TransferFrame) => void;

/** Marks the standard-format transfers `connection` receives, from now on (see above). */
export function receiveRawTransfers(connection: RheaConnection): void {
  const target = connection as unknown as ConnectionInternals & { on_transfer: TransferHandler };
  const onTransfer = target.on_transfer;
  // Not the rhea we know: leave it decoding as usual.
  if (typeof onTransfer !== 'function' || typeof target.remote_channel_map !== 'object') return;
  target.on_transfer = function (frame) {
    const performative = frame.performative;
    if (performative.message_format === 0) performative.message_format = RAW_STANDARD_FORMAT;
    const session = this.remote_channel_map[frame.channel];
    // No such session: rhea's own way, which ends the connection with its protocol error.
    if (session === undefined) onTransfer.call(this, frame);
    else session.on_transfer(frame);
  };
}

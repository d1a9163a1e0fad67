// How large a slice of a message goes in each transfer frame (internal/lean-deliveries.ts `maxPayloadOf`): the
// peer's max-frame-size, read once per open frame it sent, and a rhea peer announcing small frames getting a
// large message in many frames, each within its limit.
import { describe, expect, it } from 'vitest';
import { binaryMessage, connect } from '../src/index';
import { maxPayloadOf } from '../src/internal/lean-deliveries';
import { closedAfterEach, rhea, rheaListen } from './helpers';

/** The parts of rhea's Outgoing that `maxPayloadOf` reads and keeps. */
function outgoingWith(open: { max_frame_size?: unknown } | undefined) {
  return {
    connection: { remote: { open } },
    peerOpen: undefined as unknown,
    peerMaxFrameSize: undefined as unknown,
  };
}

type Outgoing = Parameters<typeof maxPayloadOf>[0];

describe('maxPayloadOf', () => {
  const tag = Buffer.from([1, 2, 3, 4]);

  it('is undefined until the peer has opened, then its max-frame-size less the frame overhead', () => {
    const outgoing = outgoingWith(undefined);
    expect(maxPayloadOf(outgoing as unknown as Outgoing, tag)).toBeUndefined();
    outgoing.connection.remote.open = { max_frame_size: 512 };
    expect(maxPayloadOf(outgoing as unknown as Outgoing, tag)).toBe(512 - 54);
  });

  it("follows the peer's next open frame (a reconnect), and none when it announces none", () => {
    const outgoing = outgoingWith({ max_frame_size: 512 });
    expect(maxPayloadOf(outgoing as unknown as Outgoing, tag)).toBe(458);
    outgoing.connection.remote.open = { max_frame_size: 4096 };
    expect(maxPayloadOf(outgoing as unknown as Outgoing, tag)).toBe(4096 - 54);
    outgoing.connection.remote.open = {};
    expect(maxPayloadOf(outgoing as unknown as Outgoing, tag)).toBeUndefined();
  });
});

interface TransferFrame {
  performative: { more?: boolean };
  payload?: Buffer;
}

describe('transfer frames against a rhea peer announcing small frames', () => {
  const track = closedAfterEach();

  it('a 5,000-byte message goes in frames of at most 512 bytes and arrives whole', async () => {
    const container = rhea.create_container({ id: 'frame-sizes' });
    container.on('disconnected', () => {});
    const payloadSizes: number[] = [];
    container.on(
      'connection_open',
      (context: { connection: { on_transfer(frame: TransferFrame): void } }) => {
        const connection = context.connection;
        const read = connection.on_transfer;
        connection.on_transfer = function (this: unknown, frame: TransferFrame) {
          payloadSizes.push(frame.payload?.length ?? 0);
          read.call(this, frame);
        };
      },
    );
    let received: unknown;
    container.on(
      'message',
      (context: { message?: { body?: { content?: unknown } }; delivery?: { accept(): void } }) => {
        received = context.message?.body?.content;
        context.delivery?.accept();
      },
    );
    const listening = await rheaListen(container, { max_frame_size: 512 });
    track(listening.server);
    const client = track(await connect({ host: '127.0.0.1', port: listening.port, reconnect: false }));
    const sender = await client.openSender('q');
    const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    expect(await sender.send(binaryMessage(big))).toEqual({ state: 'accepted' });
    expect(received).toEqual(big);
    // 512 less the frame's own bytes (header, performative, tag) each: at least ten frames.
    expect(payloadSizes.length).toBeGreaterThanOrEqual(10);
    for (const size of payloadSizes) expect(size).toBeLessThanOrEqual(512);
  });
});

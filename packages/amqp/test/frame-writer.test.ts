// writeFramesTogether: a round of frames leaves in one socket write, byte for byte what rhea's own transport
// writes frame by frame.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { writeFramesTogether } from '../src/internal/frame-writer';
import type { RheaConnection } from '../src/internal/rhea-types';

const require = createRequire(import.meta.url);
const Transport = require('rhea/lib/transport.js') as new (
  id: string,
  protocolId: number,
  frameType: number,
  handler: unknown,
) => { pending: unknown[]; header_sent: unknown; write(socket: { write(b: Buffer): void }): void };
const frames = require('rhea/lib/frames.js') as Record<string, (...args: never[]) => unknown> & {
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
};

function transportPair() {
  const theirs = new Transport('theirs', 0x00, 0x00, {});
  const ours = new Transport('ours', 0x00, 0x00, {});
  writeFramesTogether({ amqp_transport: ours } as unknown as RheaConnection);
  return { theirs, ours };
}

function recorder() {
  const writes: Buffer[] = [];
  return { writes, socket: { write: (b: Buffer) => void writes.push(Buffer.from(b)) } };
}

function roundOf(payloadBytes: number): unknown[] {
  const flow = frames.flow as unknown as (fields: Record<string, unknown>) => unknown;
  const transfer = frames.transfer as unknown as (fields: Record<string, unknown>) => unknown;
  const disposition = frames.disposition as unknown as (fields: Record<string, unknown>) => unknown;
  return [
    frames.amqp_frame(
      0,
      flow({ next_incoming_id: 1, incoming_window: 2048, next_outgoing_id: 7, outgoing_window: 10 }),
    ),
    frames.amqp_frame(
      3,
      transfer({ handle: 1, delivery_id: 9, delivery_tag: Buffer.from('9'), message_format: 0 }),
      Buffer.alloc(payloadBytes, 0x61),
    ),
    frames.amqp_frame(0, disposition({ role: true, first: 4, last: 6, settled: true })),
    { channel: 0, type: 0x00 }, // an empty frame (heartbeat)
  ];
}

describe('writeFramesTogether', () => {
  for (const [name, payload] of [
    ['small frames', 64],
    ['a round larger than the kept buffer', 200_000],
  ] as const) {
    it(`writes ${name} in one write, with rhea's bytes`, () => {
      const { theirs, ours } = transportPair();
      const a = recorder();
      const b = recorder();
      // The first write carries the protocol header: rhea's own path for both.
      theirs.write(a.socket);
      ours.write(b.socket);
      expect(Buffer.concat(b.writes)).toEqual(Buffer.concat(a.writes));
      a.writes.length = 0;
      b.writes.length = 0;
      for (let round = 0; round < 3; round++) {
        theirs.pending.push(...roundOf(payload));
        ours.pending.push(...roundOf(payload));
        theirs.write(a.socket);
        ours.write(b.socket);
        expect(a.writes).toHaveLength(4 * (round + 1));
        expect(b.writes).toHaveLength(round + 1);
        expect(ours.pending).toHaveLength(0);
      }
      expect(Buffer.concat(b.writes)).toEqual(Buffer.concat(a.writes));
    });
  }

  it('writes nothing for an empty round', () => {
    const { ours } = transportPair();
    const b = recorder();
    ours.write(b.socket); // header
    ours.write(b.socket);
    expect(b.writes).toHaveLength(1);
  });

  it('writes the frames before one it cannot encode and keeps the rest pending', () => {
    const { ours } = transportPair();
    const b = recorder();
    ours.write(b.socket); // header
    b.writes.length = 0;
    const good = roundOf(10);
    const bad = { channel: 0, type: 0x07, performative: {} };
    ours.pending.push(good[0], bad, good[2]);
    expect(() => ours.write(b.socket)).toThrow(/frame type/);
    expect(b.writes).toHaveLength(1);
    expect(ours.pending).toEqual([bad, good[2]]);
  });
});

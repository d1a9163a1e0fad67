// receiveRawTransfers (internal/raw-transfers.ts) on a connection shaped as rhea's: standard-format transfers
// marked, and each transfer handed to the session of its channel as rhea's connection hands it, or left to
// rhea's own handler when no session has that channel. (Real peers exercise it in every transfer test.)
import { describe, expect, it } from 'vitest';
import { RAW_STANDARD_FORMAT, receiveRawTransfers } from '../src/internal/raw-transfers';
import type { RheaConnection } from '../src/internal/rhea-types';

interface Frame {
  channel: number;
  performative: { message_format?: unknown };
}

function connectionWithSessions(channels: number[]) {
  const bySession = new Map<number, Frame[]>();
  const byRhea: Frame[] = [];
  const remote_channel_map: Record<number, { on_transfer(frame: Frame): void }> = {};
  for (const channel of channels) {
    const frames: Frame[] = [];
    bySession.set(channel, frames);
    remote_channel_map[channel] = { on_transfer: (frame) => frames.push(frame) };
  }
  const connection = {
    remote_channel_map,
    on_transfer(frame: Frame) {
      byRhea.push(frame);
    },
  };
  receiveRawTransfers(connection as unknown as RheaConnection);
  return { connection, bySession, byRhea };
}

describe('receiveRawTransfers', () => {
  it("hands each transfer to its channel's session, standard-format ones marked", () => {
    const { connection, bySession, byRhea } = connectionWithSessions([0, 3]);
    const standard = { channel: 3, performative: { message_format: 0 } };
    const other = { channel: 0, performative: { message_format: 7 } };
    const later = { channel: 3, performative: {} };
    for (const frame of [standard, other, later]) connection.on_transfer(frame);
    expect(bySession.get(3)).toEqual([standard, later]);
    expect(bySession.get(0)).toEqual([other]);
    expect(standard.performative.message_format).toBe(RAW_STANDARD_FORMAT);
    expect(other.performative.message_format).toBe(7);
    expect(byRhea).toEqual([]);
  });

  it("leaves a transfer on a channel without a session to rhea's own handler", () => {
    const { connection, bySession, byRhea } = connectionWithSessions([0]);
    const stray = { channel: 5, performative: { message_format: 0 } };
    connection.on_transfer(stray);
    expect(byRhea).toEqual([stray]);
    expect(bySession.get(0)).toEqual([]);
  });
});

/**
 * Encoding: packets -> bytes, and MqttWriter, which writes packets to a stream with batching
 * (cork once per tick, uncork on the next) and reports the stream's back-pressure.
 */
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { generateWithMqttPacket } from './fallback-codec';
import { encodePublish } from './publish-fast-path';
import type { MqttPacket, MqttWriterEvents, ProtocolVersion, WriterOptions } from './types';

/** 64 KiB of bytes queued in the stream before the writer reports itself full. */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 64 * 1024;

/** First byte of PUBACK, PUBREC, PUBREL (its reserved flags are 0b0010) and PUBCOMP. */
const ACK_FIRST_BYTE = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;

/**
 * Encodes one packet. PUBLISH uses the hand-written encoder, and so do the acknowledgements that are only a
 * packet identifier (MQTT 3.1.1; MQTT 5 with reason code 0 and no properties, which may then be left out):
 * one per QoS 1/2 message, and the same bytes as mqtt-packet's. Every other packet goes through mqtt-packet's
 * generate. Throws RangeError for a packet that cannot be encoded.
 */
export function encodePacket(packet: MqttPacket, protocolVersion: ProtocolVersion): Buffer {
  switch (packet.cmd) {
    case 'publish':
      return encodePublish(packet, protocolVersion);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const id = packet.messageId;
      const bare = protocolVersion !== 5 || (packet.reasonCode === 0 && packet.properties === undefined);
      if (!bare || !Number.isInteger(id) || id < 0 || id > 0xffff) break;
      const bytes = Buffer.allocUnsafe(4);
      bytes[0] = ACK_FIRST_BYTE[packet.cmd];
      bytes[1] = 2;
      bytes[2] = id >> 8;
      bytes[3] = id & 0xff;
      return bytes;
    }
  }
  return generateWithMqttPacket(packet, protocolVersion);
}

export class MqttWriter extends EventEmitter<MqttWriterEvents> {
  readonly protocolVersion: ProtocolVersion;
  readonly highWaterMark: number;
  private readonly stream: Writable;
  private corked = false;
  private isFull = false;
  private readonly onFlushed = (): void => {
    if (this.isFull && this.stream.writableLength < this.highWaterMark) {
      this.isFull = false;
      this.emit('drain');
    }
  };

  constructor(stream: Writable, options: WriterOptions) {
    super();
    this.stream = stream;
    this.protocolVersion = options.protocolVersion;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK;
  }

  /** True while the stream holds highWaterMark bytes or more; 'drain' follows when it falls below. */
  get full(): boolean {
    return this.isFull;
  }

  /** Encodes and writes a packet; returns false when the writer is (now) full. Throws RangeError if it cannot be encoded. */
  write(packet: MqttPacket): boolean {
    return this.writeBytes(encodePacket(packet, this.protocolVersion));
  }

  /** Writes an already encoded packet. */
  writeBytes(bytes: Buffer): boolean {
    const stream = this.stream;
    if (stream.destroyed || stream.writableEnded) return false;
    if (!this.corked) {
      this.corked = true;
      stream.cork();
      process.nextTick(MqttWriter.uncork, this);
    }
    stream.write(bytes, this.onFlushed);
    if (stream.writableLength >= this.highWaterMark) this.isFull = true;
    return !this.isFull;
  }

  /** Flushes what is corked now (before ending the stream, for instance). */
  flush(): void {
    if (this.corked) {
      this.corked = false;
      this.stream.uncork();
    }
  }

  /** The uncork a write schedules for the next tick: one function for every writer, given it as argument. */
  private static uncork(writer: MqttWriter): void {
    writer.corked = false;
    if (!writer.stream.destroyed) writer.stream.uncork();
  }
}

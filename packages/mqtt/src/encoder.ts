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

/**
 * Encodes one packet. PUBLISH uses the hand-written encoder (same bytes as mqtt-packet); every other
 * packet mqtt-packet's generate. Throws RangeError for a packet that cannot be encoded.
 */
export function encodePacket(packet: MqttPacket, protocolVersion: ProtocolVersion): Buffer {
  if (packet.cmd === 'publish') return encodePublish(packet, protocolVersion);
  return generateWithMqttPacket(packet, protocolVersion);
}

export class MqttWriter extends EventEmitter<MqttWriterEvents> {
  readonly protocolVersion: ProtocolVersion;
  readonly highWaterMark: number;
  private readonly stream: Writable;
  private corked = false;
  private isFull = false;
  private readonly uncork = (): void => {
    this.corked = false;
    if (!this.stream.destroyed) this.stream.uncork();
  };
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
      process.nextTick(this.uncork);
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
}
